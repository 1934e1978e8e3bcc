"""Histogram gradient boosting in plain NumPy, float64: what the C++ booster
(fastml.ensemble._boost_fast) computes, written as directly as possible: the losses' gradients
and hessians, a node's best split over bin codes (scikit-learn's gain and rules, categorical
features' too), and one boosting step on a given tree structure (rows routed, leaf values
-G / (H + l2) times the learning rate, raw predictions updated)."""
import numpy as np

MISSING_BIN = 255


def gradients(loss, y, raw, sample_weight=None, quantile=None):
    """(g, h), each (n_samples, n_outputs): the loss's gradient and hessian at raw
    (n_samples, n_outputs), times sample_weight. loss: squared_error, absolute_error, quantile,
    poisson, gamma, binomial (one output) or multinomial (y the class indices)."""
    y = np.asarray(y, dtype=np.float64)
    raw = np.asarray(raw, dtype=np.float64).reshape(len(y), -1)
    r = raw[:, 0]
    if loss == "squared_error":
        g, h = r - y, np.ones_like(r)
    elif loss == "absolute_error":
        g, h = np.where(r > y, 1.0, -1.0), np.ones_like(r)
    elif loss == "quantile":
        g, h = np.where(y >= r, -quantile, 1.0 - quantile), np.ones_like(r)
    elif loss == "poisson":
        g, h = np.exp(r) - y, np.exp(r)
    elif loss == "gamma":
        g, h = 1.0 - y * np.exp(-r), y * np.exp(-r)
    elif loss == "binomial":
        p = 1.0 / (1.0 + np.exp(-r))
        g, h = p - y, p * (1.0 - p)
    elif loss == "multinomial":
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        onehot = (y[:, None] == np.arange(raw.shape[1])).astype(np.float64)
        g, h = p - onehot, p * (1.0 - p)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    g, h = g.reshape(len(y), -1), h.reshape(len(y), -1)
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)[:, None]
        g, h = g * w, h * w
    return g, h


def node_value(sum_g, sum_h, l2):
    return -sum_g / (sum_h + l2 + 1e-15)


def best_split(codes, g, h, rows, n_bins_non_missing, min_samples_leaf=20, l2=0.0,
               min_hessian_to_split=1e-3, constant_hessian=False, value=None):
    """The best split of the node holding rows, as (gain, feature, bin, missing_go_to_left), or
    None: every threshold of every feature tried with the missing values on either side (left
    only when the feature has some), gain = loss(node) - loss(left) - loss(right) with
    loss(node) = G * value (value: the node's, -G / (H + l2) when None; scikit-learn gives the
    root 0); the first feature, then the first threshold, of the largest gain wins (monotonic
    constraints are not in the reference).
    g and h are one output's; with constant_hessian a hessian sum is a row count."""
    g = np.asarray(g, dtype=np.float64)
    h = np.ones(len(g)) if constant_hessian else np.asarray(h, dtype=np.float64)
    rows = np.asarray(rows)
    has_missing = (codes == MISSING_BIN).any(axis=0)
    G, H, n = g[rows].sum(), h[rows].sum(), len(rows)
    loss_node = G * (node_value(G, H, l2) if value is None else value)
    best = None
    for f in range(codes.shape[1]):
        c = codes[rows, f]
        for missing_left in ([False, True] if has_missing[f] else [False]):
            last = n_bins_non_missing[f] - (1 if missing_left or not has_missing[f] else 0)
            for b in range(last):
                left = (c <= b) | ((c == MISSING_BIN) & missing_left)
                nl = left.sum()
                gl, hl = g[rows][left].sum(), h[rows][left].sum()
                gr, hr = G - gl, H - hl
                if nl < min_samples_leaf or n - nl < min_samples_leaf:
                    continue
                if hl < min_hessian_to_split or hr < min_hessian_to_split:
                    continue
                gain = (loss_node - gl * node_value(gl, hl, l2) - gr * node_value(gr, hr, l2))
                if gain > 0 and (best is None or gain > best[0]):
                    best = (gain, f, b, missing_left)
    return best


def best_categorical_split(codes, g, h, rows, n_categories, min_samples_leaf=20, l2=0.0,
                           min_hessian_to_split=1e-3, constant_hessian=False, value=0.0,
                           min_cat_support=10.0):
    """The best split of the node holding rows on one categorical feature (codes: its
    categories, MISSING_BIN for missing) as (gain, set of the codes going left), or None.
    scikit-learn's rule: the categories (the missing values one of them) of hessian sum scaled
    by n / H at least min_cat_support, sorted by G_c / (H_c + min_cat_support); the first k of
    that order, or the last k, go left, k up to half of them (left to right: (m + 1) // 2,
    right to left: one less); ties in the order are left in category order (the core's C
    qsort may order them otherwise)."""
    g = np.asarray(g, dtype=np.float64)[rows]
    h = np.ones(len(g)) if constant_hessian else np.asarray(h, dtype=np.float64)[rows]
    c = np.asarray(codes)[rows]
    G, H, n = g.sum(), h.sum(), len(rows)
    loss_node = G * value
    cats = [k for k in list(range(n_categories)) + [MISSING_BIN]
            if h[c == k].sum() * (n / H) >= min_cat_support and (c == k).any()]
    if len(cats) <= 1:
        return None
    ratio = [g[c == k].sum() / (h[c == k].sum() + min_cat_support) for k in cats]
    order = [cats[i] for i in np.argsort(ratio, kind="stable")]
    m, best = len(order), None
    for chosen in ([order[:k + 1] for k in range((m + 1) // 2)]
                   + [order[m - k - 1:] for k in range((m + 1) // 2 - 1)]):
        left = np.isin(c, chosen)
        nl, gl, hl = left.sum(), g[left].sum(), h[left].sum()
        gr, hr = G - gl, H - hl
        if nl < min_samples_leaf or n - nl < min_samples_leaf:
            continue
        if hl < min_hessian_to_split or hr < min_hessian_to_split:
            continue
        gain = loss_node - gl * node_value(gl, hl, l2) - gr * node_value(gr, hr, l2)
        if gain > 0 and (best is None or gain > best[0]):
            best = (gain, set(chosen))
    return best


def route_binned(nodes, codes):
    """The node index (a leaf) each row of codes reaches in a tree of scikit-learn's predictor
    nodes (fields is_leaf, feature_idx, bin_threshold, missing_go_to_left, left, right)."""
    out = np.empty(len(codes), dtype=np.int64)
    for i, row in enumerate(codes):
        node = 0
        while not nodes["is_leaf"][node]:
            c = row[nodes["feature_idx"][node]]
            go_left = (nodes["missing_go_to_left"][node] if c == MISSING_BIN
                       else c <= nodes["bin_threshold"][node])
            node = nodes["left"][node] if go_left else nodes["right"][node]
        out[i] = node
    return out


def boosting_step(nodes, codes, g, h, raw, learning_rate, l2=0.0):
    """One boosting step on a given tree structure for one output: (leaf values by node index,
    raw + the value of each row's leaf). A leaf's value is learning_rate * -G / (H + l2) over its
    rows' gradients g and hessians h."""
    leaf = route_binned(nodes, codes)
    values = np.zeros(len(nodes["is_leaf"]))
    for node in np.unique(leaf):
        in_leaf = leaf == node
        values[node] = learning_rate * node_value(g[in_leaf].sum(), h[in_leaf].sum(), l2)
    return values, np.asarray(raw, dtype=np.float64) + values[leaf]
