"""Histogram gradient boosting in plain NumPy, float64: what the C++ booster
(fastml.ensemble._boost_fast) computes, written as directly as possible: the losses' gradients
and hessians, a node's best split over bin codes (scikit-learn's gain and rules, categorical
features' too), and one boosting step on a given tree structure (rows routed, leaf values
-G / (H + l2) times the learning rate, raw predictions updated); the quantized gradients of
fastml's quantized_gradients option."""
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
                           min_cat_support=10.0, missing_code=MISSING_BIN):
    """The best split of the node holding rows on one categorical feature (codes: its
    categories, missing_code for missing: MISSING_BIN, or for a feature of more categories
    than a byte holds n_categories) as (gain, set of the codes going left), or None.
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
    cats = [k for k in list(range(n_categories)) + [missing_code]
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


def route_raw(nodes, X, bitsets=None, n_categories=None):
    """The node index (a leaf) each row of X reaches in a tree of scikit-learn's predictor nodes
    (fields is_leaf, feature_idx, num_threshold, missing_go_to_left, left, right): a value goes
    left when it is at most the threshold (compared in float64), a NaN the missing values' way.
    With bitsets (rows of uint32 words) and n_categories (per feature), a node of
    is_categorical sends left the known categories (0 <= value < n_categories of its feature,
    as an integer) whose bit is set in its bitsets[bitset_idx], and any other value the missing
    values' way (scikit-learn's unknown categories)."""
    out = np.empty(len(X), dtype=np.int64)
    for i, row in enumerate(X):
        node = 0
        while not nodes["is_leaf"][node]:
            f = nodes["feature_idx"][node]
            v = float(row[f])
            if bitsets is not None and nodes["is_categorical"][node]:
                known = 0 <= v < n_categories[f]  # False for NaN
                c = int(v) if known else 0
                words = bitsets[nodes["bitset_idx"][node]]
                go_left = ((words[c // 32] >> (c % 32)) & 1 if known
                           else nodes["missing_go_to_left"][node])
            else:
                go_left = (nodes["missing_go_to_left"][node] if np.isnan(v)
                           else v <= nodes["num_threshold"][node])
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


def _mix64(z):
    """splitmix64's finaliser on uint64 arrays (wrapping as C's unsigned arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def quantize_gradients(g, h, levels, constant_hessian, seed):
    """fastml's quantized gradients of one tree (quantized_gradients=True): (g_units, h_units,
    g_scale, h_scale). The scales put the largest |g| at levels / 2 units and the largest h at
    levels units (a constant hessian stays 1 unit of 1); each value is rounded stochastically,
    floor(v + u), u uniform from a hash of (seed, row, lane) alone, so that the integers do not
    depend on the thread count and have the exact values as their means."""
    g = np.asarray(g, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    max_g, max_h = np.abs(g).max(initial=0.0), h.max(initial=0.0)
    g_scale = max_g / (levels // 2) if max_g > 0 else 1.0
    h_scale = 1.0 if constant_hessian else (max_h / levels if max_h > 0 else 1.0)
    key = _mix64(np.array([seed], dtype=np.uint64))[0]
    rows = np.arange(len(g), dtype=np.uint64)
    with np.errstate(over="ignore"):
        def uniform(lane):
            z = _mix64(key + (np.uint64(2) * rows + np.uint64(lane + 1))
                       * np.uint64(0x9E3779B97F4A7C15))
            return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
        g_units = np.floor(g * (1.0 / g_scale) + uniform(0)).astype(np.int64)
        h_units = (np.ones(len(g), dtype=np.int64) if constant_hessian
                   else np.floor(h * (1.0 / h_scale) + uniform(1)).astype(np.int64))
    return g_units, h_units, g_scale, h_scale


def quantized_stump_step(codes, g, h, raw, n_bins_non_missing, learning_rate, levels, seed,
                         constant_hessian=False, min_samples_leaf=20, l2=0.0):
    """One quantized boosting step growing a stump (max_leaf_nodes=2): the root's best split
    (best_split's tuple, or None) searched on the dequantized units g_units * g_scale and
    h_units * h_scale, its two leaves valued from the exact g and h of their rows (LightGBM's
    renewal) times learning_rate, and raw + each row's leaf value (raw unchanged without a
    split: a lone root adds nothing)."""
    g_units, h_units, g_scale, h_scale = quantize_gradients(g, h, levels, constant_hessian, seed)
    rows = np.arange(len(g))
    split = best_split(codes, g_units * g_scale, h_units * h_scale, rows, n_bins_non_missing,
                       min_samples_leaf=min_samples_leaf, l2=l2, constant_hessian=constant_hessian,
                       value=0.0)
    raw = np.asarray(raw, dtype=np.float64)
    if split is None:
        return None, None, raw.copy()
    _, f, b, missing_left = split
    c = codes[:, f]
    left = (c <= b) & (c != MISSING_BIN) | ((c == MISSING_BIN) & missing_left)
    h = np.ones(len(g)) if constant_hessian else np.asarray(h, dtype=np.float64)
    values = np.array([learning_rate * node_value(g[side].sum(), h[side].sum(), l2)
                       for side in (left, ~left)])
    return split, values, raw + np.where(left, values[0], values[1])


def _query_slices(group):
    offsets = np.concatenate([[0], np.cumsum(group)])
    return [slice(a, b) for a, b in zip(offsets[:-1], offsets[1:])]


def lambdarank_gradients(y, score, group, truncation_level=30, norm=True, sigmoid=1.0,
                         sample_weight=None):
    """(g, h), each (n_samples,): LambdaMART's gradients and hessians for NDCG, query by query
    (group: the sizes of consecutive queries). Rows ranked by score (ties in row order); every
    pair (i, j) of different labels with rank i < truncation_level, i < j: the better-labelled
    row `high`, the other `low`, weight w = |gain difference| * |discount difference| / ideal
    DCG@truncation_level (gain 2^y - 1, discount 1 / log2(2 + rank)), divided by 0.01 + |score
    gap| with norm (unless every score of the query is equal); p = 1 / (1 + exp(sigmoid *
    (s_high - s_low))); g_high -= sigmoid w p, g_low += sigmoid w p, both
    h += sigmoid^2 w p (1 - p). With norm, a query's g and h are scaled by log2(1 + S) / S,
    S = sum of 2 sigmoid w p. With sample_weight, each row's g and h are then multiplied by its
    weight (LightGBM's weighting of lambdarank: row by row)."""
    y, score = np.asarray(y, dtype=np.float64), np.asarray(score, dtype=np.float64)
    g, h = np.zeros(len(y)), np.zeros(len(y))
    for part in _query_slices(group):
        yq, sq = y[part], score[part]
        n = len(yq)
        gains = 2.0 ** yq - 1
        ideal = np.sort(gains)[::-1][:truncation_level]
        max_dcg = np.sum(ideal / np.log2(2 + np.arange(len(ideal))))
        if n < 2 or max_dcg <= 0:
            continue
        order = np.argsort(-sq, kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        gq, hq, total = np.zeros(n), np.zeros(n), 0.0
        for a in range(n):
            for b in range(n):
                if yq[a] <= yq[b] or min(rank[a], rank[b]) >= truncation_level:
                    continue
                discounts = 1 / np.log2(2 + rank[a]), 1 / np.log2(2 + rank[b])
                w = (gains[a] - gains[b]) * abs(discounts[0] - discounts[1]) / max_dcg
                if norm and sq.max() != sq.min():
                    w /= 0.01 + abs(sq[a] - sq[b])
                p = 1 / (1 + np.exp(sigmoid * (sq[a] - sq[b])))
                gq[a] -= sigmoid * w * p
                gq[b] += sigmoid * w * p
                hq[a] += sigmoid ** 2 * w * p * (1 - p)
                hq[b] += sigmoid ** 2 * w * p * (1 - p)
                total += 2 * sigmoid * w * p
        factor = np.log2(1 + total) / total if norm and total > 0 else 1.0
        g[part], h[part] = gq * factor, hq * factor
    if sample_weight is not None:
        g, h = g * sample_weight, h * sample_weight
    return g, h


def dcg_at(y, score, group, k=10):
    """Each query's DCG@k (gain 2^y - 1, discount 1 / log2(2 + rank), ties in score ranked in
    row order); with score = y, the ideal DCG@k."""
    y, score = np.asarray(y, dtype=np.float64), np.asarray(score, dtype=np.float64)
    out = []
    for part in _query_slices(group):
        yq, sq = y[part], score[part]
        discount = 1 / np.log2(2 + np.arange(min(k, len(yq))))
        out.append(np.sum((2.0 ** yq[np.argsort(-sq, kind="stable")][:k] - 1) * discount))
    return np.array(out)


def ndcg_at(y, score, group, k=10, sample_weight=None):
    """Mean NDCG@k over the queries (dcg_at over the ideal dcg_at); a query whose ideal DCG is
    0 counts 1, as LightGBM's metric. With sample_weight, the mean is weighted by each query's
    mean row weight (LightGBM's query weights)."""
    ideal, got = dcg_at(y, y, group, k), dcg_at(y, score, group, k)
    values = np.where(ideal > 0, got / np.where(ideal > 0, ideal, 1.0), 1.0)
    weights = (None if sample_weight is None else
               [np.mean(sample_weight[part]) for part in _query_slices(group)])
    return float(np.average(values, weights=weights))


def integer_categories(column, limit):
    """The sorted distinct non-missing values of column as int64 if they are all integers in
    [0, limit), else None (the booster's categories of integer-coded X)."""
    values = column[~np.isnan(column)] if column.dtype.kind == "f" else column
    if not values.size:
        return np.empty(0, dtype=np.int64)
    low, high = values.min(), values.max()
    if not (low >= 0 and high < limit):
        return None
    as_int = values.astype(np.int64)
    if column.dtype.kind == "f" and not np.array_equal(as_int, values):
        return None
    return np.flatnonzero(np.bincount(as_int, minlength=int(high) + 1))


def encode_categories(X, is_categorical, tables):
    """X (floats) as scikit-learn's ColumnTransformer of an OrdinalEncoder gives it: the
    features of is_categorical first, in their order, the j-th one's value v replaced by
    tables[j][v] where v is an integer in [0, len(tables[j])), by NaN otherwise (the tables
    hold the categories' ranks, NaN for values not seen in fit); the others after them,
    unchanged. ValueError for an infinite categorical value, as the OrdinalEncoder's check."""
    out = np.empty(X.shape, dtype=X.dtype)
    categorical = np.flatnonzero(is_categorical)
    for j, (f, table) in enumerate(zip(categorical, tables)):
        column = X[:, f]
        if np.isinf(column).any():
            raise ValueError(f"Input contains infinity or a value too large for "
                             f"{column.dtype!r}.")
        known = (column >= 0) & (column < table.size)  # False for NaN
        index = np.where(known, column, 0).astype(np.int64)
        known &= index == column
        out[:, j] = np.where(known, table[index] if table.size else np.nan, np.nan)
    out[:, len(categorical):] = X[:, ~np.asarray(is_categorical, dtype=bool)]
    return out
