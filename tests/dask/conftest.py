import pytest

pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    """LocalCluster(n_workers=2, threads_per_worker=1) in this process (processes start too
    slowly for a test file's time); the tests run on it as the default scheduler."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def partitioned(X, sizes):
    """X as a dask array with row blocks of the given sizes (zeros allowed)."""
    import dask.array as da
    return da.from_array(X, chunks=(tuple(sizes),) + X.shape[1:])


def partitioned_sparse(X, sizes):
    """X as a CSR matrix in a dask array of scipy.sparse row blocks of the given sizes."""
    import dask.array as da
    from scipy import sparse
    return da.from_array(sparse.csr_matrix(X), chunks=(tuple(sizes), X.shape[1]), asarray=False)
