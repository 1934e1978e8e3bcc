"""Greedy CART in plain NumPy: depth-first growth with an exact split search, the oracle of the C++
tree core. It follows fastml's CART conventions (scikit-learn's `Tree` arrays, nodes in depth-first
preorder, features visited in index order, missing values tried on both sides of every threshold,
or routed by surrogate splits) in float64 throughout; it is written for clarity, not speed.

Several outputs (y of shape (n_samples, n_outputs)) follow scikit-learn's criteria: a split's proxy
is the sum of the outputs' proxies (friedman_mse: the proxy of the outputs' summed targets) and a
node's impurity the mean of the outputs' impurities."""
import numpy as np
from scipy.special import xlogy

#: Tolerance of the pure-node test, the Poisson child sums, the min_impurity_decrease test and the
#: test of a surrogate against the majority rule.
EPS = 10 * np.finfo(np.float64).eps
#: Surrogate splits kept per split.
MAX_SURROGATES = 5
CLASSIFICATION = ("gini", "entropy", "log_loss")
REGRESSION = ("squared_error", "friedman_mse", "poisson", "absolute_error")


def _impurity(criterion, y, w, n_classes=1):
    """The impurity of the node holding the rows (y, w): y of shape (n,), or (n, n_outputs) with
    n_classes a list of one class count per output, whose impurities are averaged."""
    if y.ndim == 2:
        counts = np.broadcast_to(n_classes, y.shape[1])
        return np.mean([_impurity(criterion, y[:, o], w, counts[o]) for o in range(y.shape[1])])
    total = w.sum()
    if criterion in CLASSIFICATION:
        p = np.bincount(y, weights=w, minlength=n_classes) / total
        if criterion == "gini":
            return 1.0 - (p ** 2).sum()
        p = p[p > 0]  # 0 log 0 = 0
        return -(p * np.log2(p)).sum()
    if criterion == "absolute_error":
        return (w * np.abs(y - weighted_median(y, w))).sum() / total
    s = (w * y).sum()
    if criterion == "poisson":
        # xlogy(a, b) = a log b, 0 at a = 0 (a child whose y are all 0 has impurity 0).
        return ((w * xlogy(y, y)).sum() - xlogy(s, s / total)) / total
    return (w * y * y).sum() / total - (s / total) ** 2


def weighted_median(y, w):
    """scikit-learn's weighted median, the value of an absolute-error node: the smallest y whose
    cumulative weight (in ascending y) exceeds half the total, or the mean of it and the y
    before it when the cumulative weight of the ones before meets half exactly."""
    order = np.argsort(y, kind="stable")
    ys, cum_w = y[order], np.cumsum(w[order])
    half = 0.5 * cum_w[-1]
    i = int(np.searchsorted(cum_w, half, side="right"))
    return (ys[i - 1] + ys[i]) / 2 if i > 0 and cum_w[i - 1] == half else ys[i]


def _proxy(criterion, L, R, n_outputs):
    """The proxy impurity improvement of the candidates whose left and right children have the
    summed statistics L and R (a row per candidate: the weight, then the weighted class counts of
    every output or the weighted sum of y of every output), summed over the outputs."""
    wL, wR = L[:, 0], R[:, 0]
    if criterion == "gini":
        return (L[:, 1:] ** 2).sum(axis=1) / wL + (R[:, 1:] ** 2).sum(axis=1) / wR
    if criterion in ("entropy", "log_loss"):
        # -w H = sum_k c_k log2(c_k / w) = (sum_k c_k ln c_k - w ln w) / ln 2 per output, with
        # 0 ln 0 = 0; a count of R = total - L can round to just below 0 where the class is absent.
        CL, CR = np.maximum(L[:, 1:], 0.0), np.maximum(R[:, 1:], 0.0)
        return (xlogy(CL, CL).sum(axis=1) - n_outputs * xlogy(wL, wL)
                + xlogy(CR, CR).sum(axis=1) - n_outputs * xlogy(wR, wR)) / np.log(2.0)
    sL, sR = L[:, 1:], R[:, 1:]
    if criterion == "squared_error":
        return (sL ** 2).sum(axis=1) / wL + (sR ** 2).sum(axis=1) / wR
    if criterion == "friedman_mse":  # scikit-learn's: the outputs' sums added first
        return (wR * sL.sum(axis=1) - wL * sR.sum(axis=1)) ** 2 / (wL * wR)
    # poisson; the candidates with a child sum <= EPS are invalid and never read.
    with np.errstate(divide="ignore", invalid="ignore"):
        return (sL * np.log(sL / wL[:, None]) + sR * np.log(sR / wR[:, None])).sum(axis=1)


def _parent_term(criterion, y, w, S):
    """The proxy's term of the rows (y, w) with per-row statistics S left unsplit: proxy minus
    it is the split's weighted impurity decrease (friedman_mse apart: see _best_split)."""
    if criterion == "absolute_error":
        return -_impurity(criterion, y, w) * w.sum()
    T = S.sum(axis=0)
    w, n_outputs = T[0], y.shape[1]
    if criterion == "gini":
        return (T[1:] ** 2).sum() / w
    if criterion in ("entropy", "log_loss"):
        C = np.maximum(T[1:], 0.0)
        return (xlogy(C, C).sum() - n_outputs * xlogy(w, w)) / np.log(2.0)
    if criterion == "squared_error":
        return (T[1:] ** 2).sum() / w
    return sum(s * np.log(s / w) for s in T[1:] if s > EPS)  # poisson


def _best_split(X, y, w, S, criterion, min_samples_leaf, min_weight_leaf, surrogates=False):
    """The best split of the node holding the rows (X, y, w) with per-row statistics S, as
    (feature, threshold, missing_go_to_left, left mask of the rows present on the feature),
    or None when no candidate is valid. With surrogates, a feature's candidates split the rows
    present on it alone, their proxies shifted by parent term(node) - parent term(present rows)
    (friedman_mse's, the rows' weight times their decrease, scaled by the node's weight over
    theirs) so that they compare across features as impurity decreases."""
    n = len(X)
    total = S.sum(axis=0)
    n_outputs = y.shape[1]
    best_proxy, best = -np.inf, None
    for f in range(X.shape[1]):
        x = X[:, f]
        missing = np.isnan(x)
        n_missing = int(missing.sum())
        order = np.flatnonzero(~missing)
        if len(order) == 0:
            continue
        order = order[np.argsort(x[order], kind="stable")]
        xs = x[order]
        # Split after sorted position i when xs[i + 1] is more than scikit-learn's
        # FEATURE_THRESHOLD above xs[i]; k rows of `order` then go left.
        i = np.flatnonzero(xs[1:] > xs[:-1] + 1e-7)
        a, b = xs[i], xs[i + 1]
        threshold = a / 2.0 + b / 2.0  # halves, so that large values do not overflow
        threshold = np.where((threshold == b) | np.isinf(threshold), a, threshold)
        k = i + 1
        missing_left = np.zeros(len(k), dtype=bool)
        scale, shift, node_total = 1.0, 0.0, total
        if surrogates:
            if n_missing:
                node_total = total - S[missing].sum(axis=0)
                if criterion == "friedman_mse":  # its proxy: the rows' weight x their decrease
                    scale = total[0] / node_total[0]
                else:
                    shift = (_parent_term(criterion, y, w, S)
                             - _parent_term(criterion, y[~missing], w[~missing], S[~missing]))
            n_missing, n = 0, len(order)  # the missing rows take no part
        elif n_missing:
            # Candidates in scikit-learn's tie-breaking order: every threshold with the missing
            # rows right, then every non-missing row left and the missing rows right, then every
            # threshold with the missing rows left.
            k = np.concatenate([k, [len(order)], k])
            threshold = np.concatenate([threshold, [np.inf], threshold])
            missing_left = np.concatenate([np.zeros(len(i) + 1, dtype=bool),
                                           np.ones(len(i), dtype=bool)])

        L = np.cumsum(S[order], axis=0)[k - 1] + np.outer(missing_left, S[missing].sum(axis=0))
        R = node_total - L
        n_left = k + missing_left * n_missing
        n_right = n - n_left
        valid = ((n_left >= min_samples_leaf) & (n_right >= min_samples_leaf)
                 & (L[:, 0] >= min_weight_leaf) & (R[:, 0] >= min_weight_leaf))
        if criterion == "poisson":
            valid &= ((L[:, 1:] > EPS) & (R[:, 1:] > EPS)).all(axis=1)
        if not valid.any():
            continue

        def left_mask(j):
            mask = np.zeros(len(X), dtype=bool)
            mask[order[:k[j]]] = True
            return mask | (missing & missing_left[j])

        if criterion == "absolute_error":
            # One candidate at a time: no running statistic gives the children's medians.
            proxy = np.full(len(k), -np.inf)
            for j in np.flatnonzero(valid):
                left = left_mask(j)
                right = ~left & (~missing if surrogates else True)
                proxy[j] = -(_impurity(criterion, y[left], w[left]) * L[j, 0]
                             + _impurity(criterion, y[right], w[right]) * R[j, 0])
        else:
            proxy = np.where(valid, _proxy(criterion, L, R, n_outputs), -np.inf)
        proxy = proxy * scale + shift
        j = int(np.argmax(proxy))  # the first of equal proxies
        # Strictly larger, so that the first feature of equal proxies wins.
        if proxy[j] > best_proxy:
            go_left = missing_left[j] if n_missing else n_left[j] > n_right[j]
            best_proxy, best = proxy[j], (f, threshold[j], bool(go_left), left_mask(j))
    return best


def _surrogates(X, w, feature, left):
    """The surrogate splits of the split of X's rows on `feature` that sends the rows present
    on it left where `left` is True: on every other feature, the threshold split (values <=
    threshold left, or right when reversed) that routes the largest weight of the rows present
    on both features as the split does, the first of the candidates in ascending threshold
    order (normal before reversed) of equal agreement, kept when its agreement beats the majority
    rule's (all to the heavier side) on those rows by more than EPS of their weight. The
    threshold lies midway between the candidate's value and the next value any row of X holds.
    A list of (feature, threshold, reversed), the most agreeing first (ties: the lower
    feature), at most MAX_SURROGATES."""
    present_f = ~np.isnan(X[:, feature])
    found = []
    for g in range(X.shape[1]):
        if g == feature:
            continue
        x = X[:, g]
        rows = np.flatnonzero(present_f & ~np.isnan(x))
        rows = rows[np.argsort(x[rows], kind="stable")]
        if len(rows) < 2:
            continue
        xs, ws, goes_left = x[rows], w[rows], left[rows]
        # running weights going left and right by the split, summed in ascending value order
        cum_left = np.cumsum(np.where(goes_left, ws, 0.0))
        cum_right = np.cumsum(np.where(goes_left, 0.0, ws))
        total_left, total_right = cum_left[-1], cum_right[-1]
        i = np.flatnonzero(xs[:-1] < xs[1:])  # candidates after sorted position i
        if len(i) == 0:
            continue
        agreement = cum_left[i] + (total_right - cum_right[i])
        reversed_agreement = cum_right[i] + (total_left - cum_left[i])
        both = np.column_stack([agreement, reversed_agreement]).ravel()
        j = int(np.argmax(both))
        if both[j] - max(total_left, total_right) <= EPS * (total_left + total_right):
            continue
        a = xs[i[j // 2]]
        b = np.min(x[x > a])  # NaN compares False
        threshold = a / 2.0 + b / 2.0
        if threshold == b or np.isinf(threshold):
            threshold = a
        found.append((both[j], g, threshold, bool(j % 2)))
    found.sort(key=lambda s: -s[0])  # stable: equal agreements keep the lower feature first
    return [s[1:] for s in found[:MAX_SURROGATES]]


def _route_missing(X, feature, left, surrogates):
    """The split's left mask over all rows: the rows missing `feature` follow the first surrogate
    they have a value for, else the side with more of the rows present on `feature` (as
    scikit-learn routes missing values unseen in training)."""
    missing = np.isnan(X[:, feature])
    majority_left = (left & ~missing).sum() > (~left & ~missing).sum()
    left = left.copy()
    for r in np.flatnonzero(missing):
        left[r] = _surrogate_side(X[r], surrogates, majority_left)
    return left, bool(majority_left)


def _surrogate_side(x, surrogates, fallback):
    """Whether the row x goes left by the first surrogate it has a value for."""
    for g, threshold, reversed_ in surrogates:
        if not np.isnan(x[g]):
            return (x[g] <= threshold) != reversed_
    return fallback


def _improvement(criterion, y, w, left, impurity, root_weight, n_classes):
    """The weighted impurity decrease of splitting the node holding the rows (y, w) by `left`."""
    node_w, wL, wR = w.sum(), w[left].sum(), w[~left].sum()
    if criterion == "friedman_mse":  # scikit-learn's: the outputs' sums added first
        sL, sR = (w[:, None] * y)[left].sum(), (w[:, None] * y)[~left].sum()
        return ((wR * sL - wL * sR) / y.shape[1]) ** 2 / (wL * wR * node_w)
    imp_left = _impurity(criterion, y[left], w[left], n_classes)
    imp_right = _impurity(criterion, y[~left], w[~left], n_classes)
    return node_w / root_weight * (impurity - wL / node_w * imp_left - wR / node_w * imp_right)


def build_tree(X, y, *, criterion="gini", n_classes=None, sample_weight=None, max_depth=None,
               min_samples_split=2, min_samples_leaf=1, min_weight_fraction_leaf=0.0,
               min_impurity_decrease=0.0, missing_values="learn"):
    """Grow a CART tree depth first with an exact split search: a dict of scikit-learn's node
    arrays (children_left, children_right, feature, threshold, missing_go_to_left, impurity,
    n_node_samples, weighted_n_node_samples, and value of shape (n_nodes, n_outputs, K) holding
    each output's weighted class fractions (zeros past its classes; K the most classes of an
    output), or (n_nodes, n_outputs, 1) holding the weighted mean of y, its weighted median for
    absolute_error), nodes in depth-first preorder. X is float, NaN marking a missing value; y,
    of shape (n_samples,) or (n_samples, n_outputs), holds class indices 0..n_classes-1 for
    gini, entropy and log_loss (n_classes required: an int for every output, or a list of one
    per output), floats for squared_error, friedman_mse, poisson and absolute_error. The
    stopping rules are
    scikit-learn's (integer counts only). missing_values="surrogate" searches each feature over
    the rows present on it and routes the missing ones by surrogate splits (`_surrogates`),
    returned as surrogate_ptr (n_nodes + 1), surrogate_feature, surrogate_threshold and
    surrogate_reversed."""
    X = np.asarray(X, dtype=np.float64)
    if criterion not in CLASSIFICATION + REGRESSION:
        raise ValueError(f"unknown criterion {criterion!r}")
    if missing_values not in ("learn", "surrogate"):
        raise ValueError(f"unknown missing_values {missing_values!r}")
    use_surrogates = missing_values == "surrogate"
    y = np.asarray(y)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if (X.ndim != 2 or y.ndim not in (1, 2) or len(y) != len(X) or y.size == 0
            or w.shape != (len(X),)):
        raise ValueError("X must be 2-D, y (n_samples,) or (n_samples, n_outputs) and "
                         "sample_weight 1-D, with one entry per row of X")
    y = y.reshape(len(X), -1)  # (n_samples, n_outputs)
    n_outputs = y.shape[1]
    if criterion in REGRESSION:
        y, n_classes = y.astype(np.float64), np.ones(n_outputs, dtype=np.int64)
    elif n_classes is None:
        raise ValueError(f"n_classes is required for criterion={criterion!r}")
    else:
        n_classes = np.broadcast_to(np.asarray(n_classes, dtype=np.int64), (n_outputs,))
        if not all(np.isin(y[:, o], np.arange(n_classes[o])).all() for o in range(n_outputs)):
            raise ValueError(f"y must hold class indices in [0, n_classes) = {n_classes}")
        y = y.astype(np.int64)
    keep = w != 0  # rows of weight 0 take no part at all, not even in n_node_samples
    X, y, w = X[keep], y[keep], w[keep]
    if criterion == "poisson" and (np.any(y < 0) or (w[:, None] * y).sum() <= 0):
        raise ValueError("poisson needs y >= 0 with a positive weighted sum")

    # Additive per-row statistics: the weight, then every output's weighted class counts or w * y.
    if criterion in CLASSIFICATION:
        S = np.column_stack([w] + [w[:, None] * (y[:, [o]] == np.arange(n_classes[o]))
                                   for o in range(n_outputs)])
    else:
        S = np.column_stack([w[:, None], w[:, None] * y])
    max_classes = int(n_classes.max())
    root_weight = w.sum()
    min_weight_leaf = min_weight_fraction_leaf * root_weight
    max_depth = np.inf if max_depth is None else max_depth

    names = ("children_left", "children_right", "feature", "threshold", "missing_go_to_left",
             "impurity", "n_node_samples", "weighted_n_node_samples", "value")
    dtypes = (np.int64,) * 3 + (np.float64, np.uint8, np.float64, np.int64, np.float64, np.float64)
    nodes = {name: [] for name in names}
    node_surrogates = []
    # A stack of (rows, depth, parent, is_left); the left child is pushed last so that it is
    # popped first, which numbers the nodes in preorder.
    stack = [(np.arange(len(X)), 0, -1, False)]
    while stack:
        rows, depth, parent, is_left = stack.pop()
        node = len(nodes["feature"])
        if parent >= 0:
            nodes["children_left" if is_left else "children_right"][parent] = node
        node_y, node_w, weight = y[rows], w[rows], w[rows].sum()
        impurity = _impurity(criterion, node_y, node_w, n_classes)
        split = None
        if not (depth >= max_depth or len(rows) < min_samples_split
                or len(rows) < 2 * min_samples_leaf or weight < 2 * min_weight_leaf
                or impurity <= EPS):
            split = _best_split(X[rows], node_y, node_w, S[rows], criterion, min_samples_leaf,
                                min_weight_leaf, use_surrogates)
        surrogates = []
        if split is not None and use_surrogates:
            feature, threshold, _, left = split
            surrogates = _surrogates(X[rows], node_w, feature, left)
            left, go_left = _route_missing(X[rows], feature, left, surrogates)
            split = (feature, threshold, go_left, left)
        if split is not None:
            improvement = _improvement(criterion, node_y, node_w, split[3], impurity,
                                       root_weight, n_classes)
            if improvement + EPS < min_impurity_decrease:
                split, surrogates = None, []
        node_surrogates.append(surrogates)

        feature, threshold, go_left = (-2, -2.0, False) if split is None else split[:3]
        if criterion == "absolute_error":
            value = [weighted_median(node_y[:, o], node_w) for o in range(n_outputs)]
        else:  # per output, the class fractions padded with zeros to max_classes, or the mean
            fractions = np.split(S[rows, 1:].sum(axis=0) / weight, np.cumsum(n_classes)[:-1])
            value = np.concatenate([np.pad(f, (0, max_classes - len(f))) for f in fractions])
        for name, v in zip(names, (-1, -1, feature, threshold, go_left, impurity, len(rows),
                                   weight, value)):
            nodes[name].append(v)
        if split is not None:
            stack.append((rows[~split[3]], depth + 1, node, False))
            stack.append((rows[split[3]], depth + 1, node, True))

    tree = {name: np.array(nodes[name], dtype=dtype) for name, dtype in zip(names, dtypes)}
    tree["value"] = tree["value"].reshape(len(tree["feature"]), n_outputs, max_classes)
    flat = [s for node in node_surrogates for s in node]
    tree["surrogate_ptr"] = np.concatenate([[0], np.cumsum([len(s) for s in node_surrogates])
                                            ]).astype(np.int64)
    tree["surrogate_feature"] = np.array([s[0] for s in flat], dtype=np.int64)
    tree["surrogate_threshold"] = np.array([s[1] for s in flat], dtype=np.float64)
    tree["surrogate_reversed"] = np.array([s[2] for s in flat], dtype=np.uint8)
    return tree


def apply(tree, X):
    """The leaf (int64) each row of X reaches: x <= threshold goes left; NaN follows the node's
    surrogate splits (when the tree has surrogate_ptr), then goes left iff missing_go_to_left."""
    X = np.asarray(X, dtype=np.float64)
    node = np.zeros(len(X), dtype=np.int64)
    while True:
        rows = np.flatnonzero(tree["children_left"][node] != -1)
        if len(rows) == 0:
            return node
        at = node[rows]
        x = X[rows, tree["feature"][at]]
        go_left = np.where(np.isnan(x), tree["missing_go_to_left"][at] == 1,
                           x <= tree["threshold"][at])
        if "surrogate_ptr" in tree:
            ptr = tree["surrogate_ptr"]
            for j in np.flatnonzero(np.isnan(x)):
                entries = range(ptr[at[j]], ptr[at[j] + 1])
                surrogates = [(tree["surrogate_feature"][e], tree["surrogate_threshold"][e],
                               tree["surrogate_reversed"][e] != 0) for e in entries]
                go_left[j] = _surrogate_side(X[rows[j]], surrogates, go_left[j])
        node[rows] = np.where(go_left, tree["children_left"][at], tree["children_right"][at])


def predict_value(tree, X):
    """The value rows, shape (n_samples, 1, K), of the leaves the rows of X reach."""
    return tree["value"][apply(tree, X)]
