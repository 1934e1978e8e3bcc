"""CPU drivers of the recommenders, over the C++ core ``fastml.recommend._mf_fast``.

The core works on CSR rows (indptr, indices, values) of the interaction matrix, or of its
transpose for the item side, updates the factors in place, checks every shape and index at its
entry and releases the GIL. Each row is computed from inputs no other row writes, so results do
not depend on the thread count ``n_threads`` (``fastml._backend.effective_n_threads``). The
drivers here convert the index arrays to int64 once per call and hold the loops over iterations;
they are the functions of ``_kernels_cuda`` with the same arguments.
"""
import numpy as np

from . import _mf_fast

__all__ = ["implicit_als", "explicit_als", "sgd", "score_top_k"]

SGD_BLOCKS = 16  # buckets per side; fixed so that SGD does not depend on the thread count


def sgd_epoch_order(users, items, rng, n_blocks):
    """Shuffle the ratings and group them into n_blocks x n_blocks buckets that SGD can run
    in parallel without races, the same for any thread count.

    Bucket (s, b) holds the ratings of users u % n_blocks == b and items
    i % n_blocks == (b + s) % n_blocks, shuffled. For a fixed stratum s the n_blocks buckets
    touch disjoint users and disjoint items, so running them in parallel gives exactly the result
    of visiting `order` sequentially.

    Returns
    -------
    order : int64 array, rating indices bucket by bucket (stratum-major).
    starts : int64 array (n_blocks * n_blocks + 1,), where each bucket begins in `order`.
    """
    permutation = rng.permutation(len(users))
    user_block = users[permutation] % n_blocks
    stratum = (items[permutation] % n_blocks - user_block) % n_blocks
    key = stratum * n_blocks + user_block
    sort = np.argsort(key, kind="stable")
    starts = np.searchsorted(key[sort], np.arange(n_blocks * n_blocks + 1))
    return permutation[sort], starts.astype(np.int64)


def check_solved(singular):
    """Raise after a sweep whose exact solves met singular normal equations."""
    if singular:
        raise ValueError(f"the least-squares equations of {singular} rows are singular (fewer "
                         "entries than factors with regularization=0); set regularization > 0")


def _ids(a):
    return np.ascontiguousarray(a, dtype=np.int64)


def csr_arrays(M):
    """(indptr, indices, data) of a CSR matrix as the core takes them: int64 indices."""
    return _ids(M.indptr), _ids(M.indices), np.ascontiguousarray(M.data)


def implicit_rows(rows, X, Y, gram_reg, cg_steps, n_threads, row_loss=None):
    """Solve the rows of X in place against Y (implicit feedback); rows = csr_arrays of the
    confidences (1 + alpha r). cg_steps 0 solves exactly. row_loss: OUT, each row's loss share."""
    check_solved(_mf_fast.implicit_sweep(*rows, X, Y, gram_reg, cg_steps, row_loss, n_threads))


def explicit_rows(rows, Y, col_bias, global_mean, regularization, biases, X, row_bias,
                  n_threads, row_loss=None):
    """Solve the rows of X (and row_bias) in place exactly against Y (explicit ratings); rows =
    csr_arrays of the ratings."""
    check_solved(_mf_fast.explicit_sweep(*rows, Y, col_bias, global_mean, regularization, biases,
                                         X, row_bias, row_loss, n_threads))


# Drivers: the loops over iterations, the same functions with the same arguments as in
# _kernels_cuda.py. X, Y and the biases are host arrays updated in place; each returns the
# training objective after every iteration (float64, not normalised).

def implicit_als(Cu, Ci, X, Y, regularization, n_iter, cg_steps, progress, n_threads):
    """Weighted ALS for implicit feedback. Cu, Ci: CSR confidences (1 + alpha r), users x items
    and items x users, of X's dtype."""
    users, items = csr_arrays(Cu), csr_arrays(Ci)
    row_loss = np.empty(Y.shape[0], np.float64)
    losses = []
    for iteration in range(n_iter):
        implicit_rows(users, X, Y, _mf_fast.gram(Y, regularization, n_threads), cg_steps,
                      n_threads)
        implicit_rows(items, Y, X, _mf_fast.gram(X, regularization, n_threads), cg_steps,
                      n_threads, row_loss)
        # Each item's share already holds the reg |y|^2 and all the squared errors.
        losses.append(float(row_loss.sum()) + regularization * float(np.vdot(X, X)))
        progress(iteration, losses[-1])
    return losses


def explicit_als(Ru, Ri, X, Y, user_bias, item_bias, global_mean, regularization, n_iter,
                 biases, progress, n_threads):
    """ALS on explicit ratings with optional user and item biases. Ru, Ri: CSR ratings,
    users x items and items x users."""
    users, items = csr_arrays(Ru), csr_arrays(Ri)
    row_loss = np.empty(Y.shape[0], np.float64)
    losses = []
    for iteration in range(n_iter):
        explicit_rows(users, Y, item_bias, global_mean, regularization, biases, X, user_bias,
                      n_threads)
        explicit_rows(items, X, user_bias, global_mean, regularization, biases, Y, item_bias,
                      n_threads, row_loss)
        losses.append(float(row_loss.sum()) + regularization * (
            float(np.vdot(X, X)) + float(np.vdot(user_bias, user_bias))))
        progress(iteration, losses[-1])
    return losses


def sgd(users, items, ratings, X, Y, user_bias, item_bias, global_mean, learning_rate,
        regularization, n_iter, biases, rng, progress, n_threads):
    """SGD on explicit ratings (triplets), one shuffled epoch per iteration."""
    users, items, ratings = _ids(users), _ids(items), np.ascontiguousarray(ratings)
    errors = np.empty(len(ratings), np.float64)
    losses = []
    for iteration in range(n_iter):
        order, starts = sgd_epoch_order(users, items, rng, SGD_BLOCKS)
        _mf_fast.sgd_epoch(users, items, ratings, order, starts, SGD_BLOCKS, X, Y, user_bias,
                           item_bias, global_mean, learning_rate, regularization, biases,
                           n_threads)
        _mf_fast.explicit_errors(users, items, ratings, X, Y, user_bias, item_bias, global_mean,
                                 errors, n_threads)
        losses.append(float(errors.sum()) + regularization * sum(
            float(np.vdot(a, a)) for a in (X, Y, user_bias, item_bias)))
        progress(iteration, losses[-1])
    return losses


def batched_top_k(n_rows, score_block, seen_indptr, seen_indices, k, batch_rows, dtype,
                  n_threads):
    """Top k items of every row, best first, from score blocks of at most batch_rows rows.

    score_block(start, stop) returns the dense (stop - start, n_items) scores of those rows (a
    C-contiguous writable array of `dtype`, overwritten); each row's seen items are skipped.
    Returns (items int64, scores of `dtype`), both (n_rows, k).
    """
    items = np.empty((n_rows, k), np.int64)
    scores = np.empty((n_rows, k), dtype)
    seen_indptr, seen_indices = _ids(seen_indptr), _ids(seen_indices)
    for start in range(0, n_rows, batch_rows):
        stop = min(start + batch_rows, n_rows)
        indptr = seen_indptr[start:stop + 1] - seen_indptr[start]
        _mf_fast.top_k(score_block(start, stop), indptr,
                       seen_indices[seen_indptr[start]:seen_indptr[stop]], items[start:stop],
                       scores[start:stop], n_threads)
    return items, scores


def score_top_k(U, Y, row_offset, item_bias, seen_indptr, seen_indices, k, batch_rows,
                n_threads):
    """Top k items by U @ Y.T + row_offset[:, None] + item_bias, skipping each row's seen items.

    Scores are computed by BLAS in blocks of batch_rows rows and reduced by the core's top_k.
    Returns (items int64, scores of Y's dtype), both (n_rows, k).
    """
    def score_block(start, stop):
        block = U[start:stop] @ Y.T
        block += row_offset[start:stop, None]
        block += item_bias
        return block

    return batched_top_k(U.shape[0], score_block, seen_indptr, seen_indices, k, batch_rows,
                         Y.dtype, n_threads)
