"""CPU kernels of the recommenders (Numba, parallel over rows).

Every kernel works on CSR rows (indptr, indices, values) of the interaction matrix, or of its
transpose for the item side, and updates the factors in place. Each row is computed by one
thread from inputs no other row writes, so results do not depend on the thread count; sums over
rows are taken from a per-row array in a fixed order. Kernels release the GIL.

Arguments are marked IN, OUT or IN/OUT. The callers (``_mf.py``, ``_item_knn.py``) validate
every shape and index before calling: the kernels do not check bounds.
"""
import llvmlite
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

# Reassociation lets LLVM vectorise the dot products; NaN and inf keep their IEEE meaning.
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


# Rows of factors fetched by random ids (the users of an item, the items of a user) miss the
# caches; without a prefetch hint each miss is waited for in turn. Gathering 2.7M random rows of
# a 25 MB matrix takes 4x less time with the hint placed 16 rows ahead (measured here).
_PREFETCH_DISTANCE = 16
_PREFETCH = ("llvm.prefetch.p0" if getattr(llvmlite, "opaque_pointers_enabled", True)
             else "llvm.prefetch.p0i8")


@intrinsic
def _prefetch_row(typingctx, matrix, row):
    """Hint the CPU to load row `row` of a C-contiguous 2-D array into the caches (no effect
    on results; an address past the array is never dereferenced by a prefetch)."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        row_index = context.cast(builder, args[1], signature.args[1], types.intp)
        strides = cgutils.unpack_tuple(builder, array.strides)
        first = cgutils.get_item_pointer2(
            context, builder, array.data, cgutils.unpack_tuple(builder, array.shape), strides,
            array_type.layout, [row_index, zero], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
            _PREFETCH)
        start = builder.bitcast(first, byte_pointer)
        row_bytes = strides[0]
        offset = context.get_constant(types.intp, 0)
        line = context.get_constant(types.intp, 64)
        # One hint per 64-byte cache line of the row (rows of up to 512 bytes).
        for _ in range(8):
            inside = builder.icmp_signed("<", offset, row_bytes)
            with builder.if_then(inside):
                builder.call(prefetch, [builder.gep(start, [offset]), ir.Constant(int32, 0),
                                        ir.Constant(int32, 3), ir.Constant(int32, 1)])
            offset = builder.add(offset, line)
        return context.get_dummy_value()
    return types.void(matrix, row), codegen


# Hot loops index 2-D arrays element-wise: a row view would update the array's reference count
# atomically, and every thread doing so on the same array serialises them.

@njit(nogil=True, cache=True, fastmath=_FASTMATH, inline="always")
def _dot(A, i, v):
    """A[i] . v[:A.shape[1]]"""
    s = A.dtype.type(0)
    for f in range(A.shape[1]):
        s += A[i, f] * v[f]
    return s


@njit(nogil=True, cache=True, fastmath=_FASTMATH, inline="always")
def _dot_rows(A, i, B, j):
    """A[i] . B[j]"""
    s = A.dtype.type(0)
    for f in range(A.shape[1]):
        s += A[i, f] * B[j, f]
    return s


@njit(nogil=True, cache=True)
def _cholesky_solve(A, b):
    """Solve A w = b for symmetric positive definite A (float64, overwritten); b becomes w.
    Returns False, leaving b undefined, when A is not positive definite (a zero or negative
    pivot: singular normal equations, as with regularization 0 and too few entries)."""
    n = A.shape[0]
    for j in range(n):
        d = A[j, j]
        for m in range(j):
            d -= A[j, m] * A[j, m]
        if not d > 0:
            return False
        d = np.sqrt(d)
        A[j, j] = d
        for i in range(j + 1, n):
            s = A[i, j]
            for m in range(j):
                s -= A[i, m] * A[j, m]
            A[i, j] = s / d
    for i in range(n):  # L z = b
        s = b[i]
        for m in range(i):
            s -= A[i, m] * b[m]
        b[i] = s / A[i, i]
    for i in range(n - 1, -1, -1):  # L^T w = z
        s = b[i]
        for m in range(i + 1, n):
            s -= A[m, i] * b[m]
        b[i] = s / A[i, i]
    return True


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _implicit_row_exact(Yu, confidence, gram_reg, X, row):
    """X[row] = argmin of the row's implicit loss: (Y^T C Y + reg I) x = Y^T C p, in float64."""
    k = gram_reg.shape[0]
    A = gram_reg.astype(np.float64)
    b = np.zeros(k)
    for j in range(confidence.shape[0]):
        c = np.float64(confidence[j])
        for f in range(k):
            b[f] += c * Yu[j, f]
            for g in range(k):
                A[f, g] += (c - 1.0) * Yu[j, f] * Yu[j, g]
    solved = _cholesky_solve(A, b)
    for f in range(k):
        X[row, f] = b[f] if solved else np.nan
    return solved


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _add_weighted_rows(Yg, lo, hi, dots, out, b):
    """out[b] += sum over gathered rows j in [lo, hi) of dots[j] * Yg[j]."""
    for j in range(lo, hi):
        d = dots[j]
        for f in range(Yg.shape[1]):
            out[b, f] += d * Yg[j, f]


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _block_cg(row_starts, Yg, confidence, dots, gram_reg, Xb, cg_steps):
    """cg_steps of conjugate gradient on the normal equations of a block of rows, in lockstep
    so that the products with the Gram matrix are one matrix product (BLAS) per step.

    row_starts : IN (nb + 1,), where each row's entries begin in the gathered arrays.
    Yg, confidence : IN, the block's gathered item vectors and confidences.
    dots : scratch of Yg's length.
    Xb : IN/OUT (nb, k), warm start, overwritten with the result.
    """
    nb, k = Xb.shape
    R = np.dot(Xb, gram_reg)
    rs_old = np.zeros(nb)
    for b in range(nb):
        lo, hi = row_starts[b], row_starts[b + 1]
        for f in range(k):
            R[b, f] = -R[b, f]
        # All the dot products first: independent, so their reductions overlap.
        for j in range(lo, hi):  # r = Y^T C p - (Y^T C Y + reg I) x
            dots[j] = confidence[j] - (confidence[j] - 1) * _dot_rows(Yg, j, Xb, b)
        _add_weighted_rows(Yg, lo, hi, dots, R, b)
        rs_old[b] = _dot_rows(R, b, R, b)
    P = R.copy()
    for _ in range(cg_steps):
        AP = np.dot(P, gram_reg)
        for b in range(nb):
            if rs_old[b] < 1e-20:  # converged (or an empty row, solved exactly already)
                continue
            lo, hi = row_starts[b], row_starts[b + 1]
            for j in range(lo, hi):
                dots[j] = (confidence[j] - 1) * _dot_rows(Yg, j, P, b)
            _add_weighted_rows(Yg, lo, hi, dots, AP, b)
            step = rs_old[b] / _dot_rows(P, b, AP, b)
            for f in range(k):
                Xb[b, f] += step * P[b, f]
                R[b, f] -= step * AP[b, f]
            rs_new = _dot_rows(R, b, R, b)
            if rs_new < 1e-20:
                rs_old[b] = 0.0
                continue
            beta = rs_new / rs_old[b]
            for f in range(k):
                P[b, f] = R[b, f] + beta * P[b, f]
            rs_old[b] = rs_new


_ROWS_PER_TASK = 64  # rows solved together: one task of the parallel loop


@njit(nogil=True, cache=True, parallel=True, fastmath=_FASTMATH)
def implicit_sweep(indptr, indices, confidence, X, Y, gram_reg, cg_steps, row_loss):
    """Solve every row of X against the fixed factors Y (implicit feedback, weighted ALS).

    indptr, indices, confidence : IN, CSR rows of X's side; confidence = 1 + alpha * r.
    X : IN/OUT (n_rows, k), warm start for conjugate gradient, overwritten with the solution.
    Y : IN (n_cols, k).
    gram_reg : IN (k, k), Y^T Y + regularization * I in X's dtype, C-contiguous.
    cg_steps : IN, conjugate gradient steps per row; 0 solves exactly (Cholesky, float64).
    row_loss : OUT (n_rows,) float64 or empty: each row's share of the loss after its solve,
        x^T (Y^T Y + reg I) x + sum over its entries of c (1 - s)^2 - s^2 with s = x . y
        (the row's squared errors over all columns plus reg |x|^2, without visiting zeros);
        empty skips the loss.

    Returns the number of rows whose exact solve met singular equations (their X is NaN).
    """
    n_rows, k = X.shape
    n_tasks = (n_rows + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK
    singular = 0
    for task in prange(n_tasks):
        first = task * _ROWS_PER_TASK
        nb = min(first + _ROWS_PER_TASK, n_rows) - first
        base = indptr[first]
        total = indptr[first + nb] - base
        row_starts = np.empty(nb + 1, np.int64)
        for b in range(nb + 1):
            row_starts[b] = indptr[first + b] - base
        # The block's item vectors are gathered once (copies: a slice of a shared array would
        # bump its reference count, an atomic the threads contend for); the solver then reads
        # them from cache.
        Yg = np.empty((total, k), X.dtype)
        cg = np.empty(total, X.dtype)
        dots = np.empty(total, X.dtype)
        for j in range(total):
            if j + _PREFETCH_DISTANCE < total:
                _prefetch_row(Y, indices[base + j + _PREFETCH_DISTANCE])
            for f in range(k):
                Yg[j, f] = Y[indices[base + j], f]
            cg[j] = confidence[base + j]
        Xb = np.empty((nb, k), X.dtype)
        for b in range(nb):
            for f in range(k):
                # No interactions: the minimiser is exactly zero.
                Xb[b, f] = X[first + b, f] if row_starts[b] < row_starts[b + 1] else 0
        if cg_steps == 0:
            for b in range(nb):
                if row_starts[b] < row_starts[b + 1]:
                    lo, hi = row_starts[b], row_starts[b + 1]
                    if not _implicit_row_exact(Yg[lo:hi], cg[lo:hi], gram_reg, Xb, b):
                        singular += 1
        else:
            _block_cg(row_starts, Yg, cg, dots, gram_reg, Xb, cg_steps)
        for b in range(nb):
            for f in range(k):
                X[first + b, f] = Xb[b, f]
        if row_loss.shape[0]:
            GX = np.dot(Xb, gram_reg)
            for b in range(nb):
                loss = np.float64(_dot_rows(Xb, b, GX, b))
                for j in range(row_starts[b], row_starts[b + 1]):
                    s = np.float64(_dot_rows(Yg, j, Xb, b))
                    loss += np.float64(cg[j]) * (1.0 - s) ** 2 - s * s
                row_loss[first + b] = loss
    return singular


@njit(nogil=True, cache=True, parallel=True, fastmath=_FASTMATH)
def explicit_sweep(indptr, indices, ratings, Y, col_bias, global_mean, regularization, biases,
                   X, row_bias, row_loss):
    """Solve every row's factors (and bias) exactly against fixed Y (explicit ratings, ALS).

    With biases, row u solves for w = [x_u, b_u] on features z_i = [y_i, 1] and targets
    r - global_mean - col_bias[i]: (Z^T Z + reg I) w = Z^T t, in float64 by Cholesky.

    indptr, indices, ratings : IN, CSR rows of X's side.
    Y : IN (n_cols, k); col_bias : IN (n_cols,); global_mean, regularization : IN.
    biases : IN, whether the row bias is solved for (else it is kept at zero).
    X : OUT (n_rows, k); row_bias : OUT (n_rows,).
    row_loss : OUT (n_rows,) float64 or empty: sum over the row of squared errors + reg |w|^2.

    Returns the number of rows with singular equations (their factors are NaN).
    """
    n_rows, k = X.shape
    n = k + 1 if biases else k
    n_tasks = (n_rows + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK
    singular = 0
    for task in prange(n_tasks):
        A = np.empty((n, n))
        w = np.empty(n)
        z = np.empty(n)
        z[n - 1] = 1.0  # the bias feature, overwritten by y when there is no bias
        for row in range(task * _ROWS_PER_TASK, min((task + 1) * _ROWS_PER_TASK, n_rows)):
            A[:] = 0.0
            w[:] = 0.0
            for f in range(n):
                A[f, f] = regularization
            for j in range(indptr[row], indptr[row + 1]):
                col = indices[j]
                if j + _PREFETCH_DISTANCE < indptr[row + 1]:
                    _prefetch_row(Y, indices[j + _PREFETCH_DISTANCE])
                for f in range(k):
                    z[f] = Y[col, f]
                t = np.float64(ratings[j])
                if biases:
                    t -= global_mean + col_bias[col]
                for f in range(n):  # the full square: contiguous rows vectorise
                    w[f] += t * z[f]
                    zf = z[f]
                    for g in range(n):
                        A[f, g] += zf * z[g]
            # Rows without ratings: w = 0 is exact (and A may be singular with reg = 0).
            if indptr[row] < indptr[row + 1] and not _cholesky_solve(A, w):
                singular += 1
                w[:] = np.nan
            for f in range(k):
                X[row, f] = w[f]
            row_bias[row] = w[k] if biases else 0.0
            if row_loss.shape[0]:
                loss = regularization * np.dot(w, w)
                for j in range(indptr[row], indptr[row + 1]):
                    col = indices[j]
                    e = np.float64(ratings[j]) - row_bias[row] - _dot(Y, col, w)
                    if biases:
                        e -= global_mean + col_bias[col]
                    loss += e * e
                row_loss[row] = loss
    return singular


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


def _sgd_step(X, Y, user_bias, item_bias, u, i, e, learning_rate, regularization, biases):
    """One SGD update of the biases and factors of user u and item i, given the rating's error
    e. Plain Python, compiled here for the CPU and by _kernels_cuda for the GPU, so that both
    devices take the same step."""
    if biases:
        user_bias[u] += learning_rate * (e - regularization * user_bias[u])
        item_bias[i] += learning_rate * (e - regularization * item_bias[i])
    for f in range(X.shape[1]):
        xf = X[u, f]
        X[u, f] += learning_rate * (e * Y[i, f] - regularization * xf)
        Y[i, f] += learning_rate * (e * xf - regularization * Y[i, f])


sgd_step = njit(cache=True, fastmath=_FASTMATH, inline="always")(_sgd_step)


@njit(nogil=True, cache=True, parallel=True, fastmath=_FASTMATH)
def sgd_epoch(users, items, ratings, order, starts, n_blocks, X, Y, user_bias, item_bias,
              global_mean, learning_rate, regularization, biases):
    """One epoch of SGD on explicit ratings, bucket by bucket (see sgd_epoch_order).

    users, items, ratings : IN, the ratings as triplets.
    order, starts, n_blocks : IN, from sgd_epoch_order.
    X, Y, user_bias, item_bias : IN/OUT, updated in place.
    """
    for stratum in range(n_blocks):
        for block in prange(n_blocks):
            bucket = stratum * n_blocks + block
            for j in range(starts[bucket], starts[bucket + 1]):
                if j + _PREFETCH_DISTANCE < starts[bucket + 1]:
                    ahead = order[j + _PREFETCH_DISTANCE]
                    _prefetch_row(X, users[ahead])
                    _prefetch_row(Y, items[ahead])
                index = order[j]
                u, i = users[index], items[index]
                e = ratings[index] - (global_mean + user_bias[u] + item_bias[i]
                                      + _dot_rows(X, u, Y, i))
                sgd_step(X, Y, user_bias, item_bias, u, i, e, learning_rate, regularization,
                         biases)


@njit(nogil=True, cache=True, parallel=True, fastmath=_FASTMATH)
def explicit_errors(users, items, ratings, X, Y, user_bias, item_bias, global_mean, out):
    """out[j] = squared error of rating j (float64). IN: triplets, factors, biases; OUT: out."""
    for j in prange(ratings.shape[0]):
        u, i = users[j], items[j]
        e = (np.float64(ratings[j]) - global_mean - user_bias[u] - item_bias[i]
             - _dot_rows(X, u, Y, i))
        out[j] = e * e


@njit(nogil=True, cache=True)
def _sift_down(heap_scores, heap_items, n, pos):
    """Restore the heap below pos; the root is the worst kept entry: the lowest score, and of
    equal scores the higher item index."""
    while True:
        child = 2 * pos + 1
        if child >= n:
            return
        if child + 1 < n and (heap_scores[child + 1] < heap_scores[child] or (
                heap_scores[child + 1] == heap_scores[child]
                and heap_items[child + 1] > heap_items[child])):
            child += 1
        if heap_scores[child] < heap_scores[pos] or (
                heap_scores[child] == heap_scores[pos] and heap_items[child] > heap_items[pos]):
            heap_scores[pos], heap_scores[child] = heap_scores[child], heap_scores[pos]
            heap_items[pos], heap_items[child] = heap_items[child], heap_items[pos]
            pos = child
        else:
            return


@njit(nogil=True, cache=True, parallel=True)
def top_k(scores, seen_indptr, seen_indices, items_out, scores_out):
    """The k best items of every row of a score block, best first; ties go to the lower index.

    scores : IN/OUT (n_rows, n_items); the excluded entries are overwritten with -inf.
    seen_indptr, seen_indices : IN, CSR rows of the items to exclude per row.
    items_out : OUT (n_rows, k) int64, -1 where fewer than k items are left.
    scores_out : OUT (n_rows, k), -inf where fewer than k items are left.
    """
    n_rows, n_items = scores.shape
    k = items_out.shape[1]
    for row in prange(n_rows):
        s = scores[row]
        for j in range(seen_indptr[row], seen_indptr[row + 1]):
            s[seen_indices[j]] = -np.inf
        heap_scores = np.empty(k, scores.dtype)
        heap_items = np.empty(k, np.int64)
        n = 0
        for item in range(n_items):
            value = s[item]
            if value == -np.inf or value != value:  # excluded (or NaN: never ranked)
                continue
            if n < k:  # sift the new entry up
                pos = n
                n += 1
                while pos > 0:
                    parent = (pos - 1) // 2
                    if heap_scores[parent] < value:
                        break
                    heap_scores[pos] = heap_scores[parent]
                    heap_items[pos] = heap_items[parent]
                    pos = parent
                heap_scores[pos] = value
                heap_items[pos] = item
            elif value > heap_scores[0]:  # a later item wins only on a strictly higher score
                heap_scores[0] = value
                heap_items[0] = item
                _sift_down(heap_scores, heap_items, k, 0)
        for slot in range(k - 1, -1, -1):  # pop the worst into the last free slot
            if slot < n:
                items_out[row, slot] = heap_items[0]
                scores_out[row, slot] = heap_scores[0]
                n -= 1
                heap_scores[0] = heap_scores[n]
                heap_items[0] = heap_items[n]
                _sift_down(heap_scores, heap_items, n, 0)
            else:
                items_out[row, slot] = -1
                scores_out[row, slot] = -np.inf


# Drivers: the loops over iterations, the same functions with the same arguments as in
# _kernels_cuda.py. X, Y and the biases are host arrays updated in place; each returns the
# training objective after every iteration (float64, not normalised).

SGD_BLOCKS = 16  # buckets per side; fixed so that SGD does not depend on the thread count


def _empty_loss():
    return np.empty(0, np.float64)


def check_solved(singular):
    """Raise after a sweep whose exact solves met singular normal equations."""
    if singular:
        raise ValueError(f"the least-squares equations of {singular} rows are singular (fewer "
                         "entries than factors with regularization=0); set regularization > 0")


def implicit_als(Cu, Ci, X, Y, regularization, n_iter, cg_steps, progress):
    """Weighted ALS for implicit feedback. Cu, Ci: CSR confidences (1 + alpha r), users x items
    and items x users, of X's dtype."""
    eye = regularization * np.eye(X.shape[1], dtype=X.dtype)
    row_loss = np.empty(Y.shape[0], np.float64)
    losses = []
    for iteration in range(n_iter):
        check_solved(implicit_sweep(Cu.indptr, Cu.indices, Cu.data, X, Y, Y.T @ Y + eye,
                                    cg_steps, _empty_loss()))
        check_solved(implicit_sweep(Ci.indptr, Ci.indices, Ci.data, Y, X, X.T @ X + eye,
                                    cg_steps, row_loss))
        # Each item's share already holds the reg |y|^2 and all the squared errors.
        losses.append(float(row_loss.sum()) + regularization * float(np.vdot(X, X)))
        progress(iteration, losses[-1])
    return losses


def explicit_als(Ru, Ri, X, Y, user_bias, item_bias, global_mean, regularization, n_iter,
                 biases, progress):
    """ALS on explicit ratings with optional user and item biases. Ru, Ri: CSR ratings,
    users x items and items x users."""
    row_loss = np.empty(Y.shape[0], np.float64)
    losses = []
    for iteration in range(n_iter):
        check_solved(explicit_sweep(Ru.indptr, Ru.indices, Ru.data, Y, item_bias, global_mean,
                                    regularization, biases, X, user_bias, _empty_loss()))
        check_solved(explicit_sweep(Ri.indptr, Ri.indices, Ri.data, X, user_bias, global_mean,
                                    regularization, biases, Y, item_bias, row_loss))
        losses.append(float(row_loss.sum()) + regularization * (
            float(np.vdot(X, X)) + float(np.vdot(user_bias, user_bias))))
        progress(iteration, losses[-1])
    return losses


def sgd(users, items, ratings, X, Y, user_bias, item_bias, global_mean, learning_rate,
        regularization, n_iter, biases, rng, progress):
    """SGD on explicit ratings (triplets), one shuffled epoch per iteration."""
    errors = np.empty(len(ratings), np.float64)
    losses = []
    for iteration in range(n_iter):
        order, starts = sgd_epoch_order(users, items, rng, SGD_BLOCKS)
        sgd_epoch(users, items, ratings, order, starts, SGD_BLOCKS, X, Y, user_bias, item_bias,
                  global_mean, learning_rate, regularization, biases)
        explicit_errors(users, items, ratings, X, Y, user_bias, item_bias, global_mean, errors)
        losses.append(float(errors.sum()) + regularization * sum(
            float(np.vdot(a, a)) for a in (X, Y, user_bias, item_bias)))
        progress(iteration, losses[-1])
    return losses


def batched_top_k(n_rows, score_block, seen_indptr, seen_indices, k, batch_rows, dtype):
    """Top k items of every row, best first, from score blocks of at most batch_rows rows.

    score_block(start, stop) returns the dense (stop - start, n_items) scores of those rows (a
    writable array, overwritten); each row's seen items are skipped. Returns (items int64,
    scores of `dtype`), both (n_rows, k).
    """
    items = np.empty((n_rows, k), np.int64)
    scores = np.empty((n_rows, k), dtype)
    for start in range(0, n_rows, batch_rows):
        stop = min(start + batch_rows, n_rows)
        indptr = seen_indptr[start:stop + 1] - seen_indptr[start]
        top_k(score_block(start, stop), indptr,
              seen_indices[seen_indptr[start]:seen_indptr[stop]], items[start:stop],
              scores[start:stop])
    return items, scores


def score_top_k(U, Y, row_offset, item_bias, seen_indptr, seen_indices, k, batch_rows):
    """Top k items by U @ Y.T + row_offset[:, None] + item_bias, skipping each row's seen items.

    Scores are computed by BLAS in blocks of batch_rows rows and reduced by the top_k kernel.
    Returns (items int64, scores of Y's dtype), both (n_rows, k).
    """
    def score_block(start, stop):
        block = U[start:stop] @ Y.T
        block += row_offset[start:stop, None]
        block += item_bias
        return block

    return batched_top_k(U.shape[0], score_block, seen_indptr, seen_indices, k, batch_rows,
                         Y.dtype)
