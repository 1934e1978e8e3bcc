"""The SGD epoch (fastml.linear_model._sgd_fast) in plain NumPy, float64 throughout: a per-sample
loop on an explicit weight vector (no scale factor, no lazy averaging), written as directly as
the maths allows. Sparse X is densified, and the L1 truncated gradient only touches the sample's
nonzero features, as the compiled epoch does. For small tests."""
import numpy as np
import scipy.sparse as sp
from scipy.special import expit


def loss(name, y, p, c):
    """The per-sample loss of `name` (c: the hinge threshold or the epsilon)."""
    if name == "hinge":
        return max(0.0, c - p * y)
    if name == "squared_hinge":
        return max(0.0, c - p * y) ** 2
    if name == "modified_huber":
        z = p * y
        return 0.0 if z >= 1 else ((1 - z) ** 2 if z >= -1 else -4 * z)
    if name == "log_loss":
        return np.logaddexp(0.0, p) - y * p
    if name == "squared_error":
        return 0.5 * (p - y) ** 2
    r = abs(y - p)
    if name == "huber":
        return 0.5 * r * r if r <= c else c * (r - 0.5 * c)
    if name == "epsilon_insensitive":
        return max(0.0, r - c)
    return max(0.0, r - c) ** 2  # squared_epsilon_insensitive


def gradient(name, y, p, c):
    """d loss / d p."""
    if name == "hinge":
        return -y if p * y <= c else 0.0
    if name == "squared_hinge":
        return -2 * y * max(0.0, c - p * y)
    if name == "modified_huber":
        z = p * y
        return 0.0 if z >= 1 else (-2 * (1 - z) * y if z >= -1 else -4 * y)
    if name == "log_loss":
        return expit(p) - y
    if name == "squared_error":
        return p - y
    if name == "huber":
        return float(np.clip(p - y, -c, c))
    if name == "epsilon_insensitive":
        return -1.0 if y - p > c else (1.0 if p - y > c else 0.0)
    z = y - p  # squared_epsilon_insensitive
    return -2 * (z - c) if z > c else (2 * (-z - c) if z < -c else 0.0)


def epoch(X, y, sample_weight, order, w, intercept, *, loss_name, c=1.0, penalty="l2",
          alpha=1e-4, l1_ratio=0.15, schedule="optimal", eta0=0.01, power_t=0.5,
          optimal_init=1.0, t=1.0, fit_intercept=True, weight_pos=1.0, weight_neg=1.0,
          intercept_decay=1.0, average=0, average_w=None, average_intercept=0.0, q=None, u=0.0,
          skip=None):
    """One pass over the rows of X in `order` (skipping rows where `skip` is set).

    Returns a dict of the new w, intercept, t, u, q, average_w, average_intercept and the summed
    loss. Per sample: the step eta of the schedule; w <- w (1 - (1 - l1_ratio) eta alpha) for
    the l2 part; w <- w - eta g sw cw x and the intercept likewise; the running mean of w
    from step `average` on; then the L1 part as truncated gradient (Tsuruoka et al. 2009): each
    feature of x moves towards zero by the penalty accumulated since it last moved, never
    crossing zero.
    """
    nonzero = (X != 0).toarray() if sp.issparse(X) else np.ones(X.shape, dtype=bool)
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    w = np.array(w, dtype=np.float64)
    l1_ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, l1_ratio)
    q = np.zeros_like(w) if q is None else np.array(q, dtype=np.float64)
    average_w = np.zeros_like(w) if average_w is None else np.array(average_w, np.float64)
    total = 0.0
    for i in order:
        if skip is not None and skip[i]:
            continue
        x, yi = X[i], float(y[i])
        p = float(w @ x) + intercept
        eta = {"optimal": lambda: 1.0 / (alpha * (optimal_init + t - 1)),
               "invscaling": lambda: eta0 / t ** power_t}.get(schedule, lambda: eta0)()
        total += loss(loss_name, yi, p, c)
        step = -eta * gradient(loss_name, yi, p, c) * (weight_pos if yi > 0 else weight_neg)
        step *= float(sample_weight[i])
        if penalty in ("l2", "elasticnet"):
            w *= max(0.0, 1.0 - (1.0 - l1_ratio) * eta * alpha)
        w += step * x
        if fit_intercept:
            intercept += step * intercept_decay
        if 0 < average <= t:
            k = t - average + 1
            average_w += (w - average_w) / k
            average_intercept += (intercept - average_intercept) / k
        if penalty in ("l1", "elasticnet"):
            u += l1_ratio * eta * alpha
            for j in np.flatnonzero(nonzero[i]):
                before = w[j]
                if w[j] > 0:
                    w[j] = max(0.0, w[j] - (u + q[j]))
                elif w[j] < 0:
                    w[j] = min(0.0, w[j] + (u - q[j]))
                q[j] += w[j] - before
        t += 1
    return dict(w=w, intercept=intercept, t=t, u=u, q=q, average_w=average_w,
                average_intercept=average_intercept, loss=total)
