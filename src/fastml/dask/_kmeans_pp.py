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

The greedy choice needs a pass over the rows per center. Each partition keeps its D (and the
last candidates' distances) in a state on its worker (PartitionStates); per center the client
starts two layers of tasks: the partitions where the draws land (the per-partition potentials
say which, and the value within) pick their candidate rows, and every partition scores all the
candidates (its task waits for those rows on the workers) and returns only its gain and
potential per candidate; the client waits once, keeps the winner, which each partition applies
to its D at its next call. Plain tasks, one wait of small messages a center: a task graph built
per center (dask.delayed, persisted step by step) cost 0.14 s a center on the shared machine,
most of it building and naming the graph, and a client round trip costs about what two
chained layers do (30-37 ms at load 10-12).
"""
import dask
import numpy as np
from scipy import sparse

from ._partitions import PartitionStates, capped_threads, n_rows, partition_weights


def sq_norms(X, dtype):
    """The squared norm of each row of X (dense or sparse), in dtype."""
    X = X.astype(dtype, copy=False)
    if sparse.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", X, X)


def sq_distances(X, C, dtype, nearest=False, norms=None):
    """Squared distances of X's rows to C's by the dot-product form on BLAS, in dtype, clipped
    at 0: candidates x rows, or with nearest each row's distance to its nearest row of C. X is
    centered (or sparse and kept as is, as the single-machine fit does). k-means|| weighs its
    draws in X's dtype; k-means++ needs float64 (its draws must be the single-machine core's).
    Laid out candidates x rows so that the minimum runs down contiguous columns: 27 ms for
    250k x 16 rows and 16 candidates on one thread, where the exact assignment plus the
    differences took 45 ms and a rows x candidates layout 60; the rows' norms are added after
    the minimum, once a row (norms: sq_norms(X, dtype) when the caller keeps them; they took
    18% of k-means++'s time when computed at every center)."""
    C = np.asarray(C, dtype=dtype)
    X = X.astype(dtype, copy=False)
    if sparse.issparse(X):  # the sparse-dense product, rows x candidates
        d = np.asarray(X @ (-2 * C).T).T
    else:
        d = (-2 * C) @ X.T
    d += np.einsum("ij,ij->i", C, C)[:, None]
    if nearest:
        d = d.min(axis=0)
    d += sq_norms(X, dtype) if norms is None else norms
    return np.maximum(d, 0, out=d)


class _Seeding:
    """One partition's part of the seeding, kept on its worker: its rows, weights, D (float64,
    the distance of each row to its nearest center so far) and the last candidates'
    distances. `centers` counts the centers in D; a call meant for another count (the state
    recomputed after its worker died) raises rather than draw from the wrong D."""

    def __init__(self, part, X, w, offset, first_row):
        self.part, self.X, self.offset = part, X, offset
        n = n_rows(X)
        self.w = partition_weights(w, n, np.float64)
        with capped_threads():
            self.norms = sq_norms(X, np.float64)
            self.D = sq_distances(X, first_row, np.float64, norms=self.norms)[0]
        self.Dc = None  # candidates x rows: D with each of the last candidates added
        self.centers = 1

    def potential(self):
        return float(np.dot(self.w, self.D))

    def at(self, center, winner):
        """D over centers 0 .. center - 1: the last candidates' winner (an index into them)
        taken in if this is the partition's first call for `center`."""
        if self.centers == center - 1 and self.Dc is not None:
            self.D, self.Dc = self.Dc[winner], None
            self.centers = center
        if self.centers != center:
            raise RuntimeError(
                f"a partition's k-means++ state holds {self.centers} centers, not {center}: it "
                f"was lost (a worker died?) and recomputed; fit again")


def _potential(state):
    return state.potential()


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


def _sample(state, center, winner, plan):
    """The candidates drawn in this partition (plan: plan_draws'): [(trial, global index,
    row)]. Within it, the first row whose running sum of w x D (from the potential in front,
    added row by row as the core does) reaches the value; if rounding leaves none, the last
    row with positive mass."""
    state.at(center, winner)
    D = state.D
    mass = state.w * D
    positive = np.flatnonzero(mass > 0)
    last_positive = positive[-1] if len(positive) else len(D) - 1
    draws = plan[state.part]
    before = draws[0][2]  # the same for every draw of the partition
    running = np.cumsum(np.concatenate([[before], mass]))[1:]
    out = []
    for t, v, _ in draws:
        if v is None:
            i = len(D) - 1
        else:
            i = int(np.searchsorted(running, v, side="left"))
            i = last_positive if i == len(D) else i
        row = state.X[i:i + 1]
        out.append((t, state.offset + i,
                    row.toarray() if sparse.issparse(row) else np.asarray(row)))
    return out


def _gather(samples, n_trials):
    """The candidates in trial order: (rows, global indices)."""
    found = sorted(s for part in samples for s in part)
    assert [t for t, _, _ in found] == list(range(n_trials))
    return (np.concatenate([row for _, _, row in found]),
            np.array([index for _, index, _ in found], dtype=np.int64))


def _score(state, center, winner, samples, n_trials):
    """The partition's (gains, potentials) per candidate (samples: _sample's results, every
    partition's); D with each candidate added stays in the state (the winner's is the next
    D)."""
    rows, _ = _gather(samples, n_trials)
    state.at(center, winner)
    with capped_threads():
        Dc = (sq_distances(state.X, rows, np.float64, norms=state.norms) if len(state.D)
              else np.empty((len(rows), 0)))
        state.Dc = np.minimum(Dc, state.D[None, :])
    return (state.D[None, :] - state.Dc) @ state.w, state.Dc @ state.w


def _decide(scores):
    """The winner: the largest gain summed in partition order (the first on ties, as the
    core); and the partitions' potentials it leaves."""
    gains = np.zeros(len(scores[0][0]))
    for g, _ in scores:
        gains += g
    best = int(np.argmax(gains))
    return best, [p[best] for _, p in scores]


def seed(blocks, sizes, first, first_row, uniforms):
    """Indices and rows (centered as the partitions are) of the greedy k-means++ centers.
    blocks: (rows, weights or None, global offset) per partition; uniforms: (n_clusters - 1,
    n_local_trials)."""
    if len(uniforms) == 0:
        return np.array([first]), first_row
    states = PartitionStates([dask.delayed(_Seeding, pure=False)(p, xb, wb, off, first_row)
                              for p, (xb, wb, off) in enumerate(blocks)])
    try:
        pots = states.run(_potential)
        indices, rows, winner = [first], [first_row], None
        for c, trials in enumerate(uniforms, start=1):
            plan = plan_draws(pots, trials, sizes)
            # the scores wait for the samples on the workers: one wait a center for the client
            samples = states.submit(_sample, c, winner, plan, only=sorted(plan))
            scores = states.submit(_score, c, winner, samples, len(trials))
            scores, samples = states.gather([scores, samples])
            candidates, found = _gather(samples, len(trials))
            winner, pots = _decide(scores)
            indices.append(int(found[winner]))
            rows.append(candidates[winner][None])
    finally:
        states.release()
    return np.array(indices, dtype=np.int64), np.concatenate(rows)
