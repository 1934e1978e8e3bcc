"""The fitted tree: scikit-learn's node arrays held in plain NumPy.

`Tree` reads like scikit-learn's ``sklearn.tree._tree.Tree`` (same attribute names, dtypes and
shapes, one output or several), so code written against ``estimator.tree_`` works on it. Routing
(`Tree.apply_numpy`, `Tree.decision_path`) walks all rows one tree level at a time, and minimal
cost-complexity pruning (`Tree.cost_complexity_pruning_path`, `Tree.prune`) follows scikit-learn's
`_cost_complexity_prune` step for step, with its floating-point summation order, so paths and
pruned trees are scikit-learn's bit for bit. Node arrays follow the CART conventions shared with
the C++ core (scikit-learn >= 1.4's: classification values are weighted class fractions).
Beyond scikit-learn, a split may hold surrogate splits (``missing_values="surrogate"``), which
route the rows missing its feature.
"""
import numpy as np
import scipy.sparse as sp
from sklearn import get_config as _sklearn_get_config

__all__ = ["Tree", "TREE_LEAF", "TREE_UNDEFINED"]

TREE_LEAF = -1  # children_left / children_right of a leaf
TREE_UNDEFINED = -2  # feature and threshold of a leaf

# name -> dtype of the per-node arrays (value apart: float64 of shape (node_count, n_outputs, K))
_NODE_ARRAYS = {
    "children_left": np.int64,
    "children_right": np.int64,
    "feature": np.int64,
    "threshold": np.float64,
    "missing_go_to_left": np.uint8,
    "impurity": np.float64,
    "n_node_samples": np.int64,
    "weighted_n_node_samples": np.float64,
}

# name -> dtype of the surrogate splits, all nodes' one after the other (surrogate_ptr apart)
_SURROGATE_ARRAYS = {
    "surrogate_feature": np.int64,
    "surrogate_threshold": np.float64,
    "surrogate_reversed": np.uint8,
}

# Pairs (ancestor, leaf) formed at once while summing leaf costs into their ancestors.
_PAIR_CHUNK = 1 << 22


class Tree:
    """A fitted decision tree in scikit-learn's array layout.

    Parameters
    ----------
    n_features : int
        Number of features of the data the tree routes.
    n_classes : int or array-like of int
        The number of classes of each output (1 for regression), as scikit-learn's
        ``tree_.n_classes``; an int is a single output. K is the largest.
    nodes : dict of array-like
        ``children_left``, ``children_right``, ``feature``, ``threshold``, ``missing_go_to_left``,
        ``impurity``, ``n_node_samples``, ``weighted_n_node_samples`` (each of length node_count)
        and ``value`` of shape (node_count, n_outputs, K) (or (node_count, n_outputs * K)): per
        output the class fractions, zero past its classes, or the regression value. Arrays
        already of the right dtype and C-contiguous are kept, not copied. Optionally the
        surrogate splits: ``surrogate_ptr`` (node_count + 1), ``surrogate_feature``,
        ``surrogate_threshold``, ``surrogate_reversed``; without them no node has any.

    Attributes
    ----------
    node_count, capacity : int
        Number of nodes (capacity equals node_count).
    n_features, n_outputs, max_n_classes, max_depth : int
        max_n_classes is K; max_depth is 0 for a single leaf.
    n_classes : ndarray of shape (n_outputs,), intp
    n_leaves : int (property)
    children_left, children_right, feature, threshold, missing_go_to_left, impurity,
    n_node_samples, weighted_n_node_samples, value : ndarray
        As in scikit-learn (int64, int64, int64, float64, uint8, float64, int64, float64,
        float64 of shape (node_count, n_outputs, K)).
    surrogate_ptr, surrogate_feature, surrogate_threshold, surrogate_reversed : ndarray
        The surrogate splits of node i are entries surrogate_ptr[i] to surrogate_ptr[i + 1]
        (int64) of the other three (int64, float64, uint8), the most agreeing first. A row
        missing node i's feature goes where the first surrogate it has a value for sends it:
        left when value <= surrogate_threshold, or when value > surrogate_threshold for a
        surrogate_reversed one; a row missing all of them goes left iff missing_go_to_left.
    """

    def __init__(self, n_features, n_classes, nodes, *, _grown_depth=None):
        k = np.atleast_1d(np.asarray(n_classes))
        if (k.ndim != 1 or k.size < 1 or not np.issubdtype(k.dtype, np.integer)
                or k.min() < 1):
            raise ValueError("n_classes must be a positive int or a non-empty 1-D array of them "
                             f"(one per output), got {n_classes!r}")
        self.n_features = int(n_features)
        if self.n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features!r}")
        self.n_outputs = int(k.size)
        self.max_n_classes = int(k.max())
        self.n_classes = k.astype(np.intp)

        missing = [name for name in (*_NODE_ARRAYS, "value") if name not in nodes]
        if missing:
            raise ValueError(f"nodes lacks {missing}")
        for name, dtype in _NODE_ARRAYS.items():
            arr = np.ascontiguousarray(nodes[name], dtype=dtype)
            if arr.ndim != 1:
                raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
            setattr(self, name, arr)
        n = len(self.children_left)
        if n < 1:
            raise ValueError("a tree has at least one node")
        for name in _NODE_ARRAYS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, "
                                 f"children_left has {n}")
        value = np.ascontiguousarray(nodes["value"], dtype=np.float64)
        shape = (n, self.n_outputs, self.max_n_classes)
        if value.ndim == 2 and value.shape == (n, self.n_outputs * self.max_n_classes):
            value = value.reshape(shape)
        if value.shape != shape:
            raise ValueError(f"value must have shape {shape}, got {value.shape}")
        self.value = value
        self.node_count = n
        self.capacity = n
        # arrays the core grew (_cart.grow_tree and grow_forest give their depth) form one tree
        # by construction: the check took 4 ms a fully grown forest tree, on one thread (and
        # the surrogates' checks 0.6 ms, serial at the end of a forest's fit as well)
        grown = _grown_depth is not None
        self.max_depth = int(_grown_depth) if grown else self._check_structure()
        self._set_surrogates(nodes, check=not grown)

    def _set_surrogates(self, nodes, check=True):
        given = [name for name in ("surrogate_ptr", *_SURROGATE_ARRAYS) if name in nodes]
        if not given:
            self._set_no_surrogates()
            return
        if len(given) != 1 + len(_SURROGATE_ARRAYS):
            raise ValueError("surrogate_ptr, surrogate_feature, surrogate_threshold and "
                             "surrogate_reversed come together")
        ptr = np.ascontiguousarray(nodes["surrogate_ptr"], dtype=np.int64)
        if check and (ptr.shape != (self.node_count + 1,) or ptr[0] != 0
                      or np.any(np.diff(ptr) < 0)):
            raise ValueError("surrogate_ptr must hold node_count + 1 non-decreasing offsets "
                             "from 0")
        if check and np.any(np.diff(ptr)[self.children_left == TREE_LEAF] != 0):
            raise ValueError("leaves have no surrogate splits")
        for name, dtype in _SURROGATE_ARRAYS.items():
            arr = np.ascontiguousarray(nodes[name], dtype=dtype)
            if check and arr.shape != (ptr[-1],):
                raise ValueError(f"{name} must have surrogate_ptr[-1] = {ptr[-1]} entries, "
                                 f"got shape {arr.shape}")
            setattr(self, name, arr)
        feat = self.surrogate_feature
        if check and feat.size and (feat.min() < 0 or feat.max() >= self.n_features):
            raise ValueError("surrogate_feature must lie in [0, n_features)")
        self.surrogate_ptr = ptr

    # ------------------------------------------------------------------ structure

    def _check_structure(self):
        """Checks that the arrays form one binary tree rooted at node 0; returns its depth."""
        left, right, n = self.children_left, self.children_right, self.node_count
        leaf = left == TREE_LEAF
        if not np.array_equal(leaf, right == TREE_LEAF):
            raise ValueError("children_left and children_right must be -1 at the same nodes")
        inner = ~leaf
        kids = np.concatenate([left[inner], right[inner]])
        if kids.size and (kids.min() < 1 or kids.max() >= n):
            raise ValueError("child ids must lie in [1, node_count)")
        if np.any(np.bincount(kids, minlength=n)[1:] != 1):
            raise ValueError("every node but the root must be the child of exactly one node")
        feat = self.feature[inner]
        if feat.size and (feat.min() < 0 or feat.max() >= self.n_features):
            raise ValueError("feature of a split node must lie in [0, n_features)")
        # With in-degrees 1 (root 0) every other node has one parent, and all nodes reach the
        # root iff there is no cycle apart from it. Each node's distance to an ancestor doubles
        # per step (pointer jumping): log2(depth) array steps, where a walk level by level
        # took one per level (trees grown on sparse X run 300 levels deep: 1.4 ms a tree).
        parent = np.zeros(n, dtype=np.intp)
        inner_ids = np.flatnonzero(inner)
        parent[left[inner_ids]] = inner_ids
        parent[right[inner_ids]] = inner_ids
        above = parent  # the ancestor `depth` levels above each node, the root its own
        depth = np.ones(n, dtype=np.intp)
        depth[0] = 0
        for _ in range(n.bit_length() + 1):
            if not above.any():
                break
            depth += depth[above]
            above = above[above]
        else:
            raise ValueError("some nodes are not reachable from the root")
        return int(depth.max())

    def _set_no_surrogates(self):
        self.surrogate_ptr = np.zeros(self.node_count + 1, dtype=np.int64)
        for name, dtype in _SURROGATE_ARRAYS.items():
            setattr(self, name, np.zeros(0, dtype=dtype))

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "surrogate_ptr" not in state:  # pickled by a fastml without surrogate splits
            self._set_no_surrogates()

    @property
    def n_leaves(self):
        return int(np.count_nonzero(self.children_left == TREE_LEAF))

    def _parents(self):
        """Parent id of every node (-1 for the root)."""
        parent = np.full(self.node_count, -1, dtype=np.int64)
        inner = np.flatnonzero(self.children_left != TREE_LEAF)
        parent[self.children_left[inner]] = inner
        parent[self.children_right[inner]] = inner
        return parent

    def _levels(self):
        """Node ids by depth: a list of arrays, the root's first."""
        left, right = self.children_left, self.children_right
        levels, frontier = [], np.array([0], dtype=np.int64)
        while frontier.size:
            levels.append(frontier)
            frontier = frontier[left[frontier] != TREE_LEAF]
            frontier = np.concatenate([left[frontier], right[frontier]])
        return levels

    def _preorder(self):
        """(pre, size): each node's position in depth-first preorder (node, left subtree, right
        subtree) and the number of nodes in its subtree. Computed level by level."""
        left, right = self.children_left, self.children_right
        levels = self._levels()
        size = np.ones(self.node_count, dtype=np.int64)
        for nodes in reversed(levels):
            inner = nodes[left[nodes] != TREE_LEAF]
            size[inner] += size[left[inner]] + size[right[inner]]
        pre = np.zeros(self.node_count, dtype=np.int64)
        for nodes in levels:
            inner = nodes[left[nodes] != TREE_LEAF]
            pre[left[inner]] = pre[inner] + 1
            pre[right[inner]] = pre[inner] + 1 + size[left[inner]]
        return pre, size

    # ------------------------------------------------------------------ importances

    def compute_feature_importances(self, normalize=True):
        """Impurity decrease per feature, scikit-learn's definition and summation order:
        sum over split nodes of w*imp - w_left*imp_left - w_right*imp_right, divided by the
        root's weighted count, then (normalize) divided by the total when that is > 0."""
        w, imp = self.weighted_n_node_samples, self.impurity
        inner = np.flatnonzero(self.children_left != TREE_LEAF)
        left, right = self.children_left[inner], self.children_right[inner]
        gain = w[inner] * imp[inner] - w[left] * imp[left] - w[right] * imp[right]
        importances = np.zeros(self.n_features, dtype=np.float64)
        np.add.at(importances, self.feature[inner], gain)  # in node order, as scikit-learn
        importances /= w[0]
        if normalize:
            total = np.sum(importances)
            if total > 0.0:
                importances /= total
        return importances

    # ------------------------------------------------------------------ routing

    def _check_X(self, X):
        if sp.issparse(X):
            X = sp.csr_array(X)
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
        else:
            X = np.asarray(X)
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features, the tree has {self.n_features}")
        return X

    def _walk(self, X):
        """Leaf of every row of X, moving all rows still at split nodes down one level per
        iteration."""
        left, right = self.children_left, self.children_right
        n = X.shape[0]
        node = np.zeros(n, dtype=np.int64)
        rows = np.arange(n) if left[0] != TREE_LEAF else np.zeros(0, dtype=np.int64)
        sparse = sp.issparse(X)
        while rows.size:
            at = node[rows]
            feat = self.feature[at]
            x = np.asarray(X[rows, feat]).ravel() if sparse else X[rows, feat]
            go_left = x <= self.threshold[at]
            nan = np.isnan(x)
            if nan.any():
                go_left[nan] = self._missing_go_left(X, rows[nan], at[nan], sparse)
            at = np.where(go_left, left[at], right[at])
            node[rows] = at
            rows = rows[left[at] != TREE_LEAF]
        return node

    def _missing_go_left(self, X, rows, at, sparse):
        """Where rows of X missing the feature of their nodes `at` go: by the first
        surrogate each has a value for, else missing_go_to_left."""
        go_left = self.missing_go_to_left[at] != 0
        start, count = self.surrogate_ptr[at], np.diff(self.surrogate_ptr)[at]
        undecided = np.ones(len(rows), dtype=bool)
        for k in range(int(count.max(initial=0))):
            j = np.flatnonzero(undecided & (count > k))
            if j.size == 0:
                break
            s = start[j] + k
            feat = self.surrogate_feature[s]
            x = np.asarray(X[rows[j], feat]).ravel() if sparse else X[rows[j], feat]
            present = ~np.isnan(x)
            j, s, x = j[present], s[present], x[present]
            go_left[j] = (x <= self.surrogate_threshold[s]) != (self.surrogate_reversed[s] != 0)
            undecided[j] = False
        return go_left

    def apply_numpy(self, X):
        """Leaf id (int64) of every row of X (n_samples, n_features), float32 or float64 used
        as given (other dtypes as float64; scipy sparse accepted): x <= threshold goes left, NaN
        follows the node's surrogate splits, then missing_go_to_left. Vectorised over rows, one
        iteration per tree level."""
        return self._walk(self._check_X(X))

    def apply(self, X):
        """Leaf id of every row of X, as scikit-learn's ``Tree.apply`` (which takes float32 X
        only; this walk takes what `apply_numpy` takes)."""
        return self.apply_numpy(X)

    def decision_path(self, X):
        """Node indicator of shape (n_samples, node_count): row i has a 1 (intp) at every node
        on its path, stored root to leaf as scikit-learn stores it. A scipy ``csr_matrix``, or
        ``csr_array`` when scikit-learn's ``sparse_interface`` config says "sparray"."""
        return self.paths_to(self.apply_numpy(X))

    def paths_to(self, leaves):
        """`decision_path` of rows given the leaves they reach: each path read upwards from its
        leaf (a child's id is above its parent's, so depths follow in id order)."""
        leaves = np.asarray(leaves, dtype=np.int64)
        n = len(leaves)
        parent = np.full(self.node_count, -1, dtype=np.int64)
        split = np.flatnonzero(self.children_left != TREE_LEAF)
        parent[self.children_left[split]] = split
        parent[self.children_right[split]] = split
        node_depth = np.zeros(self.node_count, dtype=np.int64)
        for node in range(1, self.node_count):
            node_depth[node] = node_depth[parent[node]] + 1
        depth = node_depth[leaves]
        indptr = np.zeros(n + 1, dtype=np.intp)
        np.cumsum(depth + 1, out=indptr[1:])
        indices = np.empty(indptr[-1], dtype=np.intp)
        rows, at = np.arange(n), leaves.copy()
        while rows.size:  # each row's node at depth[row] - k, from the leaf up to the root
            indices[indptr[rows] + node_depth[at]] = at
            keep = at != 0
            rows, at = rows[keep], parent[at[keep]]
        data = np.ones(indptr[-1], dtype=np.intp)
        sparray = _sklearn_get_config().get("sparse_interface", "spmatrix") == "sparray"
        csr = sp.csr_array if sparray else sp.csr_matrix
        return csr((data, indices, indptr), shape=(n, self.node_count))

    # ------------------------------------------------------------------ pruning

    def _cost_complexity_prune(self, ccp_alpha=None):
        """scikit-learn's `_cost_complexity_prune`. Repeatedly prunes the weakest link, the
        split node t of the current tree with the smallest (R(t) - R(T_t)) / (|leaves(T_t)| - 1)
        (the lowest node id among equals; one node per step, so a tie gives the same alpha on
        consecutive steps), where R(t) = w_t * impurity_t / w_root. Stops when the root is a
        leaf or, with ccp_alpha, before a step whose alpha exceeds ccp_alpha.

        Returns (alphas, impurities, in_subtree): the path (0 and R(T) first) and the mask of the
        nodes the pruned tree keeps."""
        n = self.node_count
        w = self.weighted_n_node_samples
        r_node = w * self.impurity / w[0]
        if not np.all(np.isfinite(r_node)):
            raise ValueError("cost-complexity pruning needs finite impurities and weights")
        is_leaf = self.children_left == TREE_LEAF
        parent = self._parents()
        pre, size = self._preorder()

        # R(T_t): the sum of R over the leaves of t, added leaf by leaf in node order as
        # scikit-learn does (so the same rounding); and the number of those leaves.
        r_branch = np.where(is_leaf, r_node, 0.0)
        n_leaves = np.zeros(n, dtype=np.int64)
        leaves = np.flatnonzero(is_leaf)
        depth = np.zeros(n, dtype=np.int64)
        for d, nodes in enumerate(self._levels()):
            depth[nodes] = d
        cum = np.cumsum(depth[leaves])  # pairs up to each leaf
        start = 0
        while start < leaves.size:  # chunks of leaves bound the (ancestor, leaf) pairs in memory
            base = cum[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(cum, base + _PAIR_CHUNK, side="right")))
            chunk = leaves[start:stop]
            ancestors, owners = [], []
            anc, owner = parent[chunk], np.arange(chunk.size)
            while anc.size:
                keep = anc != -1
                anc, owner = anc[keep], owner[keep]
                ancestors.append(anc)
                owners.append(owner)
                anc = parent[anc]
            anc = np.concatenate(ancestors)
            owner = np.concatenate(owners)
            order = np.argsort(owner, kind="stable")
            np.add.at(r_branch, anc[order], r_node[chunk][owner[order]])
            n_leaves += np.bincount(anc, minlength=n)
            start = stop

        alphas, impurities = [0.0], [r_branch[0]]
        pruned = []  # nodes made leaves, in order
        inner = np.flatnonzero(~is_leaf)  # ascending: argmin's first minimum is the lowest id
        if inner.size:
            # Working arrays over the split nodes only; inf marks a node no longer a candidate.
            rn, rb, nl = r_node[inner], r_branch[inner], n_leaves[inner]
            link = (rn - rb) / (nl - 1)
            pre_in = pre[inner]
            end_in = pre_in + size[inner]
            by_pre = np.argsort(pre_in)  # split nodes in preorder: a subtree is a slice
            pre_sorted = pre_in[by_pre]
            max_float = np.finfo(np.float64).max
            while True:
                j = int(np.argmin(link))
                alpha = link[j]
                if not alpha < max_float:
                    raise ValueError("cost-complexity pruning found no finite weakest link")
                if ccp_alpha is not None and ccp_alpha < alpha:
                    break
                pj = pre_in[j]
                lo, hi = np.searchsorted(pre_sorted, [pj, end_in[j]])
                link[by_pre[lo:hi]] = np.inf  # j and the split nodes below it
                anc = np.flatnonzero((pre_in < pj) & (end_in > pj))
                n_pruned = nl[j] - 1
                r_diff = rn[j] - rb[j]
                rb[j] = rn[j]
                nl[j] = 0
                rb[anc] += r_diff
                nl[anc] -= n_pruned
                link[anc] = (rn[anc] - rb[anc]) / (nl[anc] - 1)
                pruned.append(inner[j])
                alphas.append(alpha)
                impurities.append(rb[0])
                if j == 0:  # the root is a leaf now
                    break

        # Kept nodes: those not strictly below a pruned node (preorder intervals).
        cover = np.zeros(n + 1, dtype=np.int64)
        pruned = np.asarray(pruned, dtype=np.int64)
        np.add.at(cover, pre[pruned] + 1, 1)
        np.add.at(cover, pre[pruned] + size[pruned], -1)
        in_subtree = (np.cumsum(cover[:n]) == 0)[pre]
        return (np.asarray(alphas, dtype=np.float64), np.asarray(impurities, dtype=np.float64),
                in_subtree)

    def cost_complexity_pruning_path(self):
        """(ccp_alphas, impurities) of minimal cost-complexity pruning, as scikit-learn's
        ``cost_complexity_pruning_path`` returns them for this tree: the effective alpha of each
        pruning step (0.0 first, non-decreasing; equal alphas repeat, one per pruned branch) and
        the total leaf impurity sum(w_t * impurity_t) / w_root of the tree after that step."""
        alphas, impurities, _ = self._cost_complexity_prune()
        return alphas, impurities

    def prune(self, ccp_alpha):
        """The subtree that scikit-learn's minimal cost-complexity pruning keeps for ccp_alpha:
        weakest links are pruned while their effective alpha is <= ccp_alpha. The new tree's
        nodes are numbered in depth-first preorder (as scikit-learn's pruned trees, also when
        nothing is pruned) and keep their values, impurities and counts; nodes made leaves get
        children -1, feature -2, threshold -2.0 and missing_go_to_left 0.

        ccp_alpha == 0.0 returns a copy of this tree unchanged, not renumbered, as scikit-learn's
        estimators skip pruning then (pruning at 0 would still remove splits whose effective
        alpha is <= 0, e.g. zero-gain splits)."""
        ccp_alpha = float(ccp_alpha)
        if not ccp_alpha >= 0.0:
            raise ValueError(f"ccp_alpha must be >= 0, got {ccp_alpha}")
        if ccp_alpha == 0.0:
            return self._with_nodes({name: getattr(self, name).copy() for name in
                                     (*_NODE_ARRAYS, "value", "surrogate_ptr",
                                      *_SURROGATE_ARRAYS)})
        _, _, keep = self._cost_complexity_prune(ccp_alpha)
        pre, _ = self._preorder()
        kept = np.flatnonzero(keep)
        kept = kept[np.argsort(pre[kept])]  # old ids in the new (preorder) order
        new_id = np.full(self.node_count, -1, dtype=np.int64)
        new_id[kept] = np.arange(kept.size)
        left, right = self.children_left[kept], self.children_right[kept]
        split = left != TREE_LEAF
        split[split] = keep[left[split]]  # a kept split node whose children were pruned: leaf
        nodes = {name: getattr(self, name)[kept] for name in (*_NODE_ARRAYS, "value")}
        nodes["children_left"] = np.where(split, new_id[left], TREE_LEAF)
        nodes["children_right"] = np.where(split, new_id[right], TREE_LEAF)
        nodes["feature"] = np.where(split, nodes["feature"], TREE_UNDEFINED)
        nodes["threshold"] = np.where(split, nodes["threshold"], float(TREE_UNDEFINED))
        nodes["missing_go_to_left"] = np.where(split, nodes["missing_go_to_left"], 0)
        # the kept splits keep their surrogates, in the new node order
        count = np.where(split, np.diff(self.surrogate_ptr)[kept], 0)
        nodes["surrogate_ptr"] = np.concatenate([[0], np.cumsum(count)])
        entries = np.repeat(self.surrogate_ptr[kept], count) + (
            np.arange(count.sum()) - np.repeat(nodes["surrogate_ptr"][:-1], count))
        for name in _SURROGATE_ARRAYS:
            nodes[name] = getattr(self, name)[entries]
        return self._with_nodes(nodes)

    def _with_nodes(self, nodes):
        return Tree(self.n_features, self.n_classes, nodes)

    def __repr__(self):
        n_classes = self.max_n_classes if self.n_outputs == 1 else self.n_classes.tolist()
        return (f"Tree(n_features={self.n_features}, n_classes={n_classes}, "
                f"node_count={self.node_count}, max_depth={self.max_depth})")
