"""Matrix factorization recommenders in plain NumPy: implicit-feedback ALS (Hu, Koren and
Volinsky), explicit ALS with optional biases, SGD, prediction and top-k recommendation. Everything
is float64, one user at a time, with closed forms solved by np.linalg.solve.

R is always a scipy.sparse users x items matrix in any format; it is read as CSR with duplicate
entries summed and explicit zeros dropped, so a stored entry means a nonzero rating."""
import numpy as np
import scipy.sparse as sp


def _as_csr(R):
    """R as a float64 CSR matrix with duplicates summed and explicit zeros dropped (a copy)."""
    if not sp.issparse(R):
        raise TypeError(f"R must be a scipy.sparse matrix, got {type(R).__name__}")
    R = sp.csr_matrix(R, dtype=np.float64, copy=True)
    R.sum_duplicates()
    R.eliminate_zeros()
    return R


def _as_implicit(R):
    """R as CSR, checking that every stored entry is a positive count or weight."""
    R = _as_csr(R)
    if R.nnz and R.data.min() < 0:
        raise ValueError("implicit feedback R must not hold negative values")
    return R


def _factors(A, n_rows, name):
    """A as a float64 2-d array with n_rows rows."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != n_rows:
        raise ValueError(f"{name} must have shape ({n_rows}, n_factors), got {A.shape}")
    return A


def _row(R, u):
    """(column indices, values) of the stored entries of row u of the CSR matrix R."""
    start, end = R.indptr[u], R.indptr[u + 1]
    return R.indices[start:end], R.data[start:end]


# ---------------------------------------------------------------------------------------------
# implicit feedback

def implicit_loss(R, X, Y, regularization, alpha):
    """The implicit-feedback objective over all user-item pairs.

    Parameters
    ----------
    R : sparse matrix of shape (n_users, n_items)
        Nonnegative interaction strengths r_ui; a stored entry means p_ui = 1.
    X, Y : array-like of shape (n_users, k) and (n_items, k)
        User and item factors.
    regularization, alpha : float
        L2 weight and confidence scale.

    Returns
    -------
    float
        sum_ui c_ui (p_ui - x_u . y_i)^2 + regularization (|X|_F^2 + |Y|_F^2), with
        c_ui = 1 + alpha r_ui (r_ui = 0 where nothing is stored).
    """
    R = _as_implicit(R)
    X = _factors(X, R.shape[0], "X")
    Y = _factors(Y, R.shape[1], "Y")
    dense = R.toarray()
    P = (dense > 0).astype(np.float64)
    C = 1.0 + alpha * dense
    E = P - X @ Y.T
    return float((C * E * E).sum() + regularization * ((X * X).sum() + (Y * Y).sum()))


def implicit_als_step(R, X, Y, regularization, alpha):
    """Every row of X replaced by its exact minimiser of `implicit_loss` with Y fixed.

    Parameters
    ----------
    R : sparse matrix of shape (n_users, n_items)
        Nonnegative interaction strengths; pass R.T to update the item factors.
    X : array-like of shape (n_users, k)
        Current user factors; only their shape is used.
    Y : array-like of shape (n_items, k)
        Fixed item factors.
    regularization, alpha : float
        L2 weight and confidence scale.

    Returns
    -------
    ndarray of shape (n_users, k), float64
        x_u solving (Y^T C_u Y + regularization I) x_u = Y^T C_u p_u; 0 for users without entries.
    """
    R = _as_implicit(R)
    X = _factors(X, R.shape[0], "X")
    Y = _factors(Y, R.shape[1], "Y")
    n_items, k = Y.shape
    X_new = np.zeros_like(X)
    for u in range(R.shape[0]):
        items, r = _row(R, u)
        if len(items) == 0:
            continue
        c = np.ones(n_items)
        c[items] += alpha * r
        p = np.zeros(n_items)
        p[items] = 1.0
        A = Y.T @ (c[:, None] * Y) + regularization * np.eye(k)
        X_new[u] = np.linalg.solve(A, Y.T @ (c * p))
    return X_new


def implicit_cg_step(R, X, Y, regularization, alpha, cg_steps):
    """Every row of X moved towards its minimiser of `implicit_loss` with Y fixed by cg_steps of
    conjugate gradient, warm-started at the row (the solver's fast path; with cg_steps >= k it
    reaches `implicit_als_step`'s solution up to rounding).

    Parameters
    ----------
    R : sparse matrix of shape (n_users, n_items)
        Nonnegative interaction strengths; pass R.T to update the item factors.
    X : array-like of shape (n_users, k)
        Current user factors, the starting points.
    Y : array-like of shape (n_items, k)
        Fixed item factors.
    regularization, alpha : float
    cg_steps : int
        Steps per row; a row stops early once its squared residual is below 1e-20.

    Returns
    -------
    ndarray of shape (n_users, k), float64
        0 for users without entries (their exact minimiser).
    """
    R = _as_implicit(R)
    X = _factors(X, R.shape[0], "X")
    Y = _factors(Y, R.shape[1], "Y")
    k = Y.shape[1]
    gram = Y.T @ Y + regularization * np.eye(k)
    X_new = np.zeros_like(X)
    for u in range(R.shape[0]):
        items, r = _row(R, u)
        if len(items) == 0:
            continue
        c = 1.0 + alpha * r
        A = gram + Y[items].T @ ((c - 1.0)[:, None] * Y[items])
        x = X[u].copy()
        residual = Y[items].T @ c - A @ x
        p = residual.copy()
        rs = residual @ residual
        for _ in range(cg_steps):
            if rs < 1e-20:
                break
            Ap = A @ p
            step = rs / (p @ Ap)
            x += step * p
            residual -= step * Ap
            rs_new = residual @ residual
            p = residual + rs_new / rs * p
            rs = rs_new
        X_new[u] = x
    return X_new


def implicit_als(R, X0, Y0, regularization, alpha, n_iter):
    """Alternating least squares for implicit feedback.

    Parameters
    ----------
    R : sparse matrix of shape (n_users, n_items)
    X0, Y0 : array-like of shape (n_users, k) and (n_items, k)
        Initial factors (not modified).
    regularization, alpha : float
    n_iter : int
        Number of sweeps, each updating X then Y.

    Returns
    -------
    X, Y : ndarray, float64
    losses : list of float
        `implicit_loss` after each sweep.
    """
    R = _as_implicit(R)
    X = _factors(X0, R.shape[0], "X0").copy()
    Y = _factors(Y0, R.shape[1], "Y0").copy()
    losses = []
    for _ in range(n_iter):
        X = implicit_als_step(R, X, Y, regularization, alpha)
        Y = implicit_als_step(R.T, Y, X, regularization, alpha)
        losses.append(implicit_loss(R, X, Y, regularization, alpha))
    return X, Y, losses


# ---------------------------------------------------------------------------------------------
# explicit feedback

def explicit_loss(R, X, Y, user_bias, item_bias, global_mean, regularization):
    """The explicit-feedback objective over the stored ratings.

    Parameters
    ----------
    R : sparse matrix of shape (n_users, n_items)
        Ratings; only stored entries count.
    X, Y : array-like of shape (n_users, k) and (n_items, k)
    user_bias, item_bias : array-like of shape (n_users,) and (n_items,)
        Zeros for a model without biases.
    global_mean : float
        0 for a model without biases.
    regularization : float

    Returns
    -------
    float
        sum_(u,i) (r_ui - global_mean - b_u - b_i - x_u . y_i)^2
        + regularization (|X|^2 + |Y|^2 + |b_user|^2 + |b_item|^2).
    """
    R = _as_csr(R)
    X = _factors(X, R.shape[0], "X")
    Y = _factors(Y, R.shape[1], "Y")
    user_bias = np.asarray(user_bias, dtype=np.float64)
    item_bias = np.asarray(item_bias, dtype=np.float64)
    total = 0.0
    for u in range(R.shape[0]):
        items, r = _row(R, u)
        e = r - global_mean - user_bias[u] - item_bias[items] - Y[items] @ X[u]
        total += (e * e).sum()
    penalty = (X * X).sum() + (Y * Y).sum() + (user_bias ** 2).sum() + (item_bias ** 2).sum()
    return float(total + regularization * penalty)


def explicit_als_step(R, Y, item_bias, global_mean, regularization, biases):
    """Every user's factors (and bias) as the exact minimiser of `explicit_loss` with Y fixed.

    Parameters
    ----------
    R : sparse matrix of shape (n_users, n_items)
        Ratings; pass R.T (with the user side as Y) to update the items.
    Y : array-like of shape (n_items, k)
        Fixed item factors.
    item_bias : array-like of shape (n_items,)
        Fixed item biases; ignored without biases.
    global_mean : float
        Ignored without biases.
    regularization : float
    biases : bool
        Whether to fit a bias per user.

    Returns
    -------
    X : ndarray of shape (n_users, k), float64
    user_bias : ndarray of shape (n_users,), float64
        Zeros without biases; users without ratings get x_u = 0 and b_u = 0.
    """
    R = _as_csr(R)
    Y = _factors(Y, R.shape[1], "Y")
    item_bias = np.asarray(item_bias, dtype=np.float64)
    n_users, k = R.shape[0], Y.shape[1]
    X = np.zeros((n_users, k))
    user_bias = np.zeros(n_users)
    for u in range(n_users):
        items, r = _row(R, u)
        if len(items) == 0:
            continue
        if biases:
            # The bias is one more factor whose item side is the constant 1.
            Z = np.hstack([Y[items], np.ones((len(items), 1))])
            t = r - global_mean - item_bias[items]
            w = np.linalg.solve(Z.T @ Z + regularization * np.eye(k + 1), Z.T @ t)
            X[u], user_bias[u] = w[:k], w[k]
        else:
            Y_I = Y[items]
            X[u] = np.linalg.solve(Y_I.T @ Y_I + regularization * np.eye(k), Y_I.T @ r)
    return X, user_bias


def explicit_als(R, Y0, regularization, n_iter, biases):
    """Alternating least squares on explicit ratings.

    Parameters
    ----------
    R : sparse matrix of shape (n_users, n_items)
    Y0 : array-like of shape (n_items, k)
        Initial item factors (not modified); X is computed from them first.
    regularization : float
    n_iter : int
        Number of sweeps (>= 1), each updating (X, user_bias) then (Y, item_bias).
    biases : bool

    Returns
    -------
    X, Y : ndarray, float64
    user_bias, item_bias : ndarray, float64
    global_mean : float
        Mean of the stored ratings with biases, else 0.0.
    losses : list of float
        `explicit_loss` after each sweep.
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    R = _as_csr(R)
    Y = _factors(Y0, R.shape[1], "Y0").copy()
    global_mean = float(R.data.mean()) if biases and R.nnz else 0.0
    item_bias = np.zeros(R.shape[1])
    losses = []
    for _ in range(n_iter):
        X, user_bias = explicit_als_step(R, Y, item_bias, global_mean, regularization, biases)
        Y, item_bias = explicit_als_step(R.T, X, user_bias, global_mean, regularization, biases)
        losses.append(explicit_loss(R, X, Y, user_bias, item_bias, global_mean, regularization))
    return X, Y, user_bias, item_bias, global_mean, losses


# ---------------------------------------------------------------------------------------------
# SGD

def sgd_epoch(users, items, ratings, X, Y, user_bias, item_bias, global_mean, learning_rate,
              regularization, biases, order):
    """One SGD pass over the ratings in the given order, updating the parameters in place.

    Parameters
    ----------
    users, items, ratings : array-like of shape (n_ratings,)
        The ratings as (user, item, value) triplets.
    X, Y : ndarray of shape (n_users, k) and (n_items, k), float64
        Factors, updated in place.
    user_bias, item_bias : ndarray of shape (n_users,) and (n_items,), float64
        Biases, updated in place with biases, left alone without.
    global_mean : float
        Used as given in the error (callers pass 0 without biases).
    learning_rate, regularization : float
    biases : bool
    order : array-like of int
        Indices into the triplets, visited in this order.

    Returns
    -------
    None
    """
    for name, A in (("X", X), ("Y", Y), ("user_bias", user_bias), ("item_bias", item_bias)):
        # Updates in place only reach the caller through float64 ndarrays.
        if not isinstance(A, np.ndarray) or A.dtype != np.float64:
            raise TypeError(f"{name} must be a float64 ndarray")
    lr, reg = learning_rate, regularization
    for j in order:
        u, i, r = users[j], items[j], float(ratings[j])
        e = r - (global_mean + user_bias[u] + item_bias[i] + X[u] @ Y[i])
        if biases:
            user_bias[u] += lr * (e - reg * user_bias[u])
            item_bias[i] += lr * (e - reg * item_bias[i])
        x = X[u].copy()
        X[u] += lr * (e * Y[i] - reg * X[u])
        Y[i] += lr * (e * x - reg * Y[i])


def sgd(users, items, ratings, X0, Y0, learning_rate, regularization, biases, orders):
    """SGD training, one `sgd_epoch` per entry of orders.

    Parameters
    ----------
    users, items, ratings : array-like of shape (n_ratings,)
    X0, Y0 : array-like of shape (n_users, k) and (n_items, k)
        Initial factors (not modified); their lengths give the shape of R.
    learning_rate, regularization : float
    biases : bool
    orders : list of array-like of int
        The visiting order of each epoch.

    Returns
    -------
    X, Y : ndarray, float64
    user_bias, item_bias : ndarray, float64
    global_mean : float
        ratings.mean() with biases, else 0.0.
    losses : list of float
        `explicit_loss` after each epoch, on R built from the triplets (so duplicate pairs are
        summed and zero ratings dropped there, unlike in the updates).
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    ratings = np.asarray(ratings, dtype=np.float64)
    X = np.array(X0, dtype=np.float64)
    Y = np.array(Y0, dtype=np.float64)
    user_bias = np.zeros(len(X))
    item_bias = np.zeros(len(Y))
    global_mean = float(ratings.mean()) if biases else 0.0
    R = sp.coo_matrix((ratings, (users, items)), shape=(len(X), len(Y)))
    losses = []
    for order in orders:
        sgd_epoch(users, items, ratings, X, Y, user_bias, item_bias, global_mean, learning_rate,
                  regularization, biases, np.asarray(order))
        losses.append(explicit_loss(R, X, Y, user_bias, item_bias, global_mean, regularization))
    return X, Y, user_bias, item_bias, global_mean, losses


# ---------------------------------------------------------------------------------------------
# prediction and recommendation

def predict(X, Y, user_bias, item_bias, global_mean, user_ids, item_ids):
    """Predicted ratings of (user, item) pairs.

    Parameters
    ----------
    X, Y : array-like of shape (n_users, k) and (n_items, k)
    user_bias, item_bias : array-like of shape (n_users,) and (n_items,)
    global_mean : float
    user_ids, item_ids : array-like of int, same length

    Returns
    -------
    ndarray of shape (len(user_ids),), float64
        global_mean + b_u + b_i + x_u . y_i for each pair.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    user_bias = np.asarray(user_bias, dtype=np.float64)
    item_bias = np.asarray(item_bias, dtype=np.float64)
    out = np.empty(len(user_ids))
    for j, (u, i) in enumerate(zip(user_ids, item_ids)):
        out[j] = global_mean + user_bias[u] + item_bias[i] + X[u] @ Y[i]
    return out


def recommend(X, Y, R, user_ids, k, filter_seen, item_bias=None):
    """The k best-scoring items of each user.

    Parameters
    ----------
    X, Y : array-like of shape (n_users, k_factors) and (n_items, k_factors)
    R : sparse matrix of shape (n_users, n_items) or None
        Interactions whose stored items are excluded when filter_seen; may be None otherwise.
    user_ids : array-like of int
    k : int
    filter_seen : bool
    item_bias : array-like of shape (n_items,), optional
        Added to the scores.

    Returns
    -------
    items : ndarray of shape (len(user_ids), k), int64
        By score descending, ties to the lower item index; -1 where fewer than k items remain.
    scores : ndarray of shape (len(user_ids), k), float64
        x_u . y_i (+ b_i); -inf in the padding.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if filter_seen:
        R = _as_csr(R)
    n_items = len(Y)
    out_items = np.full((len(user_ids), k), -1, dtype=np.int64)
    out_scores = np.full((len(user_ids), k), -np.inf)
    for row, u in enumerate(user_ids):
        scores = X[u] @ Y.T
        if item_bias is not None:
            scores = scores + np.asarray(item_bias, dtype=np.float64)
        candidates = np.arange(n_items)
        if filter_seen:
            candidates = np.setdiff1d(candidates, _row(R, u)[0])
        # candidates ascend, so a stable sort keeps the lower index first among equal scores.
        best = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
        out_items[row, :len(best)] = best
        out_scores[row, :len(best)] = scores[best]
    return out_items, out_scores
