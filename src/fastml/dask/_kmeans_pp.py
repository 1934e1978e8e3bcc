"""Greedy k-means++ seeding over the partitions of a dask array (KMeans(init="k-means++")).

It draws from random_state as the single-machine k-means++ (fastml's and scikit-learn's) does:
the first center by ``choice(n, p=w / w.sum())``, then ``n_local_trials`` uniforms per center,
each located on the cumulative sum of w x D (D: a row's squared distance to its nearest center
so far), and keeps the candidate that lowers the potential sum(w x D) most. So the same rows
and random_state give the same centers as ``fastml.cluster.KMeans`` unless a draw lands within
rounding of a boundary between two rows or two candidates' gains tie to rounding: the sums here
are added per partition (in partition order), the single-machine core's per block of 64 SIMD
panels, and D comes from the dot-product form in float64 where the core takes differences in
X's dtype.

The greedy choice needs a pass over the rows per center. The client never waits between
centers: each center's tasks are persisted (submitted) at once, built on the previous center's
keys. Per center, each partition picks the draws that land in its rows (the previous decision's
plan says which), one task gathers the candidates, each partition scores them against its D
(keeping the candidates' distances, so that the winner needs no second pass), and one task sums
the gains in partition order, keeps the winner and plans the next draws. The client waits for
the last center only; the scheduler moves the small results between the layers, a few task
latencies per center instead of two round trips to the client.
"""
import dask
import numpy as np
from scipy import sparse

from ._partitions import capped_threads, n_rows, partition_weights


def _sq_distances(X, C):
    """Squared distances (rows x candidates, float64) by the dot-product form on BLAS, clipped
    at 0. X is centered (or sparse and kept as is, as the single-machine fit does)."""
    C = np.asarray(C, dtype=np.float64)
    if sparse.issparse(X):
        prod = np.asarray(X @ C.T, dtype=np.float64)
        norms = np.asarray(X.multiply(X).sum(axis=1, dtype=np.float64)).ravel()
    else:
        X = X.astype(np.float64, copy=False)
        prod = X @ C.T
        norms = np.einsum("ij,ij->i", X, X)
    d = norms[:, None] - 2 * prod
    d += np.einsum("ij,ij->i", C, C)
    return np.maximum(d, 0, out=d)


def _start(X, w, first_row):
    """One partition's D after the first center (as the one column of a rows x candidates
    array), and its potential."""
    n = n_rows(X)
    if n == 0:
        return np.empty((0, 1)), 0.0
    with capped_threads():
        D = _sq_distances(X, first_row)
    return D, float(np.dot(partition_weights(w, n, np.float64), D[:, 0]))


def _first_decision(pots, uniforms, sizes):
    """The first center as a decision: its column 0 of _start's D, and the first draws."""
    return 0, None, None, plan_draws(pots, uniforms, sizes)


def plan_draws(pots, uniforms, sizes):
    """Where each draw lands: {partition: [(trial, value, before)]}, value = u x total potential
    and before = the potential of the partitions in front (added in partition order). A value
    past the total (rounding) takes the last row, as the single-machine core clips to n - 1."""
    prefix = np.concatenate([[0.0], np.cumsum(pots)])
    nonempty = [b for b, size in enumerate(sizes) if size > 0]
    plan = {}
    for t, u in enumerate(uniforms):
        v = float(u) * prefix[-1]
        where = next((b for b in nonempty if prefix[b + 1] >= v), None)
        if where is None:
            where, v = nonempty[-1], None
        plan.setdefault(where, []).append((t, v, prefix[where]))
    return plan


def _sample(X, w, Dc, decision, part, offset):
    """The candidates drawn in this partition: [(trial, global index, row)]. Within it, the
    first row whose running sum of w x D (from the potential in front, added row by row as the
    core does) reaches the value; if rounding leaves none, the last row with positive mass."""
    draws = decision[3].get(part, [])
    if not draws:
        return []
    D = Dc[:, decision[0]]
    mass = partition_weights(w, len(D), np.float64) * D
    positive = np.flatnonzero(mass > 0)
    last_positive = positive[-1] if len(positive) else len(D) - 1
    out = []
    for t, v, before in draws:
        if v is None:
            i = len(D) - 1
        else:
            running = np.cumsum(np.concatenate([[before], mass]))[1:]
            i = int(np.searchsorted(running, v, side="left"))
            i = last_positive if i == len(D) else i
        row = X[i:i + 1]
        out.append((t, offset + i, row.toarray() if sparse.issparse(row) else np.asarray(row)))
    return out


def _gather(samples, n_trials):
    """The candidates in trial order: (rows, global indices)."""
    found = sorted(s for part in samples for s in part)
    assert [t for t, _, _ in found] == list(range(n_trials))
    return (np.concatenate([row for _, _, row in found]),
            np.array([index for _, index, _ in found], dtype=np.int64))


def _score(X, w, Dc, decision, candidates):
    """D (the last winner's column of Dc) with each candidate added (rows x trials: it stays on
    the worker, the next step reads the winner's column), and the partition's (gains,
    potentials) per candidate (the small part sent on)."""
    rows, _ = candidates
    D = Dc[:, decision[0]]
    n = n_rows(X)
    if n == 0:
        return np.empty((0, len(rows))), (np.zeros(len(rows)), np.zeros(len(rows)))
    with capped_threads():
        Dc = np.minimum(_sq_distances(X, rows), D[:, None])
    w = partition_weights(w, n, np.float64)
    return Dc, (w @ (D[:, None] - Dc), w @ Dc)


def _decide(scores, candidates, uniforms, sizes):
    """The winner (the largest gain summed in partition order; the first on ties, as the core)
    and the plan of the next center's draws on the potentials it leaves."""
    gains = np.zeros(len(candidates[1]))
    for g, _ in scores:
        gains += g
    best = int(np.argmax(gains))
    pots = [p[best] for _, p in scores]
    plan = None if uniforms is None else plan_draws(pots, uniforms, sizes)
    return best, int(candidates[1][best]), candidates[0][best], plan


def seed(blocks, sizes, first, first_row, uniforms):
    """Indices and rows (centered as the partitions are) of the greedy k-means++ centers.
    blocks: (rows, weights or None, global offset) per partition; uniforms: (n_clusters - 1,
    n_local_trials)."""
    starts = [dask.delayed(_start, nout=2, pure=True)(xb, wb, first_row) for xb, wb, _ in blocks]
    if len(uniforms) == 0:
        return np.array([first]), first_row
    D = [s[0] for s in starts]
    decision = dask.delayed(_first_decision, pure=True)([s[1] for s in starts], uniforms[0],
                                                        sizes)
    decisions = []
    for c in range(len(uniforms)):
        samples = [dask.delayed(_sample, pure=True)(xb, wb, Dp, decision, p, off)
                   for p, ((xb, wb, off), Dp) in enumerate(zip(blocks, D))]
        candidates = dask.delayed(_gather, pure=True)(samples, uniforms.shape[1])
        scores = [dask.delayed(_score, nout=2, pure=True)(xb, wb, Dp, decision, candidates)
                  for (xb, wb, _), Dp in zip(blocks, D)]
        following = uniforms[c + 1] if c + 1 < len(uniforms) else None
        decision = dask.delayed(_decide, pure=True)([s[1] for s in scores], candidates,
                                                     following, sizes)
        # Persisted step by step: with a distributed Client that returns at once (the tasks
        # run on), and the next step's graph starts from the persisted keys. One graph for all
        # the steps, built from nested delayed calls, took quadratic time to cull (100 s at
        # k = 40).
        decision, *D = dask.persist(decision, *[s[0] for s in scores])
        decisions.append(decision)
    decisions = dask.compute(*decisions)
    indices = np.array([first] + [d[1] for d in decisions], dtype=np.int64)
    rows = np.concatenate([first_row] + [d[2][None] for d in decisions])
    return indices, rows
