"""fastml.cluster on sparse X: the compiled CSR core (csr_input and the overloads of
fastml.cluster._kmeans_fast that take it) against the NumPy reference, and KMeans /
kmeans_plusplus on CSR, CSC, COO and the sparse arrays against scikit-learn."""
import functools

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn import cluster as sk
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from fastml.cluster import KMeans, kmeans_plusplus
from fastml.cluster import _kmeans_fast as core
from fastml.reference import kmeans as reference

from .test_kmeans import _assert_elkan_bounds, _clear_assignments, _cluster_sums

# (n_samples, n_features, n_clusters, density): rows without nonzeros (low densities), k
# crossing the kernels' groups of 8 and 64 centers, and several ranges of rows (256 each) and
# k-means++ blocks (1024 rows each) for the larger n.
SPARSE_SHAPES = [(1, 1, 1, 1.0), (7, 3, 7, 0.5), (50, 20, 3, 0.1), (123, 40, 10, 0.05),
                 (300, 17, 9, 0.3), (513, 60, 70, 0.1), (2100, 90, 17, 0.02)]
ALGORITHMS = ["lloyd", "elkan"]


@pytest.fixture(autouse=True)
def _one_thread_by_default():
    """As in test_kmeans.py: threads are tested where they matter, by explicit counts."""
    with threadpool_limits(limits=1):
        yield


def _shape_id(shape):
    return "x".join(map(str, shape))


def _sparse_problem(shape, dtype, weighted, seed=0):
    """Random CSR X (nonnegative and signed values, rows left empty), weights and k distinct
    rows of X as centers (dense)."""
    n, d, k, density = shape
    rng = np.random.default_rng([n, d, k, seed])
    X = sp.random(n, d, density=density, format="csr", dtype=np.float64,
                  random_state=np.random.RandomState(seed),
                  data_rvs=lambda size: rng.normal(size=size))
    X = X.astype(dtype)
    w = (rng.uniform(0.1, 3.0, size=n) if weighted else np.ones(n)).astype(dtype)
    # Distinct rows where there are enough rows with nonzeros (empty rows are all the origin)
    nonempty = np.flatnonzero(X.getnnz(axis=1))
    pool = nonempty if len(nonempty) >= k else np.arange(n)
    init = np.ascontiguousarray(X[rng.choice(pool, size=k, replace=False)].toarray())
    return X, w, init


def _csr(X):
    return core.csr_input(X.data, X.indices, X.indptr, X.shape[1])


def _run_core(X, w, init, algorithm, n_iter, n_threads=1):
    """n_iter iterations of the CSR core from init: (labels, centers before, centers after,
    shifts, changed, bounds) per iteration."""
    Xc = _csr(X)
    n, k = X.shape[0], len(init)
    centers, centers_new = init.copy(), np.empty_like(init)
    labels = np.full(n, -1, dtype=np.int32)
    shift = np.zeros(k)
    if algorithm == "elkan":
        upper, lower = np.empty(n, dtype=X.dtype), np.empty((n, k), dtype=X.dtype)
        core.elkan_init(Xc, w, centers, labels, upper, lower, n_threads)
    steps = []
    for _ in range(n_iter):
        before = labels.copy()
        if algorithm == "elkan":
            changed = core.elkan_iteration(Xc, w, centers, centers_new, labels, upper, lower,
                                           shift, True, n_threads)
            bounds = (upper.copy(), lower.copy())
        else:
            changed = core.lloyd_iteration(Xc, w, centers, centers_new, labels, shift, True,
                                           n_threads)
            bounds = None
        steps.append((before, labels.copy(), centers.copy(), centers_new.copy(), shift.copy(),
                      changed, bounds))
        centers, centers_new = centers_new, centers
    return steps


# ---------------------------------------------------------------------------------------------
# a. The CSR core against the reference

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", SPARSE_SHAPES, ids=_shape_id)
def test_csr_iterations_match_reference_float64(shape, weighted, algorithm):
    X, w, init = _sparse_problem(shape, np.float64, weighted)
    centers = init
    for i, (before, labels, _, new, shift, changed, bounds) in enumerate(
            _run_core(X, w, init, algorithm, 5)):
        ref_labels, ref_centers, ref_shift = reference.lloyd_iteration(X, centers, w)
        assert_array_equal(labels, ref_labels, err_msg=f"iteration {i}")
        assert_allclose(new, ref_centers, rtol=1e-12, atol=1e-12, err_msg=f"iteration {i}")
        assert_allclose(shift, ref_shift, rtol=1e-12, atol=1e-12, err_msg=f"iteration {i}")
        assert changed == np.count_nonzero(labels != before)
        if algorithm == "elkan":
            # |x|^2 - 2 x.c + |c|^2 loses digits next to a center: a looser absolute tolerance
            _assert_elkan_bounds(X.toarray(), labels, new, bounds, 1e-12, 1e-7)
        centers = ref_centers


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", SPARSE_SHAPES, ids=_shape_id)
def test_csr_iterations_match_reference_float32(shape, weighted, algorithm):
    """Each iteration from the core's own centers: labels where the nearest center is clear,
    centers as the weighted means of the clusters the core found (float64 sums)."""
    X, w, init = _sparse_problem(shape, np.float32, weighted)
    X64, w64 = X.toarray().astype(np.float64), w.astype(np.float64)
    k = shape[2]
    for i, (before, labels, centers, new, shift, changed, bounds) in enumerate(
            _run_core(X, w, init, algorithm, 5)):
        centers = centers.astype(np.float64)
        # Sparse rows tie often (rows with few or no nonzeros): labels equal where the nearest
        # center is clear, and elsewhere a center as near as rounding allows.
        clear = _clear_assignments(X64, centers, 1e-5)
        assert clear.any()
        assert_array_equal(labels[clear], reference.assign(X, centers)[clear],
                           err_msg=f"iteration {i}")
        D = cdist(X64, centers, "sqeuclidean")
        scale = (X64 ** 2).sum(axis=1) + (centers ** 2).sum(axis=1).max()
        assert (D[np.arange(len(D)), labels] <= D.min(axis=1) + 1e-5 * scale).all()
        assert changed == np.count_nonzero(labels != before)
        sums, weights = _cluster_sums(X64, w64, labels, k)
        full = weights > 0
        if full.all():  # (a relocated point leaves its cluster's sums, not its label)
            assert_allclose(new, sums / weights[:, None], rtol=1e-6, atol=1e-6)
        for j in np.flatnonzero(~full):  # relocated: a data point
            assert (X64 == new[j]).all(axis=1).any()
        assert_allclose(shift, np.sqrt(((new.astype(np.float64) - centers) ** 2).sum(axis=1)),
                        rtol=1e-12, atol=1e-12)
        if algorithm == "elkan":
            _assert_elkan_bounds(X64, labels, new.astype(np.float64), bounds, 1e-5, 1e-3)


@pytest.mark.parametrize("shape", SPARSE_SHAPES, ids=_shape_id)
def test_csr_and_dense_cores_agree(shape, dtype):
    """The CSR and the dense core label the same points (float64: everywhere; float32: where
    the nearest center is clear), with the same inertia to rounding."""
    X, w, init = _sparse_problem(shape, dtype, weighted=True)
    Xd = X.toarray()
    runs = []
    for XX in (_csr(X), Xd):
        labels = np.full(X.shape[0], -1, dtype=np.int32)
        new = np.empty_like(init)
        core.lloyd_iteration(XX, w, init, new, labels, np.zeros(len(init)), True, 1)
        runs.append((labels, new, core.inertia(XX, w, new, labels, 1)))
    (l_csr, c_csr, i_csr), (l_dense, c_dense, i_dense) = runs
    clear = (np.ones(len(Xd), dtype=bool) if dtype == np.float64
             else _clear_assignments(Xd.astype(np.float64), init.astype(np.float64), 1e-5))
    assert_array_equal(l_csr[clear], l_dense[clear])
    if clear.all():
        rtol = 1e-12 if dtype == np.float64 else 1e-6
        assert_allclose(c_csr, c_dense, rtol=rtol, atol=rtol)
        assert_allclose(i_csr, i_dense, rtol=rtol * 10, atol=rtol)


@pytest.mark.parametrize("shape", SPARSE_SHAPES, ids=_shape_id)
def test_csr_inertia_and_distances_match_reference(shape, dtype):
    X, w, init = _sparse_problem(shape, dtype, weighted=True)
    labels = np.random.default_rng(1).integers(0, len(init), X.shape[0]).astype(np.int32)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(core.inertia(_csr(X), w, init, labels, 1),
                    reference.inertia(X, init, labels, w), rtol=rtol, atol=rtol)
    D = core.distances(_csr(X), init, 2)
    assert D.dtype == dtype and D.shape == (X.shape[0], len(init))
    # the product form next to a center: sqrt of a rounding error
    assert_allclose(D, cdist(X.toarray().astype(np.float64), init.astype(np.float64)),
                    atol=1e-7 if dtype == np.float64 else 2e-3)


@pytest.mark.parametrize("n_local_trials", [1, 5, 17])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", SPARSE_SHAPES, ids=_shape_id)
def test_csr_seeding_matches_reference(shape, weighted, n_local_trials, dtype):
    n, _, k, _ = shape
    X, w, _ = _sparse_problem(shape, dtype, weighted)
    for seed in (0, 1):
        centers, indices = kmeans_plusplus(X, k, sample_weight=w if weighted else None,
                                           random_state=seed, n_local_trials=n_local_trials)
        assert centers.dtype == dtype and isinstance(centers, np.ndarray)
        assert_array_equal(centers, X[indices].toarray())
        # Rows without nonzeros all sit at the origin: a tie in the potentials, which rounding
        # decides. Compared where the problem has few such ties.
        if n_local_trials == 1 or (2 * k <= n and X.getnnz(axis=1).min() > 0):
            _, expected = reference.kmeans_plusplus(X, k, sample_weight=w.astype(np.float64),
                                                    random_state=seed,
                                                    n_local_trials=n_local_trials)
            assert_array_equal(indices, expected)


@pytest.mark.parametrize("shape", [(513, 60, 70, 0.1), (2100, 90, 17, 0.02)], ids=_shape_id)
def test_csr_thread_count_does_not_change_results(shape, dtype):
    X, w, init = _sparse_problem(shape, dtype, weighted=True)
    k = shape[2]
    uniforms = np.random.default_rng(5).uniform(size=(k - 1, 11))
    results = []
    for n_threads in (1, 2, 3):
        indices = core.kmeans_plusplus(_csr(X), w, k, 3, uniforms, n_threads)
        steps = (_run_core(X, w, init, "lloyd", 3, n_threads)
                 + _run_core(X, w, init, "elkan", 3, n_threads))
        arrays = [indices] + [a for s in steps for a in (s[1], s[3], s[4])]
        arrays.append(core.distances(_csr(X), init, n_threads))
        inertia = core.inertia(_csr(X), w, steps[-1][3], steps[-1][1], n_threads)
        results.append(([a.tobytes() for a in arrays], [s[5] for s in steps], inertia))
    assert results[0] == results[1] == results[2]


def test_csr_relocation_of_empty_clusters_matches_reference(dtype):
    # Centers far from all the data leave clusters empty: they take the farthest points.
    X, w, _ = _sparse_problem((300, 17, 9, 0.3), dtype, weighted=True)
    init = np.zeros((6, 17), dtype=dtype)
    init[0, 0] = 0.01
    init[1:, 1:6] = 50 * np.eye(5, dtype=dtype)
    X64 = X.astype(np.float64)
    labels = np.full(300, -1, dtype=np.int32)
    new, shift = np.empty_like(init), np.zeros(6)
    core.lloyd_iteration(_csr(X), w, init, new, labels, shift, True, 1)
    ref_labels, ref_centers, ref_shift = reference.lloyd_iteration(X64, init, w)
    assert_array_equal(labels, ref_labels)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(new, ref_centers, rtol=rtol, atol=rtol)
    assert_allclose(shift, ref_shift, rtol=rtol, atol=rtol)
    assert (np.bincount(ref_labels, minlength=6)[1:] == 0).all()  # the test relocates


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(indptr=a["indptr"][:-1].copy()), "indptr"),
    (lambda a: a["indptr"].__setitem__(0, 1), "indptr"),
    (lambda a: a["indptr"].__setitem__(2, a["indptr"][1] - 1), "indptr"),
    (lambda a: a["indices"].__setitem__(0, 17), "indices must lie"),
    (lambda a: a["indices"].__setitem__(0, -1), "indices must lie"),
    (lambda a: a["indices"].__setitem__(1, a["indices"][0]), "at most once"),
    (lambda a: a.update(data=a["data"][:-1].copy()), "of one length"),
    (lambda a: a.update(n_features=0), "empty"),
])
def test_csr_input_checks(change, match, dtype):
    X = sp.csr_matrix(np.arange(1, 35, dtype=dtype).reshape(2, 17))  # two full rows
    args = dict(data=X.data.copy(), indices=X.indices.copy(), indptr=X.indptr.copy(),
                n_features=17)
    core.csr_input(**args)
    change(args)
    with pytest.raises(ValueError, match=match):
        core.csr_input(**args)


def test_csr_functions_check_their_arguments(dtype):
    X, w, init = _sparse_problem((50, 20, 3, 0.1), dtype, weighted=False)
    Xc = _csr(X)
    labels = np.zeros(50, dtype=np.int32)
    with pytest.raises(ValueError, match="sample_weight"):
        core.inertia(Xc, w[:-1], init, labels, 1)
    with pytest.raises(ValueError, match="centers"):
        narrow = np.ascontiguousarray(init[:, :-1])
        core.lloyd_iteration(Xc, w, narrow, np.empty_like(narrow), labels, np.zeros(3), True, 1)
    with pytest.raises(ValueError, match="labels must lie"):
        core.inertia(Xc, w, init, labels + 3, 1)
    with pytest.raises(TypeError):  # the other dtype's weights: no conversion
        core.inertia(Xc, w.astype(np.float64 if dtype == np.float32 else np.float32), init,
                     labels, 1)


# ---------------------------------------------------------------------------------------------
# b. KMeans on sparse X against scikit-learn

@functools.cache
def _digits():
    return load_digits().data


def _assert_same_fit(ours, theirs, dtype):
    assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.cluster_centers_.dtype == dtype
    # scikit-learn sums float32 data in float32, fastml in float64
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert_allclose(ours.inertia_, theirs.inertia_, rtol=rtol)
    assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol * 10,
                    atol=rtol * 10 * np.abs(theirs.cluster_centers_).max())


def _random_sparse(dtype):
    """A random nonnegative sparse matrix (a few rows empty). Not l2-normalised: rows of norm 1
    drawn as centers are all equally far from the rows that share no column with them, a tie
    that rounding decides (differently in scikit-learn, fastml and the reference)."""
    return sp.random(600, 120, density=0.08, format="csr", random_state=0, dtype=np.float64,
                     data_rvs=lambda size: np.random.default_rng(0).uniform(size=size)).astype(dtype)


INITS = ["k-means++", "random", "array"]


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("data", ["digits", "random"])
def test_sparse_fit_matches_sklearn(data, algorithm, init, dtype):
    X = (sp.csr_matrix(_digits()) if data == "digits" else _random_sparse(np.float64))
    X = X.astype(dtype)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=X.shape[0])
    for n_clusters in (3, 10):
        init_value = (X[np.arange(n_clusters) * 7].toarray() if init == "array" else init)
        for sample_weight in (None, w):
            params = dict(n_clusters=n_clusters, init=init_value, n_init=1, algorithm=algorithm,
                          random_state=0)
            ours = KMeans(**params).fit(X, sample_weight=sample_weight)
            theirs = sk.KMeans(**params).fit(X, sample_weight=sample_weight)
            _assert_same_fit(ours, theirs, dtype)


@pytest.mark.parametrize("convert", [sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array,
                                     sp.coo_array, sp.lil_matrix],
                         ids=lambda c: c.__name__)
def test_other_sparse_formats_fit_as_csr(convert):
    X = _random_sparse(np.float64)
    params = dict(n_clusters=5, random_state=0)
    ours = KMeans(**params).fit(convert(X))
    assert_array_equal(ours.labels_, KMeans(**params).fit(X).labels_)
    _assert_same_fit(ours, sk.KMeans(**params).fit(convert(X)), np.float64)


def test_sparse_predict_transform_score_match_sklearn(dtype):
    X = _random_sparse(dtype)
    ours = KMeans(6, random_state=0).fit(X)
    theirs = sk.KMeans(6, random_state=0).fit(X)
    Q = _random_sparse(dtype)[::3]
    assert_array_equal(ours.predict(Q), theirs.predict(Q))
    T = ours.transform(Q)
    assert T.dtype == dtype and not sp.issparse(T)
    assert_allclose(T, theirs.transform(Q), rtol=1e-5 if dtype == np.float32 else 1e-9,
                    atol=1e-6 if dtype == np.float32 else 1e-7)
    w = np.linspace(0.5, 2, Q.shape[0])
    assert_allclose(ours.score(Q, sample_weight=w), theirs.score(Q, sample_weight=w),
                    rtol=1e-5 if dtype == np.float32 else 1e-10)
    # a model fitted on dense data predicts sparse data as the same data dense
    dense = KMeans(6, random_state=0).fit(X.toarray())
    assert_array_equal(dense.predict(Q), dense.predict(Q.toarray()))
    assert_array_equal(ours.fit_predict(X), theirs.fit_predict(X))


def test_sparse_input_is_not_copied_nor_changed():
    X = _random_sparse(np.float64)
    before = [a.copy() for a in (X.data, X.indices, X.indptr)]
    for copy_x in (True, False):
        KMeans(4, random_state=0, copy_x=copy_x).fit(X)
    for a, b in zip((X.data, X.indices, X.indptr), before):
        assert_array_equal(a, b)
    # read-only arrays (memory-mapped data, say) are taken as they are
    expected = KMeans(4, random_state=0).fit(X)
    for a in (X.data, X.indices, X.indptr):
        a.flags.writeable = False
    ours = KMeans(4, random_state=0).fit(X)
    assert_array_equal(ours.labels_, expected.labels_)
    assert_array_equal(ours.transform(X), expected.transform(X))
    assert_array_equal(ours.predict(X), expected.labels_)


def test_duplicate_entries_are_summed_like_scipy():
    """CSR with every entry stored twice (two halves) clusters as the matrix it stands for."""
    X = _random_sparse(np.float64)
    counts = np.diff(X.indptr)
    rows = np.repeat(np.arange(X.shape[0]), counts)
    first = 2 * X.indptr[rows] + np.arange(X.nnz) - X.indptr[rows]
    second = first + counts[rows]
    data, indices = np.empty(2 * X.nnz), np.empty(2 * X.nnz, dtype=np.int32)
    data[first] = data[second] = X.data / 2
    indices[first] = indices[second] = X.indices
    dup = sp.csr_matrix((data, indices, 2 * X.indptr), shape=X.shape)
    assert not dup.has_canonical_format
    ours = KMeans(4, random_state=0).fit(dup)
    assert_array_equal(ours.labels_, KMeans(4, random_state=0).fit(X).labels_)
    assert_allclose(ours.transform(dup), ours.transform(X), rtol=1e-12, atol=1e-12)
    assert dup.nnz == 2 * X.nnz  # the caller's matrix is left as it was


def test_deterministic_for_any_thread_count_on_sparse(dtype):
    X = sp.random(3000, 80, density=0.05, format="csr", random_state=1, dtype=dtype)
    results = []
    for n_jobs in (1, 2, 3):
        for algorithm in ALGORITHMS:
            km = KMeans(12, algorithm=algorithm, random_state=0, n_jobs=n_jobs).fit(X)
            results.append((algorithm, km.labels_.tobytes(), km.cluster_centers_.tobytes(),
                            km.inertia_, km.n_iter_))
    assert results[0::2] == [results[0]] * 3 and results[1::2] == [results[1]] * 3


def test_sparse_estimator_tags():
    assert KMeans().__sklearn_tags__().input_tags.sparse


def test_sparse_values_whose_squared_distances_overflow_are_rejected():
    X = sp.random(40, 10, density=0.3, format="csr", random_state=0, dtype=np.float32)
    X.data[3] = 1e30
    with pytest.raises(ValueError, match="overflow"):
        KMeans(2, random_state=0).fit(X)
