"""k-nearest-neighbour search and kNN prediction in plain NumPy, one query row at a time, with
ties in distance always broken towards the lower index of the searched rows."""
import numpy as np

from .distances import pairwise_distances

WEIGHTS = ("uniform", "distance")


def _sorted_order(d, candidates):
    """The candidates (indices into d) ordered by (distance, index)."""
    # lexsort sorts by its last key first, so the index is the tie-breaker.
    return candidates[np.lexsort((candidates, d[candidates]))]


def kneighbors(X, Y, k, metric="euclidean", p=2.0):
    """The k rows of Y nearest to each row of X: (distances float64, indices int64), each of shape
    (len(X), k), sorted by (distance, index)."""
    Y = np.asarray(Y)
    if not 1 <= k <= len(Y):
        raise ValueError(f"k must satisfy 1 <= k <= len(Y) = {len(Y)}, got {k}")
    X = np.asarray(X)
    distances = np.empty((len(X), k), dtype=np.float64)
    indices = np.empty((len(X), k), dtype=np.int64)
    all_rows = np.arange(len(Y), dtype=np.int64)
    for i in range(len(X)):
        d = pairwise_distances(X[i:i + 1], Y, metric, p)[0]
        order = _sorted_order(d, all_rows)[:k]
        distances[i] = d[order]
        indices[i] = order
    return distances, indices


def radius_neighbors(X, Y, radius, metric="euclidean", p=2.0):
    """Every row of Y within distance <= radius of each row of X: two lists, one entry per row of
    X, of float64 distances and int64 indices sorted by (distance, index)."""
    X, Y = np.asarray(X), np.asarray(Y)
    distances, indices = [], []
    for i in range(len(X)):
        d = pairwise_distances(X[i:i + 1], Y, metric, p)[0]
        order = _sorted_order(d, np.flatnonzero(d <= radius).astype(np.int64))
        distances.append(d[order])
        indices.append(order)
    return distances, indices


def _neighbor_weights(distances, weights):
    """Weights of one query's neighbours, given their distances."""
    if weights == "uniform":
        return np.ones_like(distances)
    if weights == "distance":
        # An exact match makes 1/d infinite; scikit-learn then lets only the exact matches vote,
        # each with weight 1.
        at_zero = distances == 0
        if at_zero.any():
            return at_zero.astype(np.float64)
        return 1.0 / distances
    raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")


def kneighbors_classify(X_train, y_train, X_query, k, metric="euclidean", p=2.0,
                        weights="uniform"):
    """The class of each row of X_query with the largest summed weight among its k nearest
    training rows; ties go to the smallest class label. y_train must be 1-D."""
    y_train = np.asarray(y_train)
    if y_train.ndim != 1:
        raise ValueError(f"y_train must be 1-D, got shape {y_train.shape}")
    classes, y_codes = np.unique(y_train, return_inverse=True)
    distances, indices = kneighbors(X_query, X_train, k, metric, p)
    predictions = np.empty(len(indices), dtype=classes.dtype)
    for i in range(len(indices)):
        w = _neighbor_weights(distances[i], weights)
        votes = np.zeros(len(classes))
        for code, weight in zip(y_codes[indices[i]], w):
            votes[code] += weight
        # argmax returns the first maximum, which is the smallest label since classes is sorted.
        predictions[i] = classes[np.argmax(votes)]
    return predictions


def kneighbors_regress(X_train, y_train, X_query, k, metric="euclidean", p=2.0,
                       weights="uniform"):
    """The (weighted) mean of the targets of each row of X_query's k nearest training rows, in
    float64; y_train may be 1-D or 2-D and the result has the same number of dimensions."""
    y_train = np.asarray(y_train, dtype=np.float64)
    if y_train.ndim not in (1, 2):
        raise ValueError(f"y_train must be 1-D or 2-D, got shape {y_train.shape}")
    y_2d = y_train.reshape(len(y_train), -1)
    distances, indices = kneighbors(X_query, X_train, k, metric, p)
    predictions = np.empty((len(indices), y_2d.shape[1]), dtype=np.float64)
    for i in range(len(indices)):
        w = _neighbor_weights(distances[i], weights)
        predictions[i] = w @ y_2d[indices[i]] / w.sum()
    return predictions[:, 0] if y_train.ndim == 1 else predictions
