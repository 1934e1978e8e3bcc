"""CUDA kernels of the recommenders (Numba), with the drivers of ``_kernels_cpu`` and the same
arguments: the factors are host arrays, copied to the GPU once per fit and back at the end
(``n_threads``, the CPU drivers' thread count, has no use here).

Layout: one thread block per matrix row (user or item), its threads split the factors; dot
products are block reductions in shared memory. State per row (x, r, p, Ap) is kept in shared
memory in float64, whatever the factors' dtype. Tested under NUMBA_ENABLE_CUDASIM=1.
"""
import math

import numpy as np
from numba import config, cuda, float64, int64

from ..utils._cuda import block_sum

__all__ = ["implicit_als", "explicit_als", "sgd", "score_top_k"]

THREADS = 32  # threads per block (one warp); the size of the per-block reduction buffers
# The simulator runs every thread as a Python thread: blocks of 4 keep tests fast, and any power
# of two up to THREADS runs the same code.
_LAUNCH_THREADS = 4 if config.ENABLE_CUDASIM else THREADS
MAX_FACTORS = 512  # shared-memory state per row is sized for this many factors
_GRID = 1024  # blocks: rows are visited with a grid-stride loop
_EPS = 1e-20


def check_factors(n_factors):
    if n_factors > MAX_FACTORS:
        raise ValueError(f"the CUDA kernels support up to {MAX_FACTORS} factors, got {n_factors}")


@cuda.jit(device=True)
def _gram_times(gram, v, out, k):
    """out[f] = (gram @ v)[f] for this thread's factors f."""
    for f in range(cuda.threadIdx.x, k, cuda.blockDim.x):
        s = 0.0
        for g in range(k):
            s += gram[f, g] * v[g]
        out[f] = s


@cuda.jit(device=True)
def _row_dot(Y, i, v, k, buf):
    part = 0.0
    for f in range(cuda.threadIdx.x, k, cuda.blockDim.x):
        part += Y[i, f] * v[f]
    return block_sum(part, buf)


@cuda.jit
def _gram_kernel(A, regularization, out):
    """out = A^T A + regularization * I (float64), one thread per entry."""
    f, g = cuda.grid(2)
    k = A.shape[1]
    if f < k and g < k:
        s = 0.0
        for i in range(A.shape[0]):
            s += A[i, f] * A[i, g]
        out[f, g] = s + (regularization if f == g else 0.0)


@cuda.jit
def _implicit_kernel(indptr, indices, confidence, X, Y, gram, cg_steps, row_loss):
    """Conjugate gradient per row for implicit ALS (as the CPU core's implicit_sweep)."""
    x = cuda.shared.array(MAX_FACTORS, float64)
    r = cuda.shared.array(MAX_FACTORS, float64)
    p = cuda.shared.array(MAX_FACTORS, float64)
    Ap = cuda.shared.array(MAX_FACTORS, float64)
    buf = cuda.shared.array(THREADS, float64)
    tid, width = cuda.threadIdx.x, cuda.blockDim.x
    k = X.shape[1]
    for row in range(cuda.blockIdx.x, X.shape[0], cuda.gridDim.x):
        start, stop = indptr[row], indptr[row + 1]
        for f in range(tid, k, width):
            x[f] = X[row, f] if start < stop else 0.0
        cuda.syncthreads()
        if start < stop:
            _gram_times(gram, x, r, k)
            for f in range(tid, k, width):
                r[f] = -r[f]
            for j in range(start, stop):
                i = indices[j]
                c = confidence[j]
                step = c - (c - 1) * _row_dot(Y, i, x, k, buf)
                for f in range(tid, k, width):
                    r[f] += step * Y[i, f]
            part = 0.0
            for f in range(tid, k, width):
                p[f] = r[f]
                part += r[f] * r[f]
            rs_old = block_sum(part, buf)
            for _ in range(cg_steps):
                if rs_old < _EPS:
                    break
                _gram_times(gram, p, Ap, k)
                for j in range(start, stop):
                    i = indices[j]
                    step = (confidence[j] - 1) * _row_dot(Y, i, p, k, buf)
                    for f in range(tid, k, width):
                        Ap[f] += step * Y[i, f]
                part = 0.0
                for f in range(tid, k, width):
                    part += p[f] * Ap[f]
                alpha = rs_old / block_sum(part, buf)
                part = 0.0
                for f in range(tid, k, width):
                    x[f] += alpha * p[f]
                    r[f] -= alpha * Ap[f]
                    part += r[f] * r[f]
                rs_new = block_sum(part, buf)
                if rs_new >= _EPS:
                    for f in range(tid, k, width):
                        p[f] = r[f] + rs_new / rs_old * p[f]
                cuda.syncthreads()
                rs_old = rs_new if rs_new >= _EPS else 0.0
        for f in range(tid, k, width):
            X[row, f] = x[f]
        if row_loss.shape[0]:
            cuda.syncthreads()
            _gram_times(gram, x, Ap, k)
            part = 0.0
            for f in range(tid, k, width):
                part += x[f] * Ap[f]
            loss = block_sum(part, buf)
            for j in range(start, stop):
                s = _row_dot(Y, indices[j], x, k, buf)
                loss += confidence[j] * (1.0 - s) ** 2 - s * s
            if tid == 0:
                row_loss[row] = loss
        cuda.syncthreads()


@cuda.jit
def _explicit_kernel(indptr, indices, ratings, Y, col_bias, global_mean, regularization,
                     biases, X, row_bias, row_loss, work):
    """Exact least squares per row for explicit ALS (as the CPU core's explicit_sweep). work:
    (gridDim, n, n + 1) float64 scratch holding each block's [A | b]."""
    tid, width = cuda.threadIdx.x, cuda.blockDim.x
    buf = cuda.shared.array(THREADS, float64)
    k = X.shape[1]
    n = k + 1 if biases else k
    A = work[cuda.blockIdx.x]
    for row in range(cuda.blockIdx.x, X.shape[0], cuda.gridDim.x):
        start, stop = indptr[row], indptr[row + 1]
        for e in range(tid, n * (n + 1), width):  # normal equations, one entry per thread
            f, g = e // (n + 1), e % (n + 1)
            s = regularization if f == g else 0.0
            for j in range(start, stop):
                col = indices[j]
                zf = Y[col, f] if f < k else 1.0
                if g == n:
                    t = ratings[j] - (global_mean + col_bias[col] if biases else 0.0)
                    s += t * zf
                else:
                    s += zf * (Y[col, g] if g < k else 1.0)
            A[f, g] = s
        cuda.syncthreads()
        for j in range(n):  # Cholesky, column by column; the column below in parallel
            if tid == 0:
                d = A[j, j]
                for m in range(j):
                    d -= A[j, m] * A[j, m]
                A[j, j] = math.sqrt(d)
            cuda.syncthreads()
            for i in range(j + 1 + tid, n, width):
                s = A[i, j]
                for m in range(j):
                    s -= A[i, m] * A[j, m]
                A[i, j] = s / A[j, j]
            cuda.syncthreads()
        if tid == 0:  # the two triangular solves, on b = A[:, n]
            for i in range(n):
                s = A[i, n]
                for m in range(i):
                    s -= A[i, m] * A[m, n]
                A[i, n] = s / A[i, i]
            for i in range(n - 1, -1, -1):
                s = A[i, n]
                for m in range(i + 1, n):
                    s -= A[m, i] * A[m, n]
                A[i, n] = s / A[i, i]
        cuda.syncthreads()
        for f in range(tid, k, width):
            X[row, f] = A[f, n]
        if tid == 0:
            row_bias[row] = A[k, n] if biases else 0.0
        if row_loss.shape[0]:
            part = 0.0
            for f in range(tid, n, width):
                part += A[f, n] * A[f, n]
            loss = regularization * block_sum(part, buf)
            for j in range(start, stop):
                col = indices[j]
                part = 0.0
                for f in range(tid, k, width):
                    part += Y[col, f] * A[f, n]
                e = ratings[j] - block_sum(part, buf) - (A[k, n] if biases else 0.0)
                if biases:
                    e -= global_mean + col_bias[col]
                loss += e * e
            if tid == 0:
                row_loss[row] = loss
        cuda.syncthreads()


@cuda.jit(device=True)
def _sgd_step(X, Y, user_bias, item_bias, u, i, e, learning_rate, regularization, biases):
    """One SGD update of the biases and factors of user u and item i, given the rating's error
    e (the step of the CPU core's sgd_epoch)."""
    if biases:
        user_bias[u] += learning_rate * (e - regularization * user_bias[u])
        item_bias[i] += learning_rate * (e - regularization * item_bias[i])
    for f in range(X.shape[1]):
        xf = X[u, f]
        X[u, f] += learning_rate * (e * Y[i, f] - regularization * xf)
        Y[i, f] += learning_rate * (e * xf - regularization * Y[i, f])


@cuda.jit
def _sgd_kernel(users, items, ratings, order, X, Y, user_bias, item_bias, global_mean,
                learning_rate, regularization, biases):
    """One epoch of lock-free (Hogwild) SGD: each thread takes ratings in the shuffled order.
    Concurrent updates of a row may interleave, so results vary from run to run."""
    k = X.shape[1]
    for j in range(cuda.grid(1), order.shape[0], cuda.gridsize(1)):
        index = order[j]
        u, i = users[index], items[index]
        s = 0.0
        for f in range(k):
            s += X[u, f] * Y[i, f]
        e = ratings[index] - (global_mean + user_bias[u] + item_bias[i] + s)
        _sgd_step(X, Y, user_bias, item_bias, u, i, e, learning_rate, regularization, biases)


@cuda.jit
def _errors_kernel(users, items, ratings, X, Y, user_bias, item_bias, global_mean, out):
    for j in range(cuda.grid(1), ratings.shape[0], cuda.gridsize(1)):
        u, i = users[j], items[j]
        s = 0.0
        for f in range(X.shape[1]):
            s += X[u, f] * Y[i, f]
        e = ratings[j] - (global_mean + user_bias[u] + item_bias[i] + s)
        out[j] = e * e


@cuda.jit
def _top_k_kernel(U, Y, row_offset, item_bias, seen_indptr, seen_indices, scores, items_out,
                  scores_out):
    """Scores of a block of rows, the seen items excluded, then k rounds of a block-wide
    argmax (ties to the lower index); as the CPU core's top_k after the product."""
    best_value = cuda.shared.array(THREADS, float64)
    best_item = cuda.shared.array(THREADS, int64)
    tid, width = cuda.threadIdx.x, cuda.blockDim.x
    n_items, k = Y.shape[0], items_out.shape[1]
    for row in range(cuda.blockIdx.x, U.shape[0], cuda.gridDim.x):
        for item in range(tid, n_items, width):
            s = row_offset[row] + item_bias[item]
            for f in range(U.shape[1]):
                s += U[row, f] * Y[item, f]
            scores[row, item] = s
        cuda.syncthreads()
        for j in range(seen_indptr[row] + tid, seen_indptr[row + 1], width):
            scores[row, seen_indices[j]] = -math.inf
        cuda.syncthreads()
        for slot in range(k):
            value, best = -math.inf, -1
            for item in range(tid, n_items, width):
                s = scores[row, item]
                if s > value:  # items rise, so on equal scores the first (lower) one stays
                    value, best = s, item
            best_value[tid], best_item[tid] = value, best
            cuda.syncthreads()
            step = width // 2
            while step > 0:
                if tid < step:
                    v, b = best_value[tid + step], best_item[tid + step]
                    if b >= 0 and (v > best_value[tid] or (v == best_value[tid] and (
                            best_item[tid] < 0 or b < best_item[tid]))):
                        best_value[tid], best_item[tid] = v, b
                cuda.syncthreads()
                step //= 2
            if tid == 0:
                b = best_item[0]
                items_out[row, slot] = b
                scores_out[row, slot] = best_value[0] if b >= 0 else -math.inf
                if b >= 0:
                    scores[row, b] = -math.inf
            cuda.syncthreads()


def _gram(d_A, regularization):
    k = d_A.shape[1]
    out = cuda.device_array((k, k), np.float64)
    side = 2 if config.ENABLE_CUDASIM else 16
    blocks = (k + side - 1) // side
    _gram_kernel[(blocks, blocks), (side, side)](d_A, regularization, out)
    return out


def _grid(n_rows):
    return min(_GRID, max(1, n_rows))


def _csr_to_device(M):
    return (cuda.to_device(M.indptr.astype(np.int64)), cuda.to_device(M.indices.astype(np.int64)),
            cuda.to_device(M.data))


def implicit_als(Cu, Ci, X, Y, regularization, n_iter, cg_steps, progress, n_threads):
    check_factors(X.shape[1])
    steps = cg_steps or X.shape[1]  # "exact": CG converges in n_factors steps
    users, items = _csr_to_device(Cu), _csr_to_device(Ci)
    d_X, d_Y = cuda.to_device(X), cuda.to_device(Y)
    no_loss = cuda.device_array(0, np.float64)
    row_loss = cuda.device_array(Y.shape[0], np.float64)
    losses = []
    for iteration in range(n_iter):
        gram_Y = _gram(d_Y, regularization)
        _implicit_kernel[_grid(X.shape[0]), _LAUNCH_THREADS](*users, d_X, d_Y, gram_Y, steps,
                                                              no_loss)
        gram_X = _gram(d_X, regularization)
        _implicit_kernel[_grid(Y.shape[0]), _LAUNCH_THREADS](*items, d_Y, d_X, gram_X, steps,
                                                              row_loss)
        squared_X = float(np.trace(gram_X.copy_to_host())) - regularization * X.shape[1]
        losses.append(float(row_loss.copy_to_host().sum()) + regularization * squared_X)
        progress(iteration, losses[-1])
    X[:], Y[:] = d_X.copy_to_host(), d_Y.copy_to_host()
    return losses


def explicit_als(Ru, Ri, X, Y, user_bias, item_bias, global_mean, regularization, n_iter,
                 biases, progress, n_threads):
    check_factors(X.shape[1])
    users, items = _csr_to_device(Ru), _csr_to_device(Ri)
    d_X, d_Y = cuda.to_device(X), cuda.to_device(Y)
    d_user_bias, d_item_bias = cuda.to_device(user_bias), cuda.to_device(item_bias)
    n = X.shape[1] + 1
    no_loss = cuda.device_array(0, np.float64)
    row_loss = cuda.device_array(Y.shape[0], np.float64)
    losses = []
    for iteration in range(n_iter):
        for side, rows, M, other, bias, other_bias, loss in (
                (users, X.shape[0], d_X, d_Y, d_user_bias, d_item_bias, no_loss),
                (items, Y.shape[0], d_Y, d_X, d_item_bias, d_user_bias, row_loss)):
            grid = _grid(rows)
            work = cuda.device_array((grid, n, n + 1), np.float64)
            _explicit_kernel[grid, _LAUNCH_THREADS](*side, other, other_bias, global_mean,
                                            regularization, biases, M, bias, loss, work)
        X_host, bias_host = d_X.copy_to_host(), d_user_bias.copy_to_host()
        losses.append(float(row_loss.copy_to_host().sum()) + regularization * (
            float(np.vdot(X_host, X_host)) + float(np.vdot(bias_host, bias_host))))
        progress(iteration, losses[-1])
    X[:], Y[:] = d_X.copy_to_host(), d_Y.copy_to_host()
    user_bias[:], item_bias[:] = d_user_bias.copy_to_host(), d_item_bias.copy_to_host()
    return losses


def sgd(users, items, ratings, X, Y, user_bias, item_bias, global_mean, learning_rate,
        regularization, n_iter, biases, rng, progress, n_threads):
    d_users, d_items, d_ratings = (cuda.to_device(a) for a in (users, items, ratings))
    d_X, d_Y = cuda.to_device(X), cuda.to_device(Y)
    d_user_bias, d_item_bias = cuda.to_device(user_bias), cuda.to_device(item_bias)
    errors = cuda.device_array(len(ratings), np.float64)
    blocks = min(_GRID, (len(ratings) + _LAUNCH_THREADS - 1) // _LAUNCH_THREADS)
    losses = []
    for iteration in range(n_iter):
        order = cuda.to_device(rng.permutation(len(ratings)).astype(np.int64))
        _sgd_kernel[blocks, _LAUNCH_THREADS](d_users, d_items, d_ratings, order, d_X, d_Y,
                                              d_user_bias, d_item_bias, global_mean,
                                              learning_rate, regularization, biases)
        _errors_kernel[blocks, _LAUNCH_THREADS](d_users, d_items, d_ratings, d_X, d_Y,
                                                 d_user_bias, d_item_bias, global_mean, errors)
        parts = [a.copy_to_host() for a in (d_X, d_Y, d_user_bias, d_item_bias)]
        losses.append(float(errors.copy_to_host().sum()) + regularization * sum(
            float(np.vdot(a, a)) for a in parts))
        progress(iteration, losses[-1])
    X[:], Y[:] = d_X.copy_to_host(), d_Y.copy_to_host()
    user_bias[:], item_bias[:] = d_user_bias.copy_to_host(), d_item_bias.copy_to_host()
    return losses


def score_top_k(U, Y, row_offset, item_bias, seen_indptr, seen_indices, k, batch_rows,
                n_threads):
    n_rows = U.shape[0]
    items = np.empty((n_rows, k), np.int64)
    scores = np.empty((n_rows, k), Y.dtype)
    d_Y, d_item_bias = cuda.to_device(Y), cuda.to_device(item_bias)
    for start in range(0, n_rows, batch_rows):
        stop = min(start + batch_rows, n_rows)
        indptr = seen_indptr[start:stop + 1] - seen_indptr[start]
        block_items = cuda.device_array((stop - start, k), np.int64)
        block_scores = cuda.device_array((stop - start, k), np.float64)
        _top_k_kernel[_grid(stop - start), _LAUNCH_THREADS](
            cuda.to_device(np.ascontiguousarray(U[start:stop])), d_Y,
            cuda.to_device(row_offset[start:stop]), d_item_bias, cuda.to_device(indptr),
            cuda.to_device(np.ascontiguousarray(
                seen_indices[seen_indptr[start]:seen_indptr[stop]])),
            cuda.device_array((stop - start, Y.shape[0]), np.float64), block_items,
            block_scores)
        items[start:stop] = block_items.copy_to_host()
        scores[start:stop] = block_scores.copy_to_host()
    return items, scores
