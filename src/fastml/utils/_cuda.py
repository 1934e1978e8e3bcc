"""CUDA device functions shared by the Numba CUDA kernels (imported by ``_kernels_cuda``
modules only, so that nothing else loads numba.cuda)."""
from numba import cuda


@cuda.jit(device=True)
def block_sum(value, buf):
    """Sum of `value` over the block's threads, returned to every thread. buf is a shared
    array of at least blockDim.x entries; blockDim.x must be a power of two. The summation
    order is fixed, so the result is the same from run to run."""
    tid = cuda.threadIdx.x
    buf[tid] = value
    cuda.syncthreads()
    width = cuda.blockDim.x // 2
    while width > 0:
        if tid < width:
            buf[tid] += buf[tid + width]
        cuda.syncthreads()
        width //= 2
    total = buf[0]
    cuda.syncthreads()
    return total
