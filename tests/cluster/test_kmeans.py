"""fastml.cluster: the compiled k-means core (fastml.cluster._kmeans_fast) against the NumPy
reference, and KMeans / kmeans_plusplus against scikit-learn."""
import functools
import pickle
import sys
from collections import namedtuple

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse import csr_matrix
from scipy.spatial.distance import cdist
from sklearn import cluster as sk
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from fastml.cluster import KMeans, kmeans_plusplus
from fastml.cluster import _kmeans_fast as core
from fastml.reference import kmeans as reference

# (n_samples, n_features, n_clusters): n never a multiple of 16, one to 70 features, one to 70
# clusters, k == n included, and several point blocks / ranges of the core for the larger n.
CORE_SHAPES = [(1, 1, 1), (7, 1, 7), (50, 2, 3), (70, 2, 70), (33, 33, 33), (123, 3, 10),
               (255, 16, 16), (513, 33, 40), (1001, 70, 9), (2999, 16, 70), (3001, 1, 17)]
LARGE_SHAPES = [(513, 33, 40), (1001, 70, 9), (2999, 16, 70), (3001, 1, 17)]
ALGORITHMS = ["lloyd", "elkan"]


@pytest.fixture(autouse=True)
def _one_thread_by_default():
    """scikit-learn and fastml load separate OpenMP runtimes, whose idle threads spin while the
    other works: under pytest -n on few cores that multiplies run times. Threads are tested
    where they matter, by explicit n_threads / n_jobs."""
    with threadpool_limits(limits=1):
        yield


def _shape_id(shape):
    return "x".join(map(str, shape))


def _problem(shape, dtype, weighted, seed=0):
    """Standard normal X, weights (ones unless weighted) and k distinct rows of X as centers."""
    n, d, k = shape
    rng = np.random.default_rng([n, d, k, seed])
    X = rng.normal(size=(n, d)).astype(dtype)
    w = (rng.uniform(0.1, 3.0, size=n) if weighted else np.ones(n)).astype(dtype)
    init = np.ascontiguousarray(X[rng.choice(n, size=k, replace=False)])
    return X, w, init


Step = namedtuple("Step", "before labels centers new shift changed bounds")


def _run_core(X, w, init, algorithm, n_iter, n_threads=1):
    """n_iter iterations of the compiled core from init, chained as KMeans chains them."""
    n, k = len(X), len(init)
    centers, centers_new = init.copy(), np.empty_like(init)
    labels = np.full(n, -1, dtype=np.int32)
    shift = np.zeros(k)
    if algorithm == "elkan":
        upper, lower = np.empty(n, dtype=X.dtype), np.empty((n, k), dtype=X.dtype)
        core.elkan_init(X, w, centers, labels, upper, lower, n_threads)
    steps = []
    for _ in range(n_iter):
        before = labels.copy()
        if algorithm == "elkan":
            changed = core.elkan_iteration(X, w, centers, centers_new, labels, upper, lower,
                                           shift, True, n_threads)
            bounds = (upper.copy(), lower.copy())
        else:
            changed = core.lloyd_iteration(X, w, centers, centers_new, labels, shift, True,
                                           n_threads)
            bounds = None
        steps.append(Step(before, labels.copy(), centers.copy(), centers_new.copy(),
                          shift.copy(), changed, bounds))
        centers, centers_new = centers_new, centers
    return steps


def _clear_assignments(X, centers, rtol):
    """Rows of X whose nearest center is clear: the two smallest squared distances differ by more
    than rtol times the magnitudes that |c|^2 - 2 x.c (the core's key) is computed from."""
    if len(centers) == 1:
        return np.ones(len(X), dtype=bool)
    D = np.partition(cdist(X, centers, "sqeuclidean"), 1, axis=1)
    scale = (X ** 2).sum(axis=1) + (centers ** 2).sum(axis=1).max() + D[:, 1]
    return D[:, 1] - D[:, 0] > rtol * scale


def _assert_elkan_bounds(X, labels, centers, bounds, rtol, atol):
    """Elkan's invariants for the new centers: upper >= distance to the own center, lower[:, j]
    <= distance to center j."""
    upper, lower = (b.astype(np.float64) for b in bounds)
    D = cdist(X, centers, "euclidean")
    assert (upper >= D[np.arange(len(X)), labels] * (1 - rtol) - atol).all()
    assert (lower <= D * (1 + rtol) + atol).all()
    assert (lower >= 0).all()


# ---------------------------------------------------------------------------------------------
# a. The compiled core against the reference: Lloyd and Elkan iterations

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", CORE_SHAPES, ids=_shape_id)
def test_iterations_match_reference_float64(shape, weighted, algorithm):
    X, w, init = _problem(shape, np.float64, weighted)
    steps = _run_core(X, w, init, algorithm, 5)
    centers = init  # the reference runs its own chain from the same initial centers
    for i, step in enumerate(steps):
        labels, new_centers, shift = reference.lloyd_iteration(X, centers, w)
        assert_array_equal(step.labels, labels, err_msg=f"iteration {i}")
        assert_allclose(step.new, new_centers, rtol=1e-12, atol=1e-12, err_msg=f"iteration {i}")
        assert_allclose(step.shift, shift, rtol=1e-12, atol=1e-12, err_msg=f"iteration {i}")
        assert step.changed == np.count_nonzero(step.labels != step.before)
        if algorithm == "elkan":
            _assert_elkan_bounds(X, step.labels, step.new, step.bounds, 1e-12, 1e-12)
        centers = new_centers
    # The first Lloyd pass starts from labels -1: every label counts as changed.
    if algorithm == "lloyd":
        assert steps[0].changed == shape[0]


def _cluster_sums(X, w, labels, k):
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, w[:, None] * X)
    return sums, np.bincount(labels, weights=w, minlength=k)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", CORE_SHAPES, ids=_shape_id)
def test_iterations_match_reference_float32(shape, weighted, algorithm):
    """float32 distances round differently from the float64 reference: each iteration is
    compared from the core's own centers, the labels wherever the nearest center is clear."""
    X, w, init = _problem(shape, np.float32, weighted)
    X64, w64 = X.astype(np.float64), w.astype(np.float64)
    k = shape[2]
    for i, step in enumerate(_run_core(X, w, init, algorithm, 5)):
        centers = step.centers.astype(np.float64)
        clear = _clear_assignments(X64, centers, 1e-5)
        assert clear.mean() > 0.99
        assert_array_equal(step.labels[clear], reference.assign(X64, centers)[clear],
                           err_msg=f"iteration {i}")
        assert step.changed == np.count_nonzero(step.labels != step.before)
        # The new centers: the weighted means of the clusters as the core labelled them.
        sums, weights = _cluster_sums(X64, w64, step.labels, k)
        full = weights > 0
        assert_allclose(step.new[full], sums[full] / weights[full, None], rtol=1e-6, atol=1e-6)
        for j in np.flatnonzero(~full):  # relocated: a data point
            assert (X == step.new[j]).all(axis=1).any()
        new = step.new.astype(np.float64)
        assert_allclose(step.shift, np.sqrt(((new - centers) ** 2).sum(axis=1)), rtol=1e-12,
                        atol=1e-12)
        if algorithm == "elkan":
            _assert_elkan_bounds(X64, step.labels, new, step.bounds, 1e-5, 1e-6)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_update_centers_false_only_labels(dtype, algorithm):
    X, w, init = _problem((300, 5, 6), dtype, weighted=True)
    labels = np.full(300, -1, dtype=np.int32)
    centers_new = np.full_like(init, np.nan)
    shift = np.full(6, np.nan)
    if algorithm == "elkan":
        upper, lower = np.empty(300, dtype=dtype), np.empty((300, 6), dtype=dtype)
        core.elkan_init(X, w, init, labels, upper, lower, 1)
        labels[:10] = (labels[:10] + 1) % 6  # stale labels that the pass must correct
        upper[:10] = np.inf
        changed = core.elkan_iteration(X, w, init, centers_new, labels, upper, lower, shift,
                                       False, 1)
        assert changed == 10
    else:
        assert core.lloyd_iteration(X, w, init, centers_new, labels, shift, False, 1) == 300
        assert core.lloyd_iteration(X, w, init, centers_new, labels, shift, False, 1) == 0
    clear = _clear_assignments(X.astype(np.float64), init.astype(np.float64), 1e-5)
    assert_array_equal(labels[clear], reference.assign(X, init)[clear])
    assert np.isnan(centers_new).all() and np.isnan(shift).all()  # untouched


# X = 0, 1, 3, 10 (one feature); centers 1, 100, -100: every point goes to center 0, clusters 1
# and 2 are empty and take the farthest points (10, then 3).
RELOCATION_X = np.array([[0.0], [1.0], [3.0], [10.0]])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_relocation_by_hand(dtype, algorithm):
    X = RELOCATION_X.astype(dtype)
    init = np.array([[1.0], [100.0], [-100.0]], dtype=dtype)
    step = _run_core(X, np.ones(4, dtype=dtype), init, algorithm, 1)[0]
    assert_array_equal(step.labels, [0, 0, 0, 0])  # relocation does not change the labels
    assert_array_equal(step.new, [[0.5], [10.0], [3.0]])
    assert_allclose(step.shift, [0.5, 90.0, 103.0], rtol=1e-15)
    w = np.array([1.0, 2.0, 1.0, 0.5], dtype=dtype)
    step = _run_core(X, w, init[:2].copy(), algorithm, 1)[0]
    # Cluster 0 keeps (0 + 2 + 3) / 4 = 1.25; cluster 1 takes x = 10.
    assert_array_equal(step.new, [[1.25], [10.0]])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_relocation_matches_reference(dtype, weighted, algorithm):
    X, w, _ = _problem((300, 4, 1), dtype, weighted, seed=7)
    X64, w64 = X.astype(np.float64), w.astype(np.float64)
    init = X[:6].copy()
    init[2], init[5] = 1e3, -1e3  # far from every point: clusters 2 and 5 come out empty
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    steps = _run_core(X, w, init, algorithm, 3)
    assert not np.isin(steps[0].labels, [2, 5]).any()
    # The two farthest points from their centers, farthest first, moved to clusters 2 and 5.
    dist = ((X64 - steps[0].centers.astype(np.float64)[steps[0].labels]) ** 2).sum(axis=1)
    farthest = np.argsort(-dist, kind="stable")[:2]
    assert_allclose(steps[0].new[[2, 5]], X[farthest], rtol=1e-15)  # (w x) / w: rounded
    for i, step in enumerate(steps):
        labels, new_centers, shift = reference.lloyd_iteration(
            X64, step.centers.astype(np.float64), w64)
        assert_array_equal(step.labels, labels, err_msg=f"iteration {i}")
        assert_allclose(step.new, new_centers, rtol=rtol, atol=rtol, err_msg=f"iteration {i}")
        assert_allclose(step.shift, shift, rtol=rtol, atol=rtol, err_msg=f"iteration {i}")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_relocation_when_every_point_sits_on_its_center(dtype, algorithm):
    # Three distinct points, five centers: 3 and 4 duplicate center 2 and stay empty.
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]], 4, axis=0).astype(dtype)
    init = X[[4, 8, 0, 0, 0]].copy()
    step = _run_core(X, np.ones(12, dtype=dtype), init, algorithm, 1)[0]
    labels, new_centers, shift = reference.lloyd_iteration(X, init)
    assert_array_equal(step.labels, labels)
    assert_array_equal(step.labels, np.repeat([2, 0, 1], 4))
    assert_array_equal(step.new[:3], init[:3])  # nothing was taken from the full clusters
    assert_array_equal(step.new, new_centers)
    assert_allclose(step.shift, shift, rtol=1e-15)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_more_centers_than_points_matches_reference(dtype, algorithm):
    X = np.array([[0.0, 1.0], [2.0, 0.5], [4.0, 4.0]], dtype=dtype)
    init = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [-9.0, 9.0], [3.0, 3.0]], dtype=dtype)
    for step in _run_core(X, np.ones(3, dtype=dtype), init, algorithm, 3):
        labels, new_centers, shift = reference.lloyd_iteration(X, step.centers)
        assert_array_equal(step.labels, labels)
        assert_allclose(step.new, new_centers, rtol=1e-6, atol=1e-6)
        assert_allclose(step.shift, shift, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", CORE_SHAPES, ids=_shape_id)
def test_inertia_matches_reference(shape, dtype):
    X, w, init = _problem(shape, dtype, weighted=True)
    labels = np.random.default_rng(1).integers(0, shape[2], size=shape[0]).astype(np.int32)
    got = core.inertia(X, w, init, labels, 1)
    assert isinstance(got, float)
    # Squared distances are summed in float64 for either dtype.
    assert_allclose(got, reference.inertia(X.astype(np.float64), init.astype(np.float64), labels,
                                           w.astype(np.float64)), rtol=1e-12, atol=1e-300)
    assert core.inertia(X, w, init, reference.assign(X, init), 1) <= got * (1 + 1e-6)


# ---------------------------------------------------------------------------------------------
# a. k-means++ seeding against the reference

def _assert_same_seeds(X, w, n_clusters, n_local_trials, seed, got, rtol):
    """got equals the reference's indices for the same seed, except from a step where two
    candidates leave (nearly) the same potential: then got must be one of those candidates.
    Exact ties are common once most points are centers (k close to n): two unchosen points that
    are each other's nearest leave the same potential whichever is taken."""
    _, expected = reference.kmeans_plusplus(X, n_clusters, sample_weight=w, random_state=seed,
                                            n_local_trials=n_local_trials)
    mismatch = np.flatnonzero(got != expected)
    if not len(mismatch):
        return
    c = mismatch[0]
    assert c > 0, "the first center is drawn from the random stream alone"
    # Replay the stream up to step c: the candidates drawn there and the potential each leaves.
    random_state = check_random_state(seed)
    random_state.choice(len(X), p=w / w.sum())
    uniforms = random_state.uniform(size=(n_clusters - 1, n_local_trials))
    D = cdist(X, X[expected[:c]], "sqeuclidean").min(axis=1)
    candidates = np.minimum(np.searchsorted(np.cumsum(w * D), uniforms[c - 1] * (w * D).sum()),
                            len(X) - 1)
    potentials = {j: (w * np.minimum(D, cdist(X, X[[j]], "sqeuclidean")[:, 0])).sum()
                  for j in candidates}
    assert got[c] in potentials, f"step {c}: {got[c]} was not drawn"
    assert potentials[got[c]] <= potentials[expected[c]] * (1 + rtol), f"step {c}: no tie"


@pytest.mark.parametrize("n_local_trials", [1, 9, 17])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", CORE_SHAPES, ids=_shape_id)
def test_seeding_matches_reference(shape, weighted, n_local_trials, dtype):
    n, _, k = shape
    X, w, _ = _problem(shape, dtype, weighted)
    X64, w64 = X.astype(np.float64), w.astype(np.float64)
    for seed in (0, 1):
        centers, indices = kmeans_plusplus(X, k, sample_weight=w if weighted else None,
                                           random_state=seed, n_local_trials=n_local_trials)
        assert centers.dtype == dtype and indices.dtype == np.int64
        assert_array_equal(centers, X[indices])
        assert len(np.unique(indices)) == k
        if n_local_trials == 1 or 2 * k <= n:  # no candidates with tied potentials
            _, expected = reference.kmeans_plusplus(X64, k, sample_weight=w64, random_state=seed,
                                                    n_local_trials=n_local_trials)
            assert_array_equal(indices, expected)
        else:
            _assert_same_seeds(X64, w64, k, n_local_trials, seed, indices,
                               1e-9 if dtype == np.float64 else 1e-5)


def test_seeding_consumes_the_random_stream_like_the_reference():
    X, _, _ = _problem((200, 3, 1), np.float64, weighted=False)
    ours, theirs = np.random.RandomState(7), np.random.RandomState(7)
    for k in (1, 5, 12):
        _, indices = kmeans_plusplus(X, k, random_state=ours, n_local_trials=9)
        _, expected = reference.kmeans_plusplus(X, k, random_state=theirs, n_local_trials=9)
        assert_array_equal(indices, expected)
    assert ours.uniform() == theirs.uniform()


def test_seeding_direct_call_and_zero_weights(dtype):
    X, w, _ = _problem((500, 4, 1), dtype, weighted=True)
    w[::3] = 0  # a third of the points can never be chosen
    uniforms = np.random.default_rng(3).uniform(size=(29, 17))
    for first in (1, 499):
        indices = core.kmeans_plusplus(X, w, 30, first, uniforms, 1)
        assert indices.dtype == np.int64 and indices.shape == (30,)
        assert indices[0] == first
        assert (indices[1:] % 3 != 0).all()
        assert len(np.unique(indices)) == 30


def test_seeding_with_fewer_distinct_points_than_centers():
    # The potential reaches 0 after three centers; the rest are drawn as scikit-learn draws them.
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]], 4, axis=0)
    for seed in range(3):
        _, indices = kmeans_plusplus(X, 5, random_state=seed)
        _, expected = reference.kmeans_plusplus(X, 5, random_state=seed)
        assert_array_equal(indices, expected)
        assert len(np.unique(X[indices], axis=0)) == 3


@pytest.mark.parametrize("shape", LARGE_SHAPES, ids=_shape_id)
def test_thread_count_does_not_change_results(shape, dtype):
    X, w, init = _problem(shape, dtype, weighted=True)
    k = shape[2]
    uniforms = np.random.default_rng(5).uniform(size=(k - 1, 11))
    results = []
    for n_threads in (1, 2, 3):
        indices = core.kmeans_plusplus(X, w, k, 3, uniforms, n_threads)
        steps = _run_core(X, w, init, "lloyd", 3, n_threads) + _run_core(X, w, init, "elkan", 3,
                                                                         n_threads)
        arrays = [indices] + [a for s in steps for a in (s.labels, s.new, s.shift)]
        inertia = core.inertia(X, w, steps[-1].new, steps[-1].labels, n_threads)
        results.append(([a.tobytes() for a in arrays], [s.changed for s in steps], inertia))
    assert results[0] == results[1] == results[2]


def test_repeated_calls_do_not_leak_references(dtype):
    X, w, init = _problem((300, 5, 6), dtype, weighted=True)
    centers_new, labels, shift = np.empty_like(init), np.zeros(300, dtype=np.int32), np.zeros(6)
    upper, lower = np.empty(300, dtype=dtype), np.empty((300, 6), dtype=dtype)
    uniforms = np.random.default_rng(0).uniform(size=(5, 3))
    arrays = [X, w, init, centers_new, labels, shift, upper, lower, uniforms]
    before = [sys.getrefcount(a) for a in arrays]
    for _ in range(30):
        indices = core.kmeans_plusplus(X, w, 6, 0, uniforms, 1)
        assert sys.getrefcount(indices) == 2
        panels = core.pack_point_panels(X, 1)
        assert sys.getrefcount(panels) == 2
        core.lloyd_iteration(X, w, init, centers_new, labels, shift, True, 1)
        core.lloyd_iteration(X, w, init, centers_new, labels, shift, True, 1, panels)
        core.elkan_init(X, w, init, labels, upper, lower, 1)
        core.elkan_iteration(X, w, init, centers_new, labels, upper, lower, shift, True, 1)
        core.inertia(X, w, init, labels, 1)
        with pytest.raises(ValueError):
            core.inertia(X, w, init, labels, 0)
        with pytest.raises(TypeError):
            core.inertia(X, w.astype(np.float16), init, labels, 1)
    assert [sys.getrefcount(a) for a in arrays] == before


# ---------------------------------------------------------------------------------------------
# b. The core's entry checks: clear errors, never a crash, outputs untouched

SIGNATURES = {
    "kmeans_plusplus": ["X", "sample_weight", "n_clusters", "first", "uniforms", "n_threads"],
    "lloyd_iteration": ["X", "sample_weight", "centers", "centers_new", "labels", "center_shift",
                        "update_centers", "n_threads", "X_panels"],
    "pack_point_panels": ["X", "n_threads"],
    "elkan_init": ["X", "sample_weight", "centers", "labels", "upper_bounds", "lower_bounds",
                   "n_threads"],
    "elkan_iteration": ["X", "sample_weight", "centers", "centers_new", "labels", "upper_bounds",
                        "lower_bounds", "center_shift", "update_centers", "n_threads"],
    "inertia": ["X", "sample_weight", "centers", "labels", "n_threads"],
}
N, D, K = 20, 3, 4


def _valid_arguments(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(dtype)
    return {"X": X, "sample_weight": np.ones(N, dtype=dtype), "centers": X[:K].copy(),
            "centers_new": np.full((K, D), -7, dtype=dtype),
            "labels": np.arange(N, dtype=np.int32) % K, "center_shift": np.full(K, -7.0),
            "upper_bounds": np.full(N, 1e9, dtype=dtype),
            "lower_bounds": np.zeros((N, K), dtype=dtype),
            "uniforms": rng.uniform(size=(K - 1, 3)), "n_clusters": K, "first": 0,
            "n_threads": 1, "update_centers": True, "X_panels": core.pack_point_panels(X, 1)}


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _with(name, **changes):
    """A change of the valid arguments, named for the test id."""
    def change(args):
        return {**args, **{k: (f(args) if callable(f) else f) for k, f in changes.items()}}
    change.__name__ = name
    return change


WEIGHTED = [function for function, params in SIGNATURES.items() if "sample_weight" in params]
BAD_ARGUMENTS = [
    # (functions, change to the valid arguments, exception, message)
    (list(SIGNATURES), _with("X 1d", X=lambda a: a["X"][:, 0].copy()), ValueError,
     "X must be 2-dimensional"),
    (list(SIGNATURES), _with("X 3d", X=lambda a: a["X"][None]), ValueError,
     "X must be 2-dimensional"),
    (WEIGHTED, _with("sample_weight", sample_weight=lambda a: a["sample_weight"][:-1]),
     ValueError, "sample_weight has the wrong shape"),
    (list(SIGNATURES), _with("n_threads", n_threads=0), ValueError, "n_threads must be >= 1"),
    (list(SIGNATURES), _with("n_threads -2", n_threads=-2), ValueError, "n_threads must be >= 1"),
    # No conversion: another dtype, order or layout is refused, not silently copied.
    (WEIGHTED, _with("X dtype", X=lambda a: a["X"].astype(
        np.float32 if a["X"].dtype == np.float64 else np.float64)), TypeError,
     "incompatible function arguments"),
    (list(SIGNATURES), _with("X order", X=lambda a: np.asfortranarray(a["X"])), TypeError,
     "incompatible function arguments"),
    (list(SIGNATURES), _with("X strided", X=lambda a: np.repeat(a["X"], 2, axis=0)[::2]),
     TypeError, "incompatible function arguments"),
    (list(SIGNATURES), _with("X list", X=lambda a: a["X"].tolist()), TypeError,
     "incompatible function arguments"),
    (list(SIGNATURES), _with("X int", X=lambda a: a["X"].astype(np.int64)), TypeError,
     "incompatible function arguments"),
    (WEIGHTED, _with("weights dtype", sample_weight=lambda a: a["sample_weight"].astype(
        np.float32 if a["X"].dtype == np.float64 else np.float64)), TypeError,
     "incompatible function arguments"),
    (["lloyd_iteration", "elkan_init", "elkan_iteration", "inertia"],
     _with("centers dtype", centers=lambda a: a["centers"].astype(
         np.float32 if a["X"].dtype == np.float64 else np.float64)), TypeError,
     "incompatible function arguments"),
    (["lloyd_iteration", "elkan_init", "elkan_iteration", "inertia"],
     _with("labels int64", labels=lambda a: a["labels"].astype(np.int64)), TypeError,
     "incompatible function arguments"),
    (["lloyd_iteration", "elkan_iteration"],
     _with("shift float32", center_shift=lambda a: a["center_shift"].astype(np.float32)),
     TypeError, "incompatible function arguments"),
    (["lloyd_iteration"], _with("X_panels dtype", X_panels=lambda a: a["X_panels"].astype(
        np.float32 if a["X"].dtype == np.float64 else np.float64)), TypeError,
     "incompatible function arguments"),
    (["kmeans_plusplus"], _with("uniforms float32", uniforms=lambda a: a["uniforms"].astype(
        np.float32)), TypeError, "incompatible function arguments"),
    # Shapes
    (["lloyd_iteration", "elkan_init", "elkan_iteration", "inertia"],
     _with("centers features", centers=lambda a: a["centers"][:, :2].copy()), ValueError,
     r"centers must have shape \(n_clusters, n_features\)"),
    (["lloyd_iteration", "elkan_init", "elkan_iteration", "inertia"],
     _with("no centers", centers=lambda a: a["centers"][:0].copy()), ValueError,
     r"centers must have shape \(n_clusters, n_features\)"),
    (["lloyd_iteration", "elkan_iteration"],
     _with("centers_new", centers_new=lambda a: a["centers_new"][:-1].copy()), ValueError,
     "centers_new has the wrong shape"),
    (["lloyd_iteration", "elkan_init", "elkan_iteration", "inertia"],
     _with("labels", labels=lambda a: a["labels"][:-1].copy()), ValueError,
     "labels has the wrong shape"),
    (["lloyd_iteration", "elkan_iteration"],
     _with("center_shift", center_shift=lambda a: np.zeros(K + 1)), ValueError,
     "center_shift has the wrong shape"),
    (["elkan_init", "elkan_iteration"],
     _with("upper", upper_bounds=lambda a: a["upper_bounds"][:-1].copy()), ValueError,
     "upper_bounds has the wrong shape"),
    (["elkan_init", "elkan_iteration"],
     _with("lower", lower_bounds=lambda a: a["lower_bounds"].T.copy()), ValueError,
     "lower_bounds has the wrong shape"),
    (["lloyd_iteration"], _with("X_panels", X_panels=lambda a: a["X_panels"][:, :-1].copy()),
     ValueError, "X_panels has the wrong shape"),
    (["lloyd_iteration"], _with("X_panels flat", X_panels=lambda a: a["X_panels"].ravel()),
     ValueError, "X_panels has the wrong shape"),
    (["kmeans_plusplus"], _with("uniforms", uniforms=lambda a: a["uniforms"][:-1].copy()),
     ValueError, r"uniforms must have shape \(n_clusters - 1, n_local_trials\)"),
    (["kmeans_plusplus"], _with("no trials", uniforms=lambda a: a["uniforms"][:, :0].copy()),
     ValueError, r"uniforms must have shape \(n_clusters - 1, n_local_trials\)"),
    # Values
    (["kmeans_plusplus"], _with("k > n", n_clusters=N + 1,
                                uniforms=lambda a: np.full((N, 2), 0.5)),
     ValueError, r"n_clusters must lie in \[1, n_samples\]"),
    (["kmeans_plusplus"], _with("k = 0", n_clusters=0, uniforms=np.zeros((0, 2))), ValueError,
     r"n_clusters must lie in \[1, n_samples\]"),
    (["kmeans_plusplus"], _with("first", first=N), ValueError, "first must index a row of X"),
    (["kmeans_plusplus"], _with("first -1", first=-1), ValueError, "first must index a row of X"),
    (["elkan_iteration", "inertia"],
     _with("label k", labels=lambda a: np.where(np.arange(N) == 5, K, a["labels"]).astype(
         np.int32)), ValueError, r"labels must lie in \[0, n_clusters\)"),
    (["elkan_iteration", "inertia"],
     _with("label -1", labels=lambda a: np.where(np.arange(N) == 19, -1, a["labels"]).astype(
         np.int32)), ValueError, r"labels must lie in \[0, n_clusters\)"),
    (["kmeans_plusplus"], _with("inf", X=lambda a: np.where(np.arange(N)[:, None] == 3, np.inf,
                                                            a["X"]).astype(a["X"].dtype)),
     ValueError, "overflow"),
    (["kmeans_plusplus"], _with("nan", X=lambda a: np.where(np.arange(N)[:, None] == 3, np.nan,
                                                            a["X"]).astype(a["X"].dtype)),
     ValueError, "overflow"),
    # Read-only outputs
    (["lloyd_iteration", "elkan_iteration"],
     _with("read-only centers_new", centers_new=lambda a: _read_only(a["centers_new"])),
     ValueError, "not writeable"),
    (["lloyd_iteration", "elkan_init", "elkan_iteration"],
     _with("read-only labels", labels=lambda a: _read_only(a["labels"])), ValueError,
     "not writeable"),
    (["lloyd_iteration", "elkan_iteration"],
     _with("read-only shift", center_shift=lambda a: _read_only(a["center_shift"])),
     ValueError, "not writeable"),
    (["elkan_init", "elkan_iteration"],
     _with("read-only upper", upper_bounds=lambda a: _read_only(a["upper_bounds"])),
     ValueError, "not writeable"),
    (["elkan_init", "elkan_iteration"],
     _with("read-only lower", lower_bounds=lambda a: _read_only(a["lower_bounds"])),
     ValueError, "not writeable"),
]
BAD_CASES = [pytest.param(function, change, error, match,
                          id=f"{function}-{change.__name__.replace(' ', '_')}")
             for functions, change, error, match in BAD_ARGUMENTS for function in functions]


def _call(function, args):
    return getattr(core, function)(**{p: args[p] for p in SIGNATURES[function]})


@pytest.mark.parametrize("function", list(SIGNATURES))
def test_valid_arguments_are_accepted(function, dtype):
    _call(function, _valid_arguments(dtype))
    # Read-only inputs are fine: only outputs are written.
    args = _valid_arguments(dtype)
    for name in ("X", "sample_weight", "centers", "uniforms", "X_panels"):
        args[name] = _read_only(args[name])
    _call(function, args)


@pytest.mark.parametrize("function, change, error, match", BAD_CASES)
def test_bad_arguments_raise_clear_errors(function, change, error, match, dtype):
    args = change(_valid_arguments(dtype))
    outputs = {name: np.array(args[name], copy=True) for name in
               ("centers_new", "labels", "center_shift", "upper_bounds", "lower_bounds")}
    with pytest.raises(error, match=match):
        _call(function, args)
    if error is ValueError and "overflow" not in match:
        # Checked at entry, before anything was written.
        for name, value in outputs.items():
            assert_array_equal(args[name], value, err_msg=name)


@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (37, 5, 11), (1003, 16, 64), (300, 3, 9)])
def test_lloyd_on_packed_panels_equals_packing_per_call(n, d, k, dtype, rng):
    X = rng.normal(size=(n, d)).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    panels = core.pack_point_panels(X, 2)
    lanes = 64 // X.itemsize
    assert panels.shape == (-(-n // lanes), d, lanes)
    rows = np.arange(n)
    assert_array_equal(panels[rows // lanes, :, rows % lanes], X)
    assert not panels.reshape(-1, d, lanes).transpose(0, 2, 1).reshape(-1, d)[n:].any()
    centers = rng.normal(size=(k, d)).astype(dtype)
    results = []
    for given in (panels, None):
        labels, centers_new, shift = np.full(n, -1, np.int32), np.empty_like(centers), np.zeros(k)
        changed = core.lloyd_iteration(X, w, centers, centers_new, labels, shift, True, 2, given)
        results.append((changed, labels, centers_new, shift))
    assert results[0][0] == results[1][0] == n
    for a, b in zip(results[0][1:], results[1][1:]):
        assert_array_equal(a, b)
    expected, _, _ = reference.lloyd_iteration(X.astype(np.float64), centers.astype(np.float64),
                                               w.astype(np.float64))
    clear = _clear_assignments(X.astype(np.float64), centers.astype(np.float64), 1e-4)
    assert_array_equal(results[0][1][clear], expected[clear])


def test_lloyd_accepts_more_centers_than_points():
    # Only k-means++ needs n_clusters <= n_samples; an iteration with k > n leaves clusters empty
    # (here 20 of 24, which take all 20 points: every cluster that had points loses them).
    args = _valid_arguments(np.float64)
    args["centers"] = np.vstack([args["centers"]] * 6)  # 24 centers, 4 distinct, 20 points
    args["centers_new"] = np.empty_like(args["centers"])
    args["center_shift"] = np.zeros(24)
    before = args["labels"].copy()
    changed = _call("lloyd_iteration", args)
    assert changed == np.count_nonzero(args["labels"] != before)
    labels, new_centers, shift = reference.lloyd_iteration(args["X"], args["centers"])
    assert args["labels"].max() < 4  # ties go to the lower index
    assert_array_equal(args["labels"], labels)
    assert_allclose(args["centers_new"], new_centers, rtol=1e-12, atol=1e-12)
    assert_allclose(args["center_shift"], shift, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# c. KMeans against scikit-learn

DATASETS = {"iris": load_iris, "digits": load_digits, "wine": load_wine,
            "breast_cancer": load_breast_cancer}


@functools.cache
def _dataset(name):
    return DATASETS[name](return_X_y=True)


def _tolerance(dtype):
    return 1e-6 if dtype == np.float32 else 1e-9


def _assert_same_fit(ours, theirs, X):
    """Same clustering as scikit-learn: labels (the centers are found in the same order), number
    of iterations, inertia and centers up to rounding."""
    dtype = X.dtype
    assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    assert_allclose(ours.inertia_, theirs.inertia_, rtol=_tolerance(dtype) * 10)
    assert ours.cluster_centers_.dtype == dtype
    # scikit-learn sums float32 data in float32, fastml in float64.
    scale = np.abs(X).max()
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name", DATASETS)
def test_matches_sklearn_on_datasets(name, algorithm, dtype):
    X = _dataset(name)[0].astype(dtype)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(X))
    for n_clusters in (3, 8):
        for n_init in (1, 3):
            for sample_weight in (None, w):
                params = dict(n_clusters=n_clusters, n_init=n_init, algorithm=algorithm,
                              random_state=0)
                ours = KMeans(**params).fit(X, sample_weight=sample_weight)
                theirs = sk.KMeans(**params).fit(X, sample_weight=sample_weight)
                _assert_same_fit(ours, theirs, X)


def _blobs(dtype):
    X, _ = make_blobs(n_samples=501, n_features=5, centers=6, cluster_std=2.5, random_state=1)
    return X.astype(dtype)


def _uniform(dtype):
    return np.random.default_rng(2).uniform(-1, 1, size=(403, 3)).astype(dtype)


def _callable_init(X, n_clusters, random_state):
    return 0.9 * X[random_state.permutation(len(X))[:n_clusters]]


INITS = {
    "random": lambda X: "random",
    "array": lambda X: X[5:12].copy(),
    "callable": lambda X: _callable_init,
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("make_X", [_blobs, _uniform], ids=["blobs", "uniform"])
def test_init_strategies_match_sklearn(make_X, init, algorithm, dtype):
    X = make_X(dtype)
    w = np.random.default_rng(4).uniform(0.5, 2.0, size=len(X))
    for n_init in ((1,) if init == "array" else (1, 3)):
        for sample_weight in (None, w):
            params = dict(n_clusters=7, init=INITS[init](X), n_init=n_init, algorithm=algorithm,
                          random_state=3)
            ours = KMeans(**params).fit(X, sample_weight=sample_weight)
            theirs = sk.KMeans(**params).fit(X, sample_weight=sample_weight)
            _assert_same_fit(ours, theirs, X)
            assert ours.n_iter_ > 2


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name", DATASETS)
def test_random_init_on_datasets_matches_sklearn(name, algorithm):
    # The measurements of these data sets are rounded (digits: integers), so that two centers
    # drawn from the data are often exactly as far from some point: a tie that rounding decides,
    # differently for fastml and scikit-learn. A jitter far below the rounding breaks them.
    X = _dataset(name)[0]
    X = X + 1e-6 * X.std(axis=0) * np.random.default_rng(0).normal(size=X.shape)
    params = dict(n_clusters=8, init="random", n_init=3, algorithm=algorithm, random_state=0)
    _assert_same_fit(KMeans(**params).fit(X), sk.KMeans(**params).fit(X), X)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("max_iter, tol", [(1, 0.0), (2, 0.0), (5, 0.0), (300, 0.0), (300, 1e-4),
                                           (300, 1e-2)])
def test_stopping_rules_match_reference_and_sklearn(max_iter, tol, algorithm):
    X = _uniform(np.float64)
    init = X[:6].copy()  # poor initial centers: several iterations
    ours = KMeans(6, init=init, max_iter=max_iter, tol=tol, algorithm=algorithm).fit(X)
    labels, inertia, centers, n_iter = reference.kmeans(X, init, max_iter=max_iter,
                                                        tol=reference.tolerance(X, tol))
    assert_array_equal(ours.labels_, labels)
    assert ours.n_iter_ == n_iter
    assert_allclose(ours.inertia_, inertia, rtol=1e-9)
    assert_allclose(ours.cluster_centers_, centers, rtol=1e-9, atol=1e-12)
    theirs = sk.KMeans(6, init=init, n_init=1, max_iter=max_iter, tol=tol,
                       algorithm=algorithm).fit(X)
    _assert_same_fit(ours, theirs, X)


def test_float32_is_kept(rng):
    X = rng.normal(size=(300, 4)).astype(np.float32)
    km = KMeans(5, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == np.float32
    assert km.labels_.dtype == np.int32 and isinstance(km.inertia_, float)
    assert km.transform(X).dtype == np.float32
    assert km.fit_transform(X).dtype == np.float32
    assert_array_equal(km.predict(X), km.labels_)
    # float64 data: float64 centers, and the clustering of the float32 copy.
    km64 = KMeans(5, random_state=0).fit(X.astype(np.float64))
    assert km64.cluster_centers_.dtype == np.float64
    assert_array_equal(km64.labels_, km.labels_)
    assert_allclose(km64.cluster_centers_, km.cluster_centers_, rtol=1e-5, atol=1e-6)
    # Integer data is computed in float64.
    assert KMeans(2, random_state=0).fit(np.arange(20).reshape(10, 2)).cluster_centers_.dtype \
        == np.float64


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_well_separated_blobs_are_found(algorithm, dtype):
    X, y = make_blobs(n_samples=1000, n_features=8, centers=5, cluster_std=0.4, random_state=3)
    km = KMeans(5, algorithm=algorithm, n_init=3, random_state=0).fit(X.astype(dtype))
    assert adjusted_rand_score(y, km.labels_) == 1.0
    theirs = sk.KMeans(5, algorithm=algorithm, n_init=3, random_state=0).fit(X.astype(dtype))
    assert_array_equal(km.labels_, theirs.labels_)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_deterministic_for_any_thread_count(algorithm, init, dtype):
    X, _ = make_blobs(n_samples=3001, n_features=10, centers=12, cluster_std=3.0, random_state=0)
    X = X.astype(dtype)
    fits = [KMeans(12, init=init, n_init=2, algorithm=algorithm, random_state=5,
                   n_jobs=n_jobs).fit(X) for n_jobs in (1, 2, 1, 3)]
    for fit in fits[1:]:
        assert fit.cluster_centers_.tobytes() == fits[0].cluster_centers_.tobytes()
        assert_array_equal(fit.labels_, fits[0].labels_)
        assert fit.inertia_ == fits[0].inertia_ and fit.n_iter_ == fits[0].n_iter_
    # A RandomState instance in the same state gives the same result too.
    again = KMeans(12, init=init, n_init=2, algorithm=algorithm,
                   random_state=np.random.RandomState(5)).fit(X)
    assert again.cluster_centers_.tobytes() == fits[0].cluster_centers_.tobytes()
    # ... and another seed another one.
    other = KMeans(12, init=init, n_init=2, algorithm=algorithm, random_state=6).fit(X)
    assert other.cluster_centers_.tobytes() != fits[0].cluster_centers_.tobytes()


def test_predict_transform_score_match_sklearn(dtype, rng):
    X, _ = make_blobs(n_samples=400, n_features=6, centers=5, cluster_std=2.0, random_state=2)
    X = X.astype(dtype)
    Q = (rng.normal(size=(50, 6)) * 5).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=len(X))
    ours = KMeans(5, random_state=0).fit(X)
    theirs = sk.KMeans(5, random_state=0).fit(X)
    _assert_same_fit(ours, theirs, X)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert_array_equal(ours.predict(X), ours.labels_)
    assert_array_equal(ours.predict(Q), theirs.predict(Q))
    distances = cdist(Q.astype(np.float64), ours.cluster_centers_.astype(np.float64))
    assert_allclose(ours.transform(Q), distances, rtol=rtol, atol=rtol)
    assert_allclose(ours.transform(Q), theirs.transform(Q), rtol=rtol * 10, atol=rtol * 10)
    assert_array_equal(ours.predict(Q), distances.argmin(axis=1))
    # (fit computes the inertia on centered data: float32 rounds it differently)
    assert ours.score(X) == pytest.approx(-ours.inertia_, rel=rtol / 10)
    assert ours.score(Q) == pytest.approx(theirs.score(Q), rel=rtol)
    assert ours.score(Q, sample_weight=w[:50]) == pytest.approx(
        theirs.score(Q, sample_weight=w[:50]), rel=rtol)
    params = dict(n_clusters=5, random_state=0)
    assert_array_equal(KMeans(**params).fit_predict(X, sample_weight=w),
                       sk.KMeans(**params).fit_predict(X, sample_weight=w))
    assert_allclose(KMeans(**params).fit_transform(X), ours.transform(X), rtol=1e-12)
    assert_array_equal(ours.get_feature_names_out(), [f"kmeans{i}" for i in range(5)])


def test_copy_x_false_restores_x_and_changes_nothing(rng):
    X = rng.normal(loc=3.0, size=(250, 4))
    original = X.copy()
    ours = KMeans(4, random_state=0, copy_x=False).fit(X)
    assert_allclose(X, original, rtol=1e-12, atol=1e-12)
    expected = KMeans(4, random_state=0).fit(original)
    assert_array_equal(ours.labels_, expected.labels_)
    assert_allclose(ours.cluster_centers_, expected.cluster_centers_, rtol=1e-12)
    # copy_x=True leaves X bitwise untouched.
    kept = original.copy()
    KMeans(4, random_state=0).fit(kept)
    assert kept.tobytes() == original.tobytes()


def test_pickle_round_trip(dtype, rng):
    X = rng.normal(size=(200, 3)).astype(dtype)
    km = KMeans(4, algorithm="elkan", random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(km))
    assert_array_equal(restored.predict(X), km.predict(X))
    assert_array_equal(restored.cluster_centers_, km.cluster_centers_)
    assert restored.get_params() == km.get_params()
    assert_array_equal(restored.transform(X), km.transform(X))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_verbose_reports_progress(algorithm, capsys, rng):
    X = rng.normal(size=(200, 3))
    km = KMeans(4, verbose=1, n_init=2, algorithm=algorithm, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert out.count("Initialization complete") == 2
    assert "Iteration 0, inertia" in out
    assert f"Iteration {km.n_iter_ - 1}, inertia" in out
    assert "Converged at iteration" in out
    KMeans(4, random_state=0).fit(X)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------------------------
# d. Warnings and errors, as scikit-learn

DUPLICATES = np.repeat([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]], 4, axis=0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_more_clusters_than_distinct_points_warns_and_terminates(algorithm, init):
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        ours = KMeans(5, init=init, n_init=1, algorithm=algorithm, random_state=0).fit(DUPLICATES)
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        theirs = sk.KMeans(5, init=init, n_init=1, algorithm=algorithm,
                           random_state=0).fit(DUPLICATES)
    assert ours.n_iter_ < 10 and ours.n_iter_ == theirs.n_iter_
    assert ours.inertia_ == 0.0 == theirs.inertia_
    assert_array_equal(ours.labels_, theirs.labels_)
    assert len(np.unique(ours.labels_)) == 3
    assert adjusted_rand_score(np.repeat([0, 1, 2], 4), ours.labels_) == 1.0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_centers_of_clusters_left_empty_match_sklearn(algorithm):
    """scikit-learn puts a cluster that stays empty (nothing to relocate: every point sits on its
    center) at the center of the biggest cluster; fastml leaves it at the zero sum, i.e. at the
    mean of the data. The centers, and predict / transform near the data mean, then differ."""
    with pytest.warns(ConvergenceWarning):
        ours = KMeans(5, algorithm=algorithm, random_state=0).fit(DUPLICATES)
    with pytest.warns(ConvergenceWarning):
        theirs = sk.KMeans(5, algorithm=algorithm, random_state=0).fit(DUPLICATES)
    assert_array_equal(ours.labels_, theirs.labels_)
    assert_allclose(ours.cluster_centers_, theirs.cluster_centers_)
    assert_array_equal(ours.predict([[2.0, 2.0]]), theirs.predict([[2.0, 2.0]]))


def _raises(error, match, fit):
    with pytest.raises(error, match=match):
        fit()


def test_invalid_input_raises_like_sklearn(rng):
    X = rng.normal(size=(20, 3))
    for Estimator in (KMeans, sk.KMeans):
        _raises(ValueError, "n_samples=20 should be >= n_clusters=21",
                lambda: Estimator(21).fit(X))
        _raises(InvalidParameterError, "n_clusters", lambda: Estimator(0).fit(X))
        assert issubclass(InvalidParameterError, ValueError)
        for bad in (np.nan, np.inf):
            X_bad = X.copy()
            X_bad[3, 1] = bad
            _raises(ValueError, "NaN" if bad != bad else "infinity",
                    lambda: Estimator(2).fit(X_bad))
        _raises(ValueError, "shape", lambda: Estimator(2, init=X[:3]).fit(X))
        _raises(ValueError, "shape", lambda: Estimator(2, init=X[:2, :2]).fit(X))
        _raises(ValueError, "[Nn]egative", lambda: Estimator(2).fit(
            X, sample_weight=np.where(np.arange(20) == 4, -1.0, 1.0)))
        _raises(ValueError, "non-zero|not be all zero",
                lambda: Estimator(2).fit(X, sample_weight=np.zeros(20)))
        fitted = Estimator(2, random_state=0).fit(X)
        _raises(ValueError, "X has 4 features, but KMeans is expecting 3 features",
                lambda: fitted.predict(rng.normal(size=(5, 4))))
        _raises(ValueError, "X has 2 features", lambda: fitted.transform(X[:, :2]))
    _raises(InvalidParameterError, "algorithm", lambda: KMeans(2, algorithm="full").fit(X))
    _raises(InvalidParameterError, "init", lambda: KMeans(2, init="kmeans").fit(X))
    _raises(ValueError, "NaN", lambda: KMeans(2, init=np.full((2, 3), np.nan)).fit(X))


def test_runtime_warnings_like_sklearn(rng):
    X = rng.normal(size=(40, 2))
    init = X[[0, 1, 2]]
    for Estimator in (KMeans, sk.KMeans):
        with pytest.warns(RuntimeWarning, match="performing only one init"):
            km = Estimator(3, init=init, n_init=3).fit(X)
        assert km.n_iter_ >= 1
        with pytest.warns(RuntimeWarning, match="elkan.*single cluster"):
            km = Estimator(1, algorithm="elkan").fit(X)
        assert_allclose(km.cluster_centers_, X.mean(axis=0, keepdims=True), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# e. kmeans_plusplus against scikit-learn's

@pytest.mark.parametrize("n_clusters", [1, 2, 9, 40])
def test_kmeans_plusplus_indices_equal_sklearn(n_clusters, rng):
    X = rng.normal(size=(500, 7))
    w = rng.uniform(0.1, 3.0, size=500)
    for seed in (0, 1, 42):
        for sample_weight in (None, w):
            centers, indices = kmeans_plusplus(X, n_clusters, sample_weight=sample_weight,
                                               random_state=seed)
            expected_centers, expected = sk.kmeans_plusplus(
                X, n_clusters, sample_weight=sample_weight, random_state=seed)
            assert_array_equal(indices, expected)
            assert_array_equal(centers, expected_centers)
    # Duplicate points: the potential drops to zero, and the same indices are drawn.
    for seed in (0, 1):
        assert_array_equal(kmeans_plusplus(DUPLICATES, 5, random_state=seed)[1],
                           sk.kmeans_plusplus(DUPLICATES, 5, random_state=seed)[1])


def _potential(X, centers):
    X = X.astype(np.float64)
    return cdist(X, centers.astype(np.float64), "sqeuclidean").min(axis=1).sum()


def test_kmeans_plusplus_float32_potential_like_sklearn():
    X = np.random.default_rng(0).uniform(size=(2000, 5)).astype(np.float32)
    ours = [_potential(X, kmeans_plusplus(X, 20, random_state=s)[0]) for s in range(10)]
    theirs = [_potential(X, sk.kmeans_plusplus(X, 20, random_state=s)[0]) for s in range(10)]
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.03)
    # ... and better than 20 rows drawn uniformly.
    draws = np.random.default_rng(1)
    assert np.mean(ours) < np.mean([_potential(X, X[draws.choice(2000, 20, replace=False)])
                                    for _ in range(10)])


def test_kmeans_plusplus_checks_and_dtypes(dtype, rng):
    X = rng.normal(size=(30, 3)).astype(dtype)
    centers, indices = kmeans_plusplus(X, 4, random_state=0)
    assert centers.dtype == dtype and indices.dtype == np.int64
    assert_array_equal(centers, X[indices])
    # x_squared_norms is accepted (and not needed) when it has the right length.
    assert_array_equal(kmeans_plusplus(X, 4, random_state=0,
                                       x_squared_norms=(X ** 2).sum(axis=1))[1], indices)
    with pytest.raises(ValueError, match="x_squared_norms"):
        kmeans_plusplus(X, 4, x_squared_norms=np.ones(29))
    with pytest.raises(ValueError, match="n_samples=30 should be >= n_clusters=31"):
        kmeans_plusplus(X, 31)
    with pytest.raises(InvalidParameterError):
        kmeans_plusplus(X, 0)
    with pytest.raises(InvalidParameterError):
        kmeans_plusplus(X, 3, n_local_trials=0)
    ints = kmeans_plusplus(np.arange(40).reshape(20, 2), 3, random_state=0)[0]
    assert ints.dtype == np.float64


def test_values_whose_squared_distances_overflow_are_rejected(rng):
    limit = np.sqrt(np.finfo(np.float32).max / 2) / 4
    X = rng.normal(size=(50, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="squared distances would overflow float32"):
        KMeans(3, n_init=1).fit(X * np.float32(limit))
    with pytest.raises(ValueError, match="squared distances would overflow float32"):
        kmeans_plusplus(X * np.float32(limit), 3, random_state=0)
    # Far from 0 but close to their mean: max|X| + max|mean| is over the limit, the distances
    # from the centered data are not.
    spread = np.float32(limit / 100)
    shifted = X * spread + np.float32(0.9 * limit)
    fitted = KMeans(3, n_init=1, random_state=0).fit(shifted)
    assert np.isfinite(fitted.inertia_) and len(set(fitted.labels_)) == 3
    unshifted = KMeans(3, n_init=1, random_state=0).fit(X * spread)
    assert adjusted_rand_score(fitted.labels_, unshifted.labels_) > 0.9


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (20_000, 16), (3_001, 65)])
def test_centering_mean_is_numpys_to_the_bit(shape, dtype, rng):
    from fastml.cluster._kmeans import _column_means

    X = (rng.normal(size=shape) * 100 + 7).astype(dtype)
    means = _column_means(X)
    assert means.dtype == dtype
    assert_array_equal(means, X.mean(axis=0))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("sparse_X", [False, True], ids=["dense", "csr"])
def test_given_centers_are_left_unchanged(algorithm, sparse_X):
    # The run takes the centers it draws itself as one of its two buffers; an array the user
    # gave, or one a callable returned and may keep, is copied first.
    X = _blobs(np.float64)
    X_fit = csr_matrix(X) if sparse_X else X
    given = X[5:11].copy()
    kept = []

    def keeping_init(X, n_clusters, random_state):
        kept.append(np.ascontiguousarray(given[:n_clusters]))
        return kept[-1]

    for init in (given, keeping_init):
        KMeans(6, init=init, n_init=1, algorithm=algorithm, max_iter=50).fit(X_fit)
    assert_array_equal(given, X[5:11])
    assert_array_equal(kept[0], X[5:11])
