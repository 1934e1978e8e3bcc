"""The booster's bulk prediction through leaf bitmasks (csrc/boost/leaf_masks*) against the
NumPy reference walk and the compiled walk: random trees of several shapes (chains, balanced,
1 to 33 leaves), float32 and float64 rows holding the thresholds, their float32 neighbours,
NaN and infinities, several outputs, one and two threads."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastml.ensemble import _boost_fast
from fastml.reference import boosting as ref
from fastml.utils._sklearn_compat import HGB_PREDICTOR_RECORD_DTYPE


def _random_tree(rng, n_leaves, n_features, chain):
    """Predictor nodes in preorder (left subtree first): n_leaves leaves, splits on random
    features at random float64 thresholds; a chain puts one leaf left of every split."""
    nodes = []

    def grow(leaves, depth):
        i = len(nodes)
        node = np.zeros((), dtype=HGB_PREDICTOR_RECORD_DTYPE)
        node["depth"] = depth
        nodes.append(node)
        if leaves == 1:
            node["is_leaf"] = 1
            node["value"] = rng.normal()
            return i
        node["feature_idx"] = rng.integers(n_features)
        node["num_threshold"] = rng.normal()
        node["missing_go_to_left"] = rng.integers(2)
        left = 1 if chain else int(rng.integers(1, leaves))
        node["left"] = grow(left, depth + 1)
        node["right"] = grow(leaves - left, depth + 1)
        return i

    grow(n_leaves, 0)
    return np.array(nodes, dtype=HGB_PREDICTOR_RECORD_DTYPE)


def _pack(trees, outputs, n_features, n_outputs, bitsets=None, n_categories=None):
    """The trees packed; with bitsets, their nodes of is_categorical are categorical splits
    (the threshold their feature's n_categories, as the estimator packs them)."""
    nodes = np.concatenate(trees)
    n = len(nodes)
    offsets = np.cumsum([0] + [len(t) for t in trees]).astype(np.int64)
    threshold = np.array(nodes["num_threshold"], dtype=np.float64)
    categorical = np.zeros(n, np.uint8)
    if bitsets is not None:
        categorical = np.ascontiguousarray(nodes["is_categorical"])
        is_cat = categorical.astype(bool)
        threshold[is_cat] = n_categories[nodes["feature_idx"][is_cat]]
    return _boost_fast.PackedTrees(
        offsets=offsets, output=np.asarray(outputs, dtype=np.int64),
        is_leaf=np.ascontiguousarray(nodes["is_leaf"]),
        feature=nodes["feature_idx"].astype(np.int64), threshold=threshold,
        bin=np.zeros(n, np.uint8), missing_left=np.ascontiguousarray(nodes["missing_go_to_left"]),
        left=nodes["left"].astype(np.int64), right=nodes["right"].astype(np.int64),
        value=np.ascontiguousarray(nodes["value"]), is_categorical=categorical,
        bitset_idx=np.ascontiguousarray(nodes["bitset_idx"], dtype=np.int64),
        bitsets=np.zeros((0, 8), np.uint32) if bitsets is None else bitsets,
        lockstep=np.zeros(len(trees), np.uint8), n_features=n_features, n_outputs=n_outputs)


def _rows(rng, trees, n_rows, n_features, dtype):
    """Values drawn from the trees' thresholds, their float32 neighbours above and below, other
    numbers, NaN and infinities."""
    t = np.concatenate([tree["num_threshold"][tree["is_leaf"] == 0] for tree in trees] + [[0.0]])
    t32 = t.astype(np.float32)
    pool = np.concatenate([t, t32, np.nextafter(t32, np.float32(np.inf)),
                           np.nextafter(t32, np.float32(-np.inf)), rng.normal(size=len(t)),
                           [np.nan, np.inf, -np.inf]])
    return np.ascontiguousarray(rng.choice(pool, size=(n_rows, n_features)).astype(dtype))


@pytest.mark.parametrize("n_leaves, chain", [(1, False), (2, False), (7, False), (7, True),
                                             (31, False), (32, False), (32, True), (33, False)])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_leaf_masks_equal_reference_and_walk(n_leaves, chain, n_outputs, dtype):
    rng = np.random.default_rng(n_leaves + 100 * chain + 1000 * n_outputs)
    n_features, n_trees = 5, 12
    trees = [_random_tree(rng, int(rng.integers(1, n_leaves + 1)) if t % 3 else n_leaves,
                          n_features, chain) for t in range(n_trees)]
    outputs = np.arange(n_trees) % n_outputs
    packed = _pack(trees, outputs, n_features, n_outputs)
    for n_rows in (1, 5, 16, 37, 133):
        X = _rows(rng, trees, n_rows, n_features, dtype)
        base = rng.normal(size=(n_rows, n_outputs))
        expected = base.copy()
        for tree, k in zip(trees, outputs):  # tree after tree, as scikit-learn adds them
            expected[:, k] += tree["value"][ref.route_raw(tree, X)]
        for masks in (True, False):
            for n_threads in (1, 2):
                raw = base.copy()
                packed.predict(X, raw, n_features, n_threads, leaf_masks=masks)
                assert_array_equal(raw, expected, err_msg=f"{n_rows} rows, masks {masks}")


def _categorical_trees(rng, n_trees, n_features, n_categories, words):
    """Random trees of up to 32 leaves whose splits on the features of n_categories > 0 are
    categorical, each with a random bitset (of `words` words) of the categories going left;
    the trees and their bitsets (one row per tree node, as bitset_idx numbers them)."""
    trees, bitsets = [], []
    for t in range(n_trees):
        tree = _random_tree(rng, int(rng.integers(2, 33)), n_features, chain=False)
        split = tree["is_leaf"] == 0
        categorical = split & (n_categories[tree["feature_idx"]] > 0)
        tree["is_categorical"] = categorical
        tree["bitset_idx"] = np.where(categorical, np.arange(len(tree)) + sum(map(len, trees)),
                                      0)
        trees.append(tree)
        bitsets.append(rng.integers(0, 2**32, size=(len(tree), words), dtype=np.uint32))
    return trees, np.concatenate(bitsets)


@pytest.mark.parametrize("words", [8, 20])  # scikit-learn's width, a wide feature's
def test_categorical_leaf_masks_equal_reference_and_walk(words, dtype):
    """Categorical splits on the masks' path (their bitsets' words picked or gathered for a
    block of rows) send rows as the reference walk: known categories by their bit; NaN, negative, unknown (not
    below the feature's number of categories) and infinite values the missing values' way; a
    non-integer value as its integer part."""
    rng = np.random.default_rng(words)
    n_features, n_trees, n_outputs = 5, 10, 2
    # features 1, 2 and 4 categorical: at most 256 categories (bits of a bitset's first 8
    # words, picked in registers) and, of a wide bitset, more (gathered)
    n_categories = np.array([0, 5, words * 32 - 3, 0, 256])
    trees, bitsets = _categorical_trees(rng, n_trees, n_features, n_categories, words)
    outputs = np.arange(n_trees) % n_outputs
    packed = _pack(trees, outputs, n_features, n_outputs, bitsets=bitsets,
                   n_categories=n_categories)
    for n_rows in (5, 16, 133):
        X = _rows(rng, trees, n_rows, n_features, dtype)
        for f in np.flatnonzero(n_categories):
            c = n_categories[f]
            pool = np.r_[np.arange(c), np.arange(c) + 0.5, -1, -0.5, -0.0, c, c + 7,
                         np.nan, np.inf, -np.inf]
            X[:, f] = rng.choice(pool, size=n_rows)
        base = rng.normal(size=(n_rows, n_outputs))
        expected = base.copy()
        for tree, k in zip(trees, outputs):
            expected[:, k] += tree["value"][ref.route_raw(tree, X, bitsets, n_categories)]
        for masks in (True, False):
            for n_threads in (1, 2):
                raw = base.copy()
                packed.predict(X, raw, n_features, n_threads, leaf_masks=masks)
                assert_array_equal(raw, expected, err_msg=f"{n_rows} rows, masks {masks}")


def test_categorical_split_wider_than_its_bitset_raises():
    rng = np.random.default_rng(0)
    n_categories = np.array([0, 8 * 32 + 1])  # one category past 8 words
    trees, bitsets = _categorical_trees(rng, 2, 2, n_categories, 8)
    with pytest.raises(ValueError, match="fits its bitset"):
        _pack(trees, [0, 0], 2, 1, bitsets=bitsets, n_categories=n_categories)
    with pytest.raises(ValueError, match="an integer"):
        _pack(trees, [0, 0], 2, 1, bitsets=bitsets, n_categories=np.array([0, 5.5]))
