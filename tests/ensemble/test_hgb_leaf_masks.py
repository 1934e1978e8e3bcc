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


def _pack(trees, outputs, n_features, n_outputs):
    nodes = np.concatenate(trees)
    n = len(nodes)
    offsets = np.cumsum([0] + [len(t) for t in trees]).astype(np.int64)
    return _boost_fast.PackedTrees(
        offsets=offsets, output=np.asarray(outputs, dtype=np.int64),
        is_leaf=np.ascontiguousarray(nodes["is_leaf"]),
        feature=nodes["feature_idx"].astype(np.int64),
        threshold=np.ascontiguousarray(nodes["num_threshold"], dtype=np.float64),
        bin=np.zeros(n, np.uint8), missing_left=np.ascontiguousarray(nodes["missing_go_to_left"]),
        left=nodes["left"].astype(np.int64), right=nodes["right"].astype(np.int64),
        value=np.ascontiguousarray(nodes["value"]), is_categorical=np.zeros(n, np.uint8),
        bitset_idx=np.zeros(n, np.int64), bitsets=np.zeros((0, 8), np.uint32),
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
