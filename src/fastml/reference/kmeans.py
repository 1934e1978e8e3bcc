"""k-means in plain NumPy: scikit-learn's greedy k-means++ seeding, its Lloyd iterations (empty
clusters included) and the silhouette coefficient, all in float64 with squared distances computed
directly as ((x - c) ** 2).sum(), never through |x|^2 - 2 x.c + |c|^2. The k-means functions take
X dense or sparse (any scipy.sparse format): sparse X is the dense matrix it stands for, the
same maths, so the compiled CSR core is tested against the same definitions as the dense one."""
import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .distances import pairwise_distances


def _as_float64(X):
    """X as a dense float64 array (the reference is for small shapes: sparse X is expanded)."""
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def _as_weights(sample_weight, n_samples):
    """sample_weight as a float64 vector, ones where it is None."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {w.shape}")
    return w


def _sq_distances_to(X, c):
    """Squared euclidean distance from every row of X to the point c."""
    return ((X - c) ** 2).sum(axis=1)


def kmeans_plusplus(X, n_clusters, sample_weight=None, random_state=None, n_local_trials=None):
    """Greedy k-means++ seeding, scikit-learn's `_kmeans_plusplus` step by step and drawing from
    the random stream in the same order, so a seed picks the same rows: (centers float64 of shape
    (n_clusters, n_features), indices int64 of shape (n_clusters,)) with centers = X[indices]."""
    X = _as_float64(X)
    n_samples = len(X)
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(f"n_samples={n_samples} should be >= n_clusters={n_clusters}.")
    w = _as_weights(sample_weight, n_samples)
    random_state = check_random_state(random_state)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))

    indices = np.empty(n_clusters, dtype=np.int64)
    indices[0] = random_state.choice(n_samples, p=w / w.sum())
    closest_dist_sq = _sq_distances_to(X, X[indices[0]])
    current_pot = (w * closest_dist_sq).sum()

    for c in range(1, n_clusters):
        # Candidates drawn with probability proportional to w * (squared distance to the nearest
        # chosen center), by inverting the cumulative sum.
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        candidate_ids = np.searchsorted(np.cumsum(w * closest_dist_sq), rand_vals)
        # Rounding can put a draw past the last cumulative sum.
        candidate_ids = np.minimum(candidate_ids, n_samples - 1)

        best_pot, best_dist_sq, best_id = None, None, None
        for candidate in candidate_ids:
            dist_sq = np.minimum(closest_dist_sq, _sq_distances_to(X, X[candidate]))
            pot = (w * dist_sq).sum()
            # Strictly lower, so the first of equal candidates wins, like np.argmin.
            if best_pot is None or pot < best_pot:
                best_pot, best_dist_sq, best_id = pot, dist_sq, candidate
        indices[c] = best_id
        closest_dist_sq, current_pot = best_dist_sq, best_pot

    return X[indices].copy(), indices


def assign(X, centers):
    """The index of the nearest center (squared euclidean) of each row of X, int32; ties go to the
    lowest center index."""
    X = _as_float64(X)
    centers = np.asarray(centers, dtype=np.float64)
    labels = np.empty(len(X), dtype=np.int32)
    for i, x in enumerate(X):
        # np.argmin returns the first minimum, i.e. the lowest index among tied centers.
        labels[i] = np.argmin(_sq_distances_to(centers, x))
    return labels


def inertia(X, centers, labels, sample_weight=None):
    """The sum over the rows of X of w_i times the squared distance to the center of its label."""
    X = _as_float64(X)
    centers = np.asarray(centers, dtype=np.float64)
    w = _as_weights(sample_weight, len(X))
    total = 0.0
    for i, x in enumerate(X):
        total += w[i] * ((x - centers[labels[i]]) ** 2).sum()
    return float(total)


def lloyd_iteration(X, centers, sample_weight=None):
    """One Lloyd iteration as scikit-learn's `lloyd_iter_chunked_dense` does it: (labels int32
    with respect to the given centers, new centers float64, center_shift float64 = the euclidean
    distance each center moved). Clusters left without weight take, in increasing order, the
    points farthest from their (old) centers, without the labels changing (unless every point sits
    on its center)."""
    X = _as_float64(X)
    centers = np.asarray(centers, dtype=np.float64)
    n_clusters = len(centers)
    w = _as_weights(sample_weight, len(X))

    labels = assign(X, centers)
    sums = np.zeros_like(centers)
    weight_in_clusters = np.zeros(n_clusters, dtype=np.float64)
    for i, x in enumerate(X):
        sums[labels[i]] += w[i] * x
        weight_in_clusters[labels[i]] += w[i]

    empty = np.flatnonzero(weight_in_clusters == 0)
    dist = np.array([((x - centers[labels[i]]) ** 2).sum() for i, x in enumerate(X)])
    # When every point sits on its center (more clusters than distinct points) nothing moves.
    if len(empty) and dist.max() > 0:
        # Farthest first; lexsort sorts by its last key first, so the index breaks ties.
        farthest = np.lexsort((np.arange(len(X)), -dist))
        for e, j in enumerate(empty):
            p = farthest[e]
            old = labels[p]
            sums[old] -= w[p] * X[p]
            weight_in_clusters[old] -= w[p]
            sums[j] = w[p] * X[p]
            weight_in_clusters[j] = w[p]

    new_centers = np.empty_like(sums)
    # A cluster still without weight goes to the heaviest cluster's center (the first of equals).
    heaviest = int(np.argmax(weight_in_clusters))
    for j in range(n_clusters):
        source = j if weight_in_clusters[j] > 0 else heaviest
        new_centers[j] = sums[source] / weight_in_clusters[source]
    center_shift = np.sqrt(((new_centers - centers) ** 2).sum(axis=1))
    return labels, new_centers, center_shift


def kmeans(X, centers_init, sample_weight=None, max_iter=300, tol=0.0):
    """Lloyd's k-means from the given initial centers, scikit-learn's `_kmeans_single_lloyd`:
    (labels int32, inertia float, centers float64, n_iter). It stops when an iteration leaves the
    labels unchanged or when the summed squared center shift is <= tol (absolute, see
    `tolerance`)."""
    X = _as_float64(X)
    centers = np.asarray(centers_init, dtype=np.float64).copy()
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    labels_old = np.full(len(X), -1, dtype=np.int32)
    strict_convergence = False
    for i in range(max_iter):
        labels, centers, center_shift = lloyd_iteration(X, centers, sample_weight)
        if np.array_equal(labels, labels_old):
            strict_convergence = True
            break
        if (center_shift ** 2).sum() <= tol:
            break
        labels_old = labels
    if not strict_convergence:
        # The labels belong to the centers before the last update; relabel for the final ones.
        labels = assign(X, centers)
    return labels, inertia(X, centers, labels, sample_weight), centers, i + 1


def tolerance(X, tol, sample_weight=None):
    """The absolute tolerance scikit-learn's KMeans derives from its relative tol for dense X:
    tol times the mean over features of the (unweighted) variance; sample_weight is ignored, as
    scikit-learn's `_tolerance` ignores it."""
    if tol == 0:
        return 0.0
    X = _as_float64(X)
    return float(np.mean(np.var(X, axis=0)) * tol)


def silhouette_samples(X, labels, metric="euclidean"):
    """The silhouette coefficient of each row of X, float64: (b - a) / max(a, b) with a the mean
    distance to the other members of its cluster and b the lowest mean distance to the members of
    another cluster; 0 for a row alone in its cluster."""
    X = np.asarray(X)
    labels = np.asarray(labels)
    n_samples = len(X)
    if labels.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), got {labels.shape}")
    classes, codes = np.unique(labels, return_inverse=True)
    n_labels = len(classes)
    if not 1 < n_labels < n_samples:
        raise ValueError(f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 "
                         "(inclusive)")
    D = pairwise_distances(X, X, metric)
    members = [np.flatnonzero(codes == c) for c in range(n_labels)]
    s = np.zeros(n_samples, dtype=np.float64)
    for i in range(n_samples):
        own = codes[i]
        if len(members[own]) == 1:
            continue
        a = sum(D[i, j] for j in members[own] if j != i) / (len(members[own]) - 1)
        b = min(sum(D[i, j] for j in members[c]) / len(members[c])
                for c in range(n_labels) if c != own)
        # a = b = 0 (duplicates across clusters) is 0/0; scikit-learn turns that NaN into 0.
        if max(a, b) > 0:
            s[i] = (b - a) / max(a, b)
    return s
