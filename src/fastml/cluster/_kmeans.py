"""KMeans and kmeans_plusplus on fastml's C++ k-means core (fastml.cluster._kmeans_fast).

Both follow scikit-learn step for step: dense data are centered (sparse data are not, as in
scikit-learn), seeds are drawn from the random stream in the same order, and iterations stop by
the same rules, so for a random_state they find scikit-learn's clustering. Sparse X is taken as
CSR (other formats are converted, as scikit-learn does) and never densified. The core computes
it with register-blocked SIMD kernels on OpenMP threads and merges partial sums in a fixed
order, so that results do not depend on the thread count.
"""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin,
                          TransformerMixin)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._backend import effective_n_threads
from ..metrics.pairwise import pairwise_distances
from ..utils._sklearn_compat import (Interval, StrOptions, check_sample_weight, fit_context,
                                     validate_params)
from . import _kmeans_fast

_DEFAULT_N_INIT = 10  # n_init="auto" with init="random" or a callable, as in scikit-learn


def _is_array_like(init):
    return not isinstance(init, str) and not callable(init)


def _check_sample_weight_of(sample_weight, X):
    """Weights as X's dtype, non-negative and not all zero (seeding samples proportionally)."""
    sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
    if not sample_weight.any():
        raise ValueError("sample_weight must not be all zero")
    return np.ascontiguousarray(sample_weight)


def _column_means(X):
    """X.mean(axis=0) to the bit (the same row-by-row sums in X's dtype), which scikit-learn
    centers X with, 5x faster than the ufunc's reduction over axis 0 (2.2 against 10.3 ms on
    500k x 16 float32)."""
    return np.einsum("ij->j", X) / X.dtype.type(X.shape[0])


def _csr_input(X):
    """The core's checked handle on CSR X (the kernels sum squared norms from the stored values,
    so duplicate entries are summed first, on a copy, as scipy's sum_duplicates does)."""
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return _kmeans_fast.csr_input(X.data, X.indices.astype(np.int32, copy=False),
                                  X.indptr.astype(np.int32, copy=False), X.shape[1])


def _core_input(X):
    """X as the core's functions take it: the array itself, or a csr_input for sparse X."""
    return _csr_input(X) if sp.issparse(X) else X


def _rows(X, indices):
    """Rows of X as a dense C-contiguous array (centers drawn from the data)."""
    rows = X[indices]
    return np.ascontiguousarray(rows.toarray()) if sp.issparse(rows) else rows


def _check_magnitude(X, center=0.0):
    """Squared distances must be finite in X's dtype, or every comparison of them is void.
    Checks the largest |X - center| without forming X - center: first its bound
    max|X| + max|center| from whole-array reductions (1.4 ms on 500k x 16 float32, where the
    per-column ones take 29 ms), per column only when that bound is over the limit."""
    limit = np.sqrt(np.finfo(X.dtype).max / X.shape[1]) / 4
    if sp.issparse(X):  # not centered: the stored values are the whole story
        if X.nnz and max(X.data.max(), -X.data.min()) > limit:  # no |data| copy
            raise ValueError(f"X has values beyond +-{limit:.3g}: squared distances would "
                             f"overflow {X.dtype}; scale the data first")
        return
    if max(X.max(), -X.min()) + np.max(np.abs(center)) <= limit:
        return
    if np.maximum(X.max(axis=0) - center, center - X.min(axis=0)).max() > limit:
        raise ValueError(f"X has values beyond +-{limit:.3g}: squared distances would overflow "
                         f"{X.dtype}; scale the data first")


def default_n_local_trials(n_clusters):
    """scikit-learn's number of k-means++ candidates per center."""
    return 2 + int(np.log(n_clusters))


def _seed_indices(X, n_clusters, sample_weight, random_state, n_local_trials, n_threads,
                  X_core=None):
    """Indices of the greedy k-means++ seeds, drawing from random_state exactly as scikit-learn:
    the first center by choice(p=w / sum(w)), then n_local_trials uniforms per center. X_core:
    X as _core_input gives it, where the caller has it already."""
    if n_local_trials is None:
        n_local_trials = default_n_local_trials(n_clusters)
    first = random_state.choice(X.shape[0], p=sample_weight / sample_weight.sum())
    # One draw of all uniforms consumes the stream as scikit-learn's draw per center does.
    uniforms = random_state.uniform(size=(n_clusters - 1, n_local_trials))
    return _kmeans_fast.kmeans_plusplus(_core_input(X) if X_core is None else X_core,
                                        sample_weight, n_clusters, int(first), uniforms, n_threads)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "x_squared_norms": ["array-like", None],
        "random_state": ["random_state"],
        "n_local_trials": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None, random_state=None,
                    n_local_trials=None):
    """Greedy k-means++ seeding, drop-in for ``sklearn.cluster.kmeans_plusplus``.

    Each new center is the best of ``n_local_trials`` candidates sampled with probability
    proportional to weight x squared distance to the nearest chosen center: the one that lowers
    the potential (the weighted sum of those squared distances) most. The same random_state
    gives the same indices as scikit-learn (up to rounding of the potentials).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        float32 data stays float32; other dtypes are converted to float64. Sparse X is taken as
        CSR (other formats are converted) and never densified.
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None
    x_squared_norms : array-like of shape (n_samples,), default=None
        Accepted for compatibility and checked for shape; distances are computed directly.
    random_state : int, RandomState instance or None, default=None
    n_local_trials : int, default=None
        Candidates per center; None means 2 + int(log(n_clusters)).

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    indices : ndarray of shape (n_clusters,), int64
        ``X[indices] == centers``.
    """
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
                    accept_large_sparse=False)
    if X.shape[0] < n_clusters:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}.")
    sample_weight = _check_sample_weight_of(sample_weight, X)
    _check_magnitude(X)
    if x_squared_norms is not None:
        x_squared_norms = check_array(x_squared_norms, dtype=X.dtype, ensure_2d=False)
        if x_squared_norms.shape[0] != X.shape[0]:
            raise ValueError(f"The length of x_squared_norms {x_squared_norms.shape[0]} should "
                             f"be equal to the length of n_samples {X.shape[0]}.")
    indices = _seed_indices(X, n_clusters, sample_weight, check_random_state(random_state),
                            n_local_trials, effective_n_threads())
    return _rows(X, indices), indices


def _kmeans_single(X, sample_weight, centers, *, algorithm, max_iter, tol, verbose, n_threads,
                   centers_owned=False):
    """One k-means run from `centers`, with scikit-learn's stopping rules: stop when no label
    changed (strict convergence) or when the squared center shift is within tol; otherwise
    the labels are recomputed for the final centers. Returns labels, inertia, centers, n_iter.
    X: a dense array or a csr_input (see _core_input). centers_owned: `centers` is the caller's
    to give away, and serves as one of the two center buffers (on wide sparse data a k x d
    array is the size of the model) instead of being copied."""
    n_samples, n_clusters, dtype = X.shape[0], centers.shape[0], X.dtype
    centers = np.array(centers, dtype=dtype, order="C", copy=None if centers_owned else True)
    centers_new = np.empty_like(centers)
    labels = np.full(n_samples, -1, dtype=np.int32)
    center_shift = np.zeros(n_clusters, dtype=np.float64)
    if algorithm == "elkan":
        upper = np.empty(n_samples, dtype=dtype)
        lower = np.empty((n_samples, n_clusters), dtype=dtype)
        _kmeans_fast.elkan_init(X, sample_weight, centers, labels, upper, lower, n_threads)

        def iteration(update_centers):
            return _kmeans_fast.elkan_iteration(X, sample_weight, centers, centers_new, labels,
                                                upper, lower, center_shift, update_centers,
                                                n_threads)
    elif isinstance(X, np.ndarray):
        # The assignment runs on X in panels of points (a copy the size of X), packed once here
        # rather than in every iteration.
        X_panels = _kmeans_fast.pack_point_panels(X, n_threads)

        def iteration(update_centers):
            return _kmeans_fast.lloyd_iteration(X, sample_weight, centers, centers_new, labels,
                                                center_shift, update_centers, n_threads, X_panels)
    else:
        def iteration(update_centers):
            return _kmeans_fast.lloyd_iteration(X, sample_weight, centers, centers_new, labels,
                                                center_shift, update_centers, n_threads)

    strict_convergence = False
    for i in range(max_iter):
        # Elkan's first pass keeps the labels its initialisation found: count them as changed.
        changed = iteration(True) + (n_samples if algorithm == "elkan" and i == 0 else 0)
        if verbose:
            inertia = _kmeans_fast.inertia(X, sample_weight, centers, labels, n_threads)
            print(f"Iteration {i}, inertia {inertia}.")
        centers, centers_new = centers_new, centers
        if changed == 0:
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            strict_convergence = True
            break
        shift = float((center_shift**2).sum())
        if shift <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift} within tolerance {tol}.")
            break
    if not strict_convergence:
        iteration(False)  # labels for the final centers
    inertia = _kmeans_fast.inertia(X, sample_weight, centers, labels, n_threads)
    return labels, inertia, centers, i + 1


def _variances(X):
    """Per-feature variances, as scikit-learn's _tolerance takes them (mean_variance_axis for
    sparse X)."""
    return mean_variance_axis(X, axis=0)[1] if sp.issparse(X) else np.var(X, axis=0)


def _same_clustering(labels1, labels2, n_clusters):
    """Whether two labelings are equal up to a permutation of the labels."""
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    mapping[labels1] = labels2
    return bool((mapping[labels1] == labels2).all())


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """K-means clustering, drop-in for ``sklearn.cluster.KMeans``.

    Seeding (greedy k-means++), Lloyd's and Elkan's iterations and the inertia run in fastml's
    C++ core: SIMD kernels chosen for the CPU at load time, OpenMP threads, and partial sums
    merged in a fixed order so that the result for a random_state is the same for any n_jobs.
    float32 data is kept float32 (sums are accumulated in float64). Dense or sparse input: sparse
    X is taken as CSR (CSC, COO and the sparse arrays are converted, as scikit-learn does) and
    never densified; its products with the centers run over its nonzeros.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random"}, callable or array-like of shape (n_clusters, n_features), \
default="k-means++"
    n_init : "auto" or int, default="auto"
        Runs with different seeds; the one with the lowest inertia is kept. "auto" is 1 for
        "k-means++" and an array, 10 for "random" and a callable.
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative tolerance: convergence when the squared center shift is within tol times the
        mean variance of the features.
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None
    copy_x : bool, default=True
        When False, X (C-contiguous and of a float dtype) is centered in place and restored.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
    n_jobs : int, default=None
        Threads (a fastml addition); None uses ``fastml.get_config()["n_jobs"]``.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,), int32
    inertia_ : float
        Sum of weighted squared distances of the samples to their closest center.
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
        "n_jobs": [Integral, None],
    }

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, algorithm="lloyd", n_jobs=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.n_jobs = n_jobs

    def _resolved_n_init(self):
        if self.n_init != "auto":
            n_init = self.n_init
        elif isinstance(self.init, str) and self.init == "k-means++":
            n_init = 1
        elif (isinstance(self.init, str) and self.init == "random") or callable(self.init):
            n_init = _DEFAULT_N_INIT
        else:
            n_init = 1
        if _is_array_like(self.init) and n_init != 1:
            warnings.warn("Explicit initial center position passed: performing only one init in "
                          f"{type(self).__name__} instead of n_init={n_init}.", RuntimeWarning,
                          stacklevel=3)
            n_init = 1
        return n_init

    def _resolved_algorithm(self):
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn("algorithm='elkan' doesn't make sense for a single cluster. Using "
                          "'lloyd' instead.", RuntimeWarning, stacklevel=3)
            return "lloyd"
        return self.algorithm

    def _check_centers(self, centers, X, what):
        if centers.shape != (self.n_clusters, X.shape[1]):
            raise ValueError(f"The shape of the initial centers {centers.shape} does not match "
                             f"the number of clusters {self.n_clusters} and features "
                             f"{X.shape[1]} ({what}).")
        if not np.isfinite(centers).all():
            raise ValueError(f"The initial centers ({what}) contain NaN or infinity.")

    def _init_centers(self, X, X_core, init, random_state, sample_weight, n_threads):
        if isinstance(init, str) and init == "k-means++":
            return _rows(X, _seed_indices(X, self.n_clusters, sample_weight, random_state, None,
                                          n_threads, X_core))
        if isinstance(init, str) and init == "random":
            seeds = random_state.choice(X.shape[0], size=self.n_clusters, replace=False,
                                        p=sample_weight / sample_weight.sum())
            return _rows(X, seeds)
        if callable(init):
            centers = check_array(init(X, self.n_clusters, random_state=random_state),
                                  dtype=X.dtype, order="C")
            self._check_centers(centers, X, "returned by init")
            return centers
        return init

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        # Sparse X is read only (never centered): no copy beyond a conversion to CSR.
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          order="C", copy=self.copy_x and not sp.issparse(X),
                          accept_large_sparse=False)
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")
        n_init = self._resolved_n_init()
        algorithm = self._resolved_algorithm()
        random_state = check_random_state(self.random_state)
        sample_weight = _check_sample_weight_of(sample_weight, X)
        n_threads = effective_n_threads(self.n_jobs)
        # Centering keeps the dot-product form of the distances accurate (as scikit-learn does,
        # for dense X only: centering would densify sparse X). Values too large for squared
        # distances are rejected before the variances overflow too.
        X_mean = None if sp.issparse(X) else _column_means(X)
        _check_magnitude(X, 0.0 if X_mean is None else X_mean)
        tol = float(np.mean(_variances(X)) * self.tol) if self.tol else 0.0

        init = self.init
        if _is_array_like(init):
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._check_centers(init, X, "init")
        if X_mean is not None:
            X -= X_mean
            if _is_array_like(init):
                init -= X_mean
        X_core = _core_input(X)

        best = None
        for _ in range(n_init):
            centers = self._init_centers(X, X_core, init, random_state, sample_weight, n_threads)
            if self.verbose:
                print("Initialization complete")
            run = _kmeans_single(X_core, sample_weight, centers, algorithm=algorithm,
                                 max_iter=self.max_iter, tol=tol, verbose=self.verbose,
                                 n_threads=n_threads, centers_owned=isinstance(init, str))
            if best is None or (run[1] < best[1]
                                and not _same_clustering(run[0], best[0], self.n_clusters)):
                best = run
        labels, inertia, centers, n_iter = best
        if X_mean is not None:
            if not self.copy_x:
                X += X_mean
            centers += X_mean

        distinct = np.count_nonzero(np.bincount(labels, minlength=self.n_clusters))
        if distinct < self.n_clusters:
            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than "
                          f"n_clusters ({self.n_clusters}). Possibly due to duplicate points in X.",
                          ConvergenceWarning, stacklevel=2)
        self.cluster_centers_ = centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = labels
        self.inertia_ = float(inertia)
        self.n_iter_ = n_iter
        return self

    def _check_test_data(self, X):
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse="csr", dtype=self.cluster_centers_.dtype,
                             order="C", reset=False, accept_large_sparse=False)

    def _labels_inertia(self, X, sample_weight):
        centers = self.cluster_centers_
        n_threads = effective_n_threads(self.n_jobs)
        labels = np.full(X.shape[0], -1, dtype=np.int32)
        X = _core_input(X)
        _kmeans_fast.lloyd_iteration(X, sample_weight, centers, np.empty_like(centers), labels,
                                     np.empty(len(centers)), False, n_threads)
        return labels, _kmeans_fast.inertia(X, sample_weight, centers, labels, n_threads)

    def predict(self, X):
        """Index of the closest cluster center of each sample."""
        X = self._check_test_data(X)
        return self._labels_inertia(X, np.ones(X.shape[0], dtype=X.dtype))[0]

    def fit_predict(self, X, y=None, sample_weight=None):
        """fit(X) and return labels_."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Euclidean distances of the samples to every cluster center."""
        X = self._check_test_data(X)
        if sp.issparse(X):
            return _kmeans_fast.distances(_csr_input(X), self.cluster_centers_,
                                          effective_n_threads(self.n_jobs))
        return pairwise_distances(X, self.cluster_centers_, metric="euclidean", n_jobs=self.n_jobs)

    def fit_transform(self, X, y=None, sample_weight=None):
        """fit(X), then the distances of X to the centers."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted sum of squared distances of X to its closest centers."""
        X = self._check_test_data(X)
        sample_weight = _check_sample_weight_of(sample_weight, X)
        return -self._labels_inertia(X, sample_weight)[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
