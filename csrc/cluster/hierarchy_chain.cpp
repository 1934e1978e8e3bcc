// The nearest-neighbour chain (Murtagh; scipy's nn_chain) for ward, complete and average linkage,
// and scipy's labelling of its merges. The chain is written once over a linkage policy that
// measures a cluster against the live ones and merges two of them: ward keeps centroids and
// sizes (no distance matrix), complete and average keep a condensed matrix updated by
// Lance-Williams. Scans visit the live slots in ascending order and keep the first strict
// minimum, preferring the chain's previous element, as scipy does, so that equal distances are
// broken as scipy breaks them.
#include <algorithm>
#include <cstdlib>
#include <new>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include "fastml/hierarchy.hpp"
#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>  // madvise
#endif

namespace fastml::hierarchy {

namespace {

const IsaChoice<HierarchyTable>& selected() {
  static const IsaChoice<HierarchyTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

}  // namespace

const HierarchyTable& kernels() { return selected().table; }
const char* simd_target() { return selected().name; }

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// Live cluster slots in ascending order. Dead slots are skipped by the scans and dropped when
// they make up an eighth of the list (erasing each at once cost O(n) per merge).
class LiveSlots {
 public:
  explicit LiveSlots(index_t n) : slots_(n), size_(n, 1) {
    std::iota(slots_.begin(), slots_.end(), 0);
  }
  const std::vector<index_t>& slots() const { return slots_; }
  index_t size(index_t slot) const { return size_[slot]; }
  index_t first() const {
    for (index_t s : slots_)
      if (size_[s]) return s;
    return -1;
  }
  // Cluster a (dropped) and b (kept, now holding both). The list keeps a's dead slot until
  // tidy(), so that a merge's update can still split the list as the scan before it did.
  void merge(index_t a, index_t b) {
    size_[b] += size_[a];
    size_[a] = 0;
    ++dead_;
  }
  void tidy() {
    if (dead_ * 8 <= static_cast<index_t>(slots_.size())) return;
    slots_.erase(std::remove_if(slots_.begin(), slots_.end(),
                                [this](index_t s) { return size_[s] == 0; }),
                 slots_.end());
    dead_ = 0;
  }

 private:
  std::vector<index_t> slots_;
  std::vector<index_t> size_;
  index_t dead_ = 0;
};

// Threads worth keeping in the chain's team for a step (a scan, or a merge's update) of
// `step_ns` on one thread. The team lives in one parallel region and meets at barriers, a few
// per step: a spinning partner costs a microsecond or two there, not the wake-up that
// fastml_region_threads prices a region at, so a step needs a 500th of that work per thread.
// The team shrinks as the live clusters do (never grows: they only fall).
int team_threads(double step_ns, int n_threads) {
  return fastml_region_threads(500.0 * step_ns, n_threads);
}

// share t of `count` items among `team` threads: [lo, hi), in order.
inline index_t share_begin(index_t count, int t, int team) { return count * t / team; }

// Whether the chain's next window of merges runs on its team or on one thread, from the time
// each took per live cluster visited. A team meets a few times per step (~40k steps for 10k
// rows), so it gains only while its threads run at once: on the loaded 2-core machine, where a
// partner is often descheduled, each barrier waited about a millisecond, and two threads took
// 116-132 s (31-34 s CPU) against 1.7 s CPU on one. So one thread runs first, the team is tried
// against it, and it keeps the windows only while faster; a team window that falls behind
// one thread's pace is cut short, and tried again after twice as many windows as before.
// Merges never depend on this choice (any team gives the same), only timings do. With
// FASTML_MIN_THREAD_WORK_NS=0 (the tests) the team runs every window.
class TeamChoice {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr index_t kWindow = 128;  // merges a window (tens of ms at 10k rows)

  int next(int most) {
    if (most <= 1) return 1;
    if (fastml_min_thread_work_ns() == 0.0) return most;
    if (serial_rate_ <= 0.0) return 1;
    if (team_rate_ <= 0.0 || wait_ == 0) return most;
    --wait_;
    return team_rate_ < serial_rate_ ? most : 1;
  }
  // A team window is cut short once it runs slower than one thread (plus a margin).
  bool behind(int team, double elapsed_ns, double visited) const {
    return team > 1 && serial_rate_ > 0.0 && fastml_min_thread_work_ns() != 0.0 &&
           elapsed_ns > 1.25 * serial_rate_ * visited + 2.0e5;
  }
  void record(int team, double elapsed_ns, double visited) {
    if (visited <= 0.0) return;
    const double rate = elapsed_ns / visited;
    if (team <= 1) {
      serial_rate_ = rate;
      return;
    }
    team_rate_ = rate;
    if (rate >= serial_rate_) {
      backoff_ = std::min<index_t>(2 * backoff_, 1 << 20);
      wait_ = backoff_;
    }
  }

 private:
  double serial_rate_ = 0.0, team_rate_ = 0.0;  // ns per live cluster visited
  index_t backoff_ = 2, wait_ = 0;
};

// The chain itself; records each merge of two reciprocal nearest neighbours (a < b) with the
// policy's output distance. Merged clusters live on in slot b. The chain's bookkeeping runs on
// the team's master thread; a policy's scans and updates are split into shares of its ranges:
//  - extent(live): the length of the range a scan splits; prepare(x, prev) readies a scan from
//    x (master); scan(x, lo, hi, live) -> Part, the best of share [lo, hi); choose(parts, team,
//    x, prev, best, dist): the scan's answer from the parts in share order (scipy's choice: the
//    first strict minimum in slot order, the chain's previous element first);
//  - update(a, b, na, nb, live, lo, hi): the merge's share [lo, hi) of extent(live) (a already
//    dead in live); merged(a, b, na, nb, live): its master part, after them;
//  - step_ns(m): a scan's cost on one thread with m live clusters.
// Parts combine in a fixed order, so that merges do not depend on the thread count. Nothing in
// the region allocates or throws (the chain's capacity is reserved).
template <class Policy>
void nn_chain(Policy& p, index_t n, Merge* merges, int n_threads) {
  using Part = typename Policy::Part;
  LiveSlots live(n);
  std::vector<index_t> chain;
  chain.reserve(n);
  std::vector<Part> parts(std::max(n_threads, 1));
  TeamChoice choice;
  index_t k = 0;  // merges made; n - k clusters live
  while (k < n - 1) {
    const int most = team_threads(p.step_ns(n - k), n_threads);
    const int team = choice.next(most);
    const index_t until = std::min(n - 1, k + TeamChoice::kWindow);
    const TeamChoice::Clock::time_point start = TeamChoice::Clock::now();
    double visited = 0.0, elapsed_ns = 0.0;
    index_t x = -1, prev = -1, a = -1, b = -1, na = 0, nb = 0;
    bool leave = false, merging = false;
    // Shared state is written by the master only, between the barriers that order its reads.
#pragma omp parallel num_threads(team) if (team > 1)
    {
      // the runtime may give the region fewer threads than asked (OMP_THREAD_LIMIT, nesting):
      // the work is split between those it gave
      const int t = omp_get_thread_num(), size = omp_get_num_threads();
      for (;;) {
#pragma omp master
        {
          elapsed_ns = std::chrono::duration<double, std::nano>(TeamChoice::Clock::now() - start)
                           .count();
          leave = k == until || choice.behind(team, elapsed_ns, visited) ||
                  (team > 1 && team_threads(p.step_ns(n - k), n_threads) < team);
          if (!leave) {
            if (chain.empty()) chain.push_back(live.first());
            x = chain.back();
            prev = chain.size() > 1 ? chain[chain.size() - 2] : -1;
            p.prepare(x, prev);
            visited += static_cast<double>(n - k);
          }
        }
#pragma omp barrier
        if (leave) break;
        const index_t len = p.extent(live);
        parts[t] = p.scan(x, share_begin(len, t, size), share_begin(len, t + 1, size), live);
#pragma omp barrier
#pragma omp master
        {
          index_t y;
          double dist;
          p.choose(parts.data(), size, x, prev, y, dist);
          merging = y == prev;
          if (!merging) {
            chain.push_back(y);
          } else {
            chain.resize(chain.size() - 2);
            a = std::min(x, y);
            b = std::max(x, y);
            merges[k++] = Merge{a, b, p.output(dist)};
            na = live.size(a);
            nb = live.size(b);
            live.merge(a, b);
            visited += static_cast<double>(n - k);
          }
        }
#pragma omp barrier
        if (merging) {
          const index_t len = p.extent(live);
          p.update(a, b, na, nb, live, share_begin(len, t, size), share_begin(len, t + 1, size));
#pragma omp barrier
#pragma omp master
          {
            p.merged(a, b, na, nb, live);
            live.tidy();
          }
        }
      }
    }
    choice.record(team, elapsed_ns, visited);
  }
}

// The first strict minimum of a scan's share, and scipy's choice from the shares: its scan
// starts from the chain's previous element and takes only strictly smaller distances in slot
// order, which the shares' first minima, taken in order, strictly, give.
struct Nearest {
  double value = kInf;
  index_t slot = -1;
  // for candidates in slot order
  void take(double d, index_t s) {
    if (d < value) {
      value = d;
      slot = s;
    }
  }
  // in any order: the least (value, slot)
  void take_least(double d, index_t s) {
    if (d < value || (d == value && s < slot)) {
      value = d;
      slot = s;
    }
  }
  void take_least(const Nearest& other) {
    if (other.slot >= 0) take_least(other.value, other.slot);
  }
};

// ---- ward: centroids and sizes ------------------------------------------------------------

// Compares clusters by 2 |A| |B| / (|A| + |B|) ||mean(A) - mean(B)||^2, the square of scipy's
// ward distance (the square root is taken once, for the merge recorded). The live centroids are
// packed feature-major, so that a scan computes one cluster per SIMD lane; a merged-away
// cluster's place is taken by the last one. Packed order is not slot order: scipy's choice (the
// first strict minimum in slot order, the chain's previous element first) is made on
// (value, slot).
class WardPolicy {
 public:
  template <class T>
  explicit WardPolicy(const Rows<T>& X)
      : n_(X.n), d_(X.d), m_(X.n), coord_(static_cast<std::size_t>(X.n * X.d)), size_(X.n, 1.0),
        slot_(X.n), pos_(X.n), x_(X.d) {
    for (index_t i = 0; i < n_; ++i) {
      slot_[i] = pos_[i] = i;
      for (index_t k = 0; k < d_; ++k)
        coord_[k * n_ + i] = static_cast<double>(X.data[i * d_ + k]);
    }
  }
  double output(double dist) const { return std::sqrt(dist); }

  // A scan's cost: the value of m_ clusters over d_ features, one SIMD lane each.
  double step_ns(index_t) const { return m_ * (0.3 * d_ + 2.0); }
  index_t extent(const LiveSlots&) const { return m_; }
  void prepare(index_t x, index_t prev) {
    px_ = pos_[x];
    prev_ = prev;
    for (index_t k = 0; k < d_; ++k) x_[k] = coord_[k * n_ + px_];
  }

  // the least (value, slot) of a share, and the chain's previous element when in it
  struct Part : Nearest {
    double prev_value = kInf;
    void absorb(const Part& other) {
      take_least(other);
      if (other.prev_value < kInf) prev_value = other.prev_value;
    }
  };

  Part scan(index_t, index_t lo, index_t hi, const LiveSlots&) const {
    constexpr index_t kBlock = 256;
    double value[kBlock];
    Part f;
    const HierarchyTable& kern = kernels();
    const double nx = size_[px_];
    for (index_t b0 = lo; b0 < hi; b0 += kBlock) {
      const index_t len = std::min(kBlock, hi - b0);
      kern.ward_values(&coord_[b0], n_, len, x_.data(), d_, &size_[b0], nx, value);
      for (index_t l = 0; l < len; ++l) {
        const index_t p = b0 + l;
        if (p == px_ || !(value[l] <= f.value)) continue;
        const index_t s = slot_[p];
        if (s == prev_) f.prev_value = value[l];
        f.take_least(value[l], s);
      }
    }
    return f;
  }

  void choose(const Part* parts, int team, index_t, index_t prev, index_t& best,
              double& best_dist) const {
    Part all = parts[0];
    for (int t = 1; t < team; ++t) all.absorb(parts[t]);
    if (prev >= 0 && all.prev_value == all.value) {
      best = prev;
      best_dist = all.prev_value;
    } else {
      best = all.slot;
      best_dist = all.value;
    }
  }

  void update(index_t, index_t, index_t, index_t, const LiveSlots&, index_t, index_t) {}

  void merged(index_t x, index_t y, index_t nx, index_t ny, const LiveSlots&) {
    const double wx = static_cast<double>(nx), wy = static_cast<double>(ny);
    const index_t px = pos_[x], py = pos_[y];
    for (index_t k = 0; k < d_; ++k) {
      double& c = coord_[k * n_ + py];
      c = (wx * coord_[k * n_ + px] + wy * c) / (wx + wy);
    }
    size_[py] = wx + wy;
    const index_t last = --m_;  // x leaves: the last packed cluster takes its place
    for (index_t k = 0; k < d_; ++k) coord_[k * n_ + px] = coord_[k * n_ + last];
    size_[px] = size_[last];
    slot_[px] = slot_[last];
    pos_[slot_[px]] = px;
  }

 private:
  index_t n_, d_, m_;
  std::vector<double> coord_;  // coord_[k * n + pos]: feature k of the centroid packed at pos
  std::vector<double> size_;   // by packed position
  std::vector<index_t> slot_;  // slot of the cluster packed at pos
  std::vector<index_t> pos_;   // packed position of a live slot
  std::vector<double> x_;      // the centroid being scanned from
  index_t px_ = -1;            // its packed position
  index_t prev_ = -1;          // the chain's previous element (a slot), whose value is noted
};

// ---- complete and average: condensed or recomputed distances, then a square matrix --------

// scipy's update formulas, to the operation, so that distances match it to the bit.
inline double combine(Linkage linkage, double wx, double dxi, double wy, double dyi) {
  return linkage == Linkage::complete ? std::max(dxi, dyi) : (wx * dxi + wy * dyi) / (wx + wy);
}


void choose_nearest(const Nearest* parts, int team, index_t prev, double prev_dist,
                    index_t& best, double& best_dist) {
  best = prev;
  best_dist = prev >= 0 ? prev_dist : kInf;
  for (int t = 0; t < team; ++t)
    if (parts[t].value < best_dist) {
      best_dist = parts[t].value;
      best = parts[t].slot;
    }
}

// Where a scan from a slot should visit: its share, slot order, the live ones but itself.
inline bool visits(const LiveSlots& live, index_t i, index_t x) {
  return i != x && live.size(i) != 0;
}

// The live clusters' square matrix, in slot order, each row holding the cluster's distances to
// all: a scan reads one contiguous row, an update reads two rows and writes a row and a column.
// The square is repacked smaller each time the live clusters fall to half its side, so rows stay
// short and mostly live. The values are copies and the arithmetic is the condensed one's: merges
// and heights are the same to the bit, ties included.
class LiveSquare {
 public:
  explicit LiveSquare(index_t n) : n_(n) {
    // the moves run in the chain's region: every buffer they fill is reserved here, so that
    // nothing there allocates
    for (auto* v : {&pos_, &slot_, &order_}) v->reserve(n);
    bias_.reserve(n);
  }
  index_t side() const { return side_; }

  // From here on the m x m square at S, its rows those of the live slots L (ascending), full
  // and with +inf on the diagonal.
  void start(double* S, const std::vector<index_t>& L) {
    const index_t m = static_cast<index_t>(L.size());
    S_ = S;
    pos_.assign(n_, -1);
    slot_.assign(L.begin(), L.end());
    for (index_t r = 0; r < m; ++r) pos_[L[r]] = r;
    bias_.assign(m, 0.0);
    side_ = m;
  }
  double dist(index_t i, index_t j) const { return S_[pos_[i] * side_ + pos_[j]]; }

  // Dead positions and the diagonal read +inf (bias_, and the diagonal's own value).
  Nearest scan(index_t x, index_t lo, index_t hi) const {
    Nearest f;
    const index_t best =
        kernels().first_min(S_ + pos_[x] * side_ + lo, bias_.data() + lo, hi - lo, &f.value);
    if (best >= 0) f.slot = slot_[lo + best];
    return f;
  }

  // The row is combined whole (a dead position's value is never read; the diagonal stays +inf:
  // the mean or the larger of a value and +inf), the column at the live positions only.
  void update(index_t x, index_t y, double wx, double wy, Linkage linkage, index_t lo,
              index_t hi) {
    const index_t px = pos_[x], py = pos_[y];
    const double* row_x = S_ + px * side_;
    double* row_y = S_ + py * side_;
    kernels().lance_williams(linkage == Linkage::complete, wx, row_x + lo, wy, row_y + lo,
                             hi - lo, row_y + lo);
    for (index_t c = lo; c < hi; ++c)
      if (bias_[c] == 0.0 && c != py && c != px)  // px: read as row_x by another share
        S_[c * side_ + py] = row_y[c];  // the column: a store per row, no load on the scan's path
  }

  // x merged away, `live` clusters left.
  void retire(index_t x, index_t live) {
    bias_[pos_[x]] = kInf;
    if (2 * live <= side_ && live >= 2) shrink();
  }

 private:
  // The live positions' square, moved to the front in order: every value moves to a lower or
  // equal address, later ones read after earlier ones are written, so one forward pass does it.
  void shrink() {
    std::vector<index_t>& R = order_;  // the live positions, ascending
    R.clear();
    for (index_t c = 0; c < side_; ++c)
      if (bias_[c] == 0.0) R.push_back(c);
    const index_t m = static_cast<index_t>(R.size());
    for (index_t r = 0; r < m; ++r) {
      const double* from = S_ + R[r] * side_;
      double* to = S_ + r * m;
      for (index_t c = 0; c < m; ++c) to[c] = from[R[c]];
    }
    for (index_t r = 0; r < m; ++r) {
      const index_t s = slot_[R[r]];
      slot_[r] = s;
      pos_[s] = r;
    }
    slot_.resize(m);
    bias_.assign(m, 0.0);
    side_ = m;
  }

  index_t n_;
  double* S_ = nullptr;
  index_t side_ = 0;           // the square's side; 0 before start
  std::vector<index_t> pos_;   // square position of a live slot
  std::vector<index_t> slot_;  // slot at a square position
  std::vector<double> bias_;   // 0 at a live position, +inf at a dead one
  std::vector<index_t> order_;  // shrink's list of live positions
};

// Completes the m x m square S from the values written above its diagonal, +inf on the
// diagonal. Where from_row(c), column c above the diagonal is taken from row c instead (that
// row was written whole). By 32 x 32 tiles: a cache line of each of 32 rows per tile, not a
// line per value. Shared by `team` threads, this one being t.
template <class FromRow>
void mirror_square(double* S, index_t m, FromRow from_row, int t = 0, int team = 1) {
  constexpr index_t kTile = 32;
  // thread t of `team` takes every team-th row of tiles (each pair is in one tile)
  for (index_t r0 = t * kTile; r0 < m; r0 += team * kTile)
    for (index_t c0 = 0; c0 <= r0; c0 += kTile)
      for (index_t r = r0; r < std::min(m, r0 + kTile); ++r)
        for (index_t c = c0; c < std::min(r, c0 + kTile); ++c) {
          // (c, r) above the diagonal, (r, c) below it
          if (from_row(r))
            S[c * m + r] = S[r * m + c];
          else
            S[r * m + c] = S[c * m + r];
        }
  for (index_t r = t; r < m; r += team) S[r * m + r] = kInf;
}

// The live slots, ascending, into L.
void live_list(const LiveSlots& live, std::vector<index_t>& L) {
  L.clear();
  for (index_t s : live.slots())
    if (live.size(s)) L.push_back(s);
}

// The distances start in scipy's condensed layout, where a scan from x reads d(i, x) for i < x
// down a column, a cache miss each, and a merge's update reads two such columns and writes one.
// Once few enough clusters remain that their square matrix fits in the condensed buffer (at most
// n / sqrt(2), and no more than the in-place move below allows: by two thirds of n at the
// latest), the live clusters are repacked into it (LiveSquare).
class CondensedPolicy {
 public:
  CondensedPolicy(double* D, index_t n, Linkage linkage)
      : D_(D), n_(n), linkage_(linkage), live_(n), square_(n) {
    order_.reserve(n);
    above_.reserve(n);
  }
  double output(double dist) const { return dist; }

  // A condensed scan reads half its values down a column (a cache miss each): ~8 ns a cluster;
  // a square scan streams a row.
  double step_ns(index_t m) const { return square_.side() ? 1.5 * square_.side() : 8.0 * m; }
  index_t extent(const LiveSlots& live) const {
    return square_.side() ? square_.side() : static_cast<index_t>(live.slots().size());
  }
  void prepare(index_t, index_t) {}

  using Part = Nearest;

  Part scan(index_t x, index_t lo, index_t hi, const LiveSlots& live) const {
    if (square_.side()) return square_.scan(x, lo, hi);
    Nearest f;
    const index_t* slots = live.slots().data();
    for (index_t p = lo; p < hi; ++p) {
      const index_t i = slots[p];
      if (visits(live, i, x)) f.take(at(x, i), i);
    }
    return f;
  }

  void choose(const Part* parts, int team, index_t x, index_t prev, index_t& best,
              double& best_dist) const {
    choose_nearest(parts, team, prev, prev >= 0 ? dist(x, prev) : kInf, best, best_dist);
  }

  void update(index_t x, index_t y, index_t nx, index_t ny, const LiveSlots& live, index_t lo,
              index_t hi) {
    const double wx = static_cast<double>(nx), wy = static_cast<double>(ny);
    if (square_.side()) return square_.update(x, y, wx, wy, linkage_, lo, hi);
    const index_t* slots = live.slots().data();
    for (index_t p = lo; p < hi; ++p) {
      const index_t i = slots[p];
      if (live.size(i) == 0 || i == y) continue;
      double& dyi = at(i, y);
      dyi = combine(linkage_, wx, at(i, x), wy, dyi);
    }
  }

  void merged(index_t x, index_t, index_t, index_t, const LiveSlots& live) {
    --live_;
    if (square_.side())
      square_.retire(x, live_);
    else if (live_ * live_ <= n_ * (n_ - 1) / 2 && live_ >= 2)
      to_square(live);
  }

 private:
  double& at(index_t i, index_t j) const {
    if (i > j) std::swap(i, j);
    return D_[n_ * i - i * (i + 1) / 2 + (j - i - 1)];
  }
  double dist(index_t i, index_t j) const { return square_.side() ? square_.dist(i, j) : at(i, j); }
  index_t row_start(index_t i) const { return n_ * i - i * (i + 1) / 2; }

  // The live clusters' square, moved within the condensed buffer (live_^2 values fit in it):
  // square row r (cluster L[r]) must not cover the condensed rows still to be read, those of
  // L[r + 1], ...; while it would, the move waits for more merges (with the lowest slots live
  // it fits from m <= 2 n / 3 on, with low slots dead sooner). It first takes
  // the values above the diagonal (row L[r]'s, gathered before it is overwritten), then mirrors
  // them below.
  void to_square(const LiveSlots& live) {
    std::vector<index_t>& L = order_;
    live_list(live, L);
    const index_t m = static_cast<index_t>(L.size());
    for (index_t r = 0; r + 1 < m; ++r)
      if ((r + 1) * m > row_start(L[r + 1])) return;  // not yet: try again after a merge
    std::vector<double>& above = above_;
    above.assign(m, 0.0);
    for (index_t r = 0; r < m; ++r) {
      const double* row = D_ + row_start(L[r]) - L[r] - 1;  // row[j] = d(L[r], j), j > L[r]
      for (index_t c = r + 1; c < m; ++c) above[c] = row[L[c]];
      std::copy(above.begin() + r + 1, above.end(), D_ + r * m + r + 1);
    }
    mirror_square(D_, m, [](index_t) { return false; });
    square_.start(D_, L);
  }

  double* D_;
  index_t n_;
  Linkage linkage_;
  index_t live_;                // clusters live
  LiveSquare square_;
  std::vector<index_t> order_;  // to_square's list of live slots
  std::vector<double> above_;   // to_square's row of values above the diagonal
};

struct FreeBuffer {
  void operator()(double* p) const { std::free(p); }
};
using HugeBuffer = std::unique_ptr<double[], FreeBuffer>;

// `count` doubles, untouched, on transparent huge pages where the system lends them
// (madvise mode): the merged clusters' rows are read one value each per scan (a row's entry for
// the scan's origin), each in its own pages, so with 4 KiB pages nearly every read also missed
// the TLB (10k x 16 blobs, one thread, medians of 10: 0.78 s against 0.66 s on huge pages).
// Under a few huge pages' worth the advice buys nothing and would round a small fit up to 2 MiB.
HugeBuffer huge_page_buffer(std::size_t count) {
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t align = count * sizeof(double) >= 4 * kHuge ? kHuge : 64;
  const std::size_t bytes = std::max((count * sizeof(double) + align - 1) / align * align, align);
  void* memory = std::aligned_alloc(align, bytes);
  if (!memory) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHuge) madvise(memory, bytes, MADV_HUGEPAGE);  // advice only: else 4 KiB pages
#endif
  return HugeBuffer(static_cast<double*>(memory));
}

// Euclidean distances without the condensed matrix. While many clusters remain:
//  - a distance between two rows never merged is recomputed from X where needed (pdist's
//    operations: its bits) by the SIMD kernel, over the unmerged rows packed in slot order
//    (those merged are dropped from the pack now and then, so work falls with them);
//  - each merged cluster keeps a row of its distances to every slot, written whole by its
//    merge's update, with its entry in the other merged clusters' rows;
//  - an unmerged cluster remembers its nearest unmerged one (value, slot): those distances never
//    change, so it holds until that one merges, and a scan from it then reads only the merged
//    clusters' entries for it (a list of them, read in a tight loop, so that their cache misses
//    overlap).
// Once 3 n / 10 clusters remain, their square is built and LiveSquare goes on.
// Candidates come in slot order except the merged list's; each share keeps the least
// (value, slot), which is the first strict minimum of its range in slot order, and choose()
// takes the least over the shares and the remembered one, then scipy's preference for the
// chain's previous element.
class EuclideanPolicy {
  static constexpr index_t kUnmerged = -1;  // row_ of an unmerged live slot
  static constexpr index_t kDead = -2;

 public:
  template <class T>
  EuclideanPolicy(const Rows<T>& X, Linkage linkage, int n_threads)
      : n_(X.n), d_(X.d), n_threads_(std::max(n_threads, 1)), linkage_(linkage), live_(X.n), square_(X.n),
        coord_(static_cast<std::size_t>(X.n * X.d)),
        point_(static_cast<std::size_t>(X.n * X.d)), row_(X.n, kUnmerged), listed_(X.n, -1),
        near_(X.n), live_bias_(X.n, 0.0), unmerged_bias_(X.n, 0.0),
        recent_(static_cast<std::size_t>(std::max(n_threads, 1) * kRecent)),
        scratch_(static_cast<std::size_t>(std::max(n_threads, 1) * kRecent * X.n)) {
    for (index_t i = 0; i < n_; ++i)
      for (index_t k = 0; k < d_; ++k) {
        const double v = static_cast<double>(X.data[i * d_ + k]);
        coord_[k * n_ + i] = v;
        point_[i * d_ + k] = v;
      }
    packed_slot_.resize(n_);
    std::iota(packed_slot_.begin(), packed_slot_.end(), 0);
    packed_ = unmerged_ = n_;
    // The square takes over at 3 n / 10 live clusters (0.09 n^2 values): later than the
    // n / sqrt(2) at which it would fit in the condensed matrix, because building it costs
    // O(m^2) (recomputed distances, first-touched pages) while the merges before cost about as
    // much per merge here as in the square (10k x 16 blobs, one thread, medians of 3-4: 1.19 s
    // at n / sqrt(2), 1.05 s at 0.6 n, 0.95 s at 0.4 n, 0.92-0.94 s at 0.3 n and 0.2 n; with the
    // vectorised scans and packed recomputation, medians of 8: 0.90 s at 0.5 n, 0.82 s at 0.4 n,
    // 0.74 s at 0.3 n and 0.2 n).
    side_ = std::max<index_t>(3 * n_ / 10, 1);
    // merged clusters live before the square: at most the merges made by then; a spare row
    // takes each update. Reserved, not touched: the pages come as rows are first used.
    const index_t rows = n_ - side_ + 2;
    pool_ = huge_page_buffer(static_cast<std::size_t>(rows * n_));
    free_.reserve(rows);
    merged_.reserve(n_);
    // (on 4 KiB pages: huge pages for the square measured slower, 0.74 s against 0.69 s, their
    // faults' cost above what the update's column stores gain)
    square_buffer_.reset(new double[static_cast<std::size_t>(side_ * side_)]);
    order_.reserve(n_);
  }
  double output(double dist) const { return dist; }

  double step_ns(index_t m) const { return square_.side() ? 1.5 * square_.side() : 3.0 * m; }
  index_t extent(const LiveSlots& live) const {
    return square_.side() ? square_.side() : static_cast<index_t>(live.slots().size());
  }
  // Whether x's nearest unmerged cluster is known and still unmerged.
  void prepare(index_t x, index_t) {
    remembered_ = !square_.side() && row_[x] == kUnmerged && near_[x].slot >= 0 &&
                  row_[near_[x].slot] == kUnmerged;
  }

  struct Part {
    Nearest all;       // the least (value, slot) of the share
    Nearest unmerged;  // the same over the unmerged clusters (a scan from an unmerged one)
  };

  Part scan(index_t x, index_t lo, index_t hi, const LiveSlots& live) const {
    Part f;
    if (square_.side()) {
      f.all = square_.scan(x, lo, hi);
      return f;
    }
    const index_t begin = share_slot(live, lo), end = share_slot(live, hi);
    if (row_[x] >= 0) {
      f.all = first_min(row(x), live_bias_.data(), begin, end);
      return f;
    }
    if (remembered_) {
      for (index_t i : merged_)
        if (i >= begin && i < end) f.all.take_least(row(i)[x], i);
      return f;
    }
    // the merged clusters' entries noted in x's row: the merge that may follow this scan
    // reads them (no merge comes between)
    Recent* recent;
    double* from_x = recomputed(x, begin, end, nullptr, &recent);
    f.unmerged = first_min(from_x, unmerged_bias_.data(), begin, end);
    for (index_t i : merged_)
      if (i >= begin && i < end) f.all.take_least(from_x[i] = row(i)[x], i);
    recent->noted = merges_;
    return f;
  }

  void choose(const Part* parts, int team, index_t x, index_t prev, index_t& best,
              double& best_dist) {
    Nearest all;
    if (!square_.side() && row_[x] == kUnmerged) {
      if (!remembered_) {
        near_[x] = Nearest{};
        for (int t = 0; t < team; ++t) near_[x].take_least(parts[t].unmerged);
      }
      all = near_[x];
    }
    for (int t = 0; t < team; ++t) all.take_least(parts[t].all);
    // scipy's scan starts from the previous element and takes only strictly smaller ones
    if (prev >= 0 && !(all.value < dist(x, prev))) {
      best = prev;
      best_dist = dist(x, prev);
    } else {
      best = all.slot;
      best_dist = all.value;
    }
  }

  // x merged into y: y's new row written into the spare row (y's old row is still read), and
  // y's entry in every other merged cluster's row.
  void update(index_t x, index_t y, index_t nx, index_t ny, const LiveSlots& live, index_t lo,
              index_t hi) {
    const double wx = static_cast<double>(nx), wy = static_cast<double>(ny);
    if (square_.side()) return square_.update(x, y, wx, wy, linkage_, lo, hi);
    const index_t begin = share_slot(live, lo), end = share_slot(live, hi);
    const double* dx = distances_of(x, begin, end, nullptr);
    const double* dy = distances_of(y, begin, end, dx);
    double* out = pool_.get() + spare_ * n_;
    // whole, dead slots too (never read); out[y] is +inf, y's own entry being +inf in dy
    kernels().lance_williams(linkage_ == Linkage::complete, wx, dx + begin, wy, dy + begin,
                             end - begin, out + begin);
    for (index_t i : merged_)
      if (i >= begin && i < end && i != x && i != y) row(i)[y] = out[i];
  }

  void merged(index_t x, index_t y, index_t, index_t, const LiveSlots& live) {
    --live_;
    if (square_.side()) return square_.retire(x, live_);
    // y takes the spare row; the rows it and x held become free
    for (index_t slot : {x, y})
      if (row_[slot] >= 0) {
        free_.push_back(row_[slot]);
        unlist(slot);
      }
    row_[y] = spare_;
    ++merges_;
    for (index_t slot : {x, y})
      if (unmerged_bias_[slot] == 0.0) {
        unmerged_bias_[slot] = kInf;
        --unmerged_;
      }
    live_bias_[x] = kInf;
    pack_unmerged();
    listed_[y] = static_cast<index_t>(merged_.size());
    merged_.push_back(y);
    row_[x] = kDead;
    if (free_.empty()) {
      spare_ = fresh_++;
    } else {
      spare_ = free_.back();
      free_.pop_back();
    }
    if (live_ <= side_ && live_ >= 2) to_square(live);
  }

 private:
  static constexpr int kRecent = 4;  // distance rows each thread keeps
  struct Recent {
    index_t origin = -1, begin = 0, end = 0;  // the row in a buffer: d(origin, [begin, end))
    int next = 0;                             // (the thread's first) the next buffer to reuse
    index_t noted = -1;  // the merges made when the merged clusters' entries were written
  };

  double* row(index_t slot) const { return pool_.get() + row_[slot] * n_; }

  // The first least of v[i] over the slots i in [begin, end) that bias (0 or +inf by slot)
  // leaves, as a scan in slot order finds it.
  static Nearest first_min(const double* v, const double* bias, index_t begin, index_t end) {
    Nearest f;
    const index_t at = kernels().first_min(v + begin, bias + begin, end - begin, &f.value);
    if (at >= 0) f.slot = begin + at;
    return f;
  }

  // d(x, i) for the slots i in [begin, end) of an unmerged x, indexed by slot, in one of the
  // thread's last rows (not `keep`). A merge's update reads the two rows that the scans before
  // it computed: kept, they are not computed again. Their unmerged entries never change; the
  // merged ones' are written by the scan or distances_of, and noted with the merges made then.
  double* recomputed(index_t x, index_t begin, index_t end, const double* keep,
                     Recent** entry) const {
    const int t = omp_get_thread_num();
    Recent* recent = &recent_[t * kRecent];
    double* buffers = scratch_.data() + static_cast<std::size_t>(t * kRecent) * n_;
    for (int k = 0; k < kRecent; ++k)
      if (recent[k].origin == x && recent[k].begin == begin && recent[k].end == end) {
        *entry = &recent[k];
        return buffers + k * n_;
      }
    int k = recent[0].next;
    if (buffers + k * n_ == keep) k = (k + 1) % kRecent;
    recent[0].next = (k + 1) % kRecent;
    recent[k].origin = x;
    recent[k].begin = begin;
    recent[k].end = end;
    recent[k].noted = -1;
    *entry = &recent[k];
    distances_from(x, begin, end, buffers + k * n_);
    // not a candidate of x's scans; never read by an update (x is dead, or the merge's y)
    if (x >= begin && x < end) buffers[k * n_ + x] = kInf;
    return buffers + k * n_;
  }
  // the first slot of the share starting at list position p (n past the end)
  index_t share_slot(const LiveSlots& live, index_t p) const {
    const std::vector<index_t>& slots = live.slots();
    return p < static_cast<index_t>(slots.size()) ? slots[p] : n_;
  }
  // buffer[i] = d(x, i) for the unmerged slots i in [begin, end), as pdist computes them (the
  // kernel's lanes sum in feature order wherever a point is packed: the same bits). Only these
  // are ever read from a recomputed row: a merged slot's entry is taken from its row.
  void distances_from(index_t x, index_t begin, index_t end, double* buffer) const {
    const index_t* slots = packed_slot_.data();
    const index_t first = std::lower_bound(slots, slots + packed_, begin) - slots;
    const index_t last = std::lower_bound(slots + first, slots + packed_, end) - slots;
    constexpr index_t kBlock = 256;
    double value[kBlock];
    for (index_t b0 = first; b0 < last; b0 += kBlock) {
      const index_t len = std::min(kBlock, last - b0);
      kernels().packed_distances(&coord_[b0], n_, len, &point_[x * d_], d_, value);
      for (index_t l = 0; l < len; ++l) buffer[slots[b0 + l]] = value[l];
    }
  }
  // Drops the packed points merged since the last time, once they are an eighth of them.
  void pack_unmerged() {
    if (8 * (packed_ - unmerged_) <= packed_) return;
    index_t kept = 0;
    for (index_t p = 0; p < packed_; ++p) {
      if (unmerged_bias_[packed_slot_[p]] != 0.0) continue;
      for (index_t k = 0; k < d_; ++k) coord_[k * n_ + kept] = coord_[k * n_ + p];
      packed_slot_[kept++] = packed_slot_[p];
    }
    packed_ = kept;
  }
  // d(x, i) for the live slots i in [begin, end): x's row if merged, else recomputed, with the
  // merged clusters' entries for x.
  const double* distances_of(index_t x, index_t begin, index_t end, const double* keep) const {
    if (row_[x] >= 0) return row(x);
    Recent* recent;
    double* buffer = recomputed(x, begin, end, keep, &recent);
    if (recent->noted != merges_) {
      for (index_t i : merged_)
        if (i >= begin && i < end) buffer[i] = row(i)[x];
      recent->noted = merges_;
    }
    return buffer;
  }
  void unlist(index_t slot) {
    const index_t at = listed_[slot], last = merged_.back();
    merged_[at] = last;
    listed_[last] = at;
    merged_.pop_back();
    listed_[slot] = -1;
  }
  double dist(index_t i, index_t j) const {
    if (square_.side()) return square_.dist(i, j);
    if (row_[i] >= 0) return row(i)[j];
    if (row_[j] >= 0) return row(j)[i];
    double d;  // j's row as one point packed with stride 1
    kernels().packed_distances(&point_[j * d_], 1, 1, &point_[i * d_], d_, &d);
    return d;
  }

  // The live clusters' square: a merged cluster's row copied whole; an unmerged one's
  // distances to the unmerged ones after it recomputed; the rest mirrored. Then the rows' pool
  // is released.
  void to_square(const LiveSlots& live) {
    std::vector<index_t>& L = order_;
    live_list(live, L);
    const index_t m = static_cast<index_t>(L.size());
    double* S = square_buffer_.get();
    for (Recent& r : recent_) r.origin = -1;  // the buffers are overwritten
    // A region of its own (~n^2 / 4 distances and the first touch of the square's pages): it
    // gets its threads where the chain runs on one, one thread where the chain's team is active
    // (nested regions are off). No exception: nothing here throws or allocates.
    const int threads = fastml_region_threads(0.5 * m * n_ * (0.2 * d_ + 1.0), n_threads_);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      double* buffer = scratch_.data() + static_cast<std::size_t>(omp_get_thread_num()) *
                                             kRecent * n_;
#pragma omp for schedule(dynamic, 8)
      for (index_t r = 0; r < m; ++r) {
        double* out = S + r * m;
        if (row_[L[r]] >= 0) {
          const double* from = row(L[r]);
          for (index_t c = 0; c < m; ++c) out[c] = from[L[c]];
          continue;
        }
        distances_from(L[r], L[r] + 1, n_, buffer);
        for (index_t c = r + 1; c < m; ++c)
          if (row_[L[c]] == kUnmerged) out[c] = buffer[L[c]];
      }
      mirror_square(S, m, [this, &L](index_t r) { return row_[L[r]] >= 0; },
                    omp_get_thread_num(), omp_get_num_threads());
    }
    square_.start(S, L);
    pool_.reset();
  }

  index_t n_, d_;
  int n_threads_;
  Linkage linkage_;
  index_t live_;      // clusters live
  index_t side_ = 0;  // the live count at which the square takes over
  LiveSquare square_;
  // coord_[k * n + p]: feature k of the unmerged row packed at p (the kernel's layout), in slot
  // order; the rows merged since the last repacking stay until an eighth of them are
  std::vector<double> coord_;
  std::vector<index_t> packed_slot_;  // the slot packed at p
  index_t packed_, unmerged_;         // rows packed; unmerged live clusters
  index_t merges_ = 0;                // merges made
  std::vector<double> point_;  // point_[i * d + k]: the same, row-major (a scan's origin)
  std::vector<index_t> row_;   // a merged slot's row in the pool; kUnmerged, kDead
  std::vector<index_t> merged_;  // the merged live slots, in no order
  std::vector<index_t> listed_;  // a slot's place in merged_
  std::vector<Nearest> near_;    // an unmerged slot's nearest unmerged one, once scanned
  std::vector<double> live_bias_;      // by slot: 0 while live, then +inf
  std::vector<double> unmerged_bias_;  // by slot: 0 while live and unmerged, then +inf
  bool remembered_ = false;      // the scan's origin is unmerged and near_ holds
  HugeBuffer pool_;  // rows of n distances
  std::vector<index_t> free_;       // pool rows free
  index_t spare_ = 0, fresh_ = 1;   // the row the next update writes; the first never used
  std::unique_ptr<double[]> square_buffer_;
  std::vector<index_t> order_;           // to_square's list of live slots
  mutable std::vector<Recent> recent_;   // per thread: kRecent
  mutable std::vector<double> scratch_;  // per thread: kRecent buffers of n values
};

// scipy's union-find for naming the clusters of sorted merges.
class MergeNames {
 public:
  explicit MergeNames(index_t n) : parent_(2 * n - 1), next_(n) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  index_t find(index_t x) {
    index_t root = x;
    while (parent_[root] != root) root = parent_[root];
    while (parent_[x] != root) {
      const index_t up = parent_[x];
      parent_[x] = root;
      x = up;
    }
    return root;
  }
  void merge(index_t a, index_t b) { parent_[a] = parent_[b] = next_++; }

 private:
  std::vector<index_t> parent_;
  index_t next_;
};

}  // namespace

template <class T>
void ward_chain(const Rows<T>& X, Merge* merges, int n_threads) {
  WardPolicy p(X);
  nn_chain(p, X.n, merges, n_threads);
}

void condensed_chain(double* condensed, index_t n, Linkage linkage, Merge* merges,
                     int n_threads) {
  CondensedPolicy p(condensed, n, linkage);
  nn_chain(p, n, merges, n_threads);
}

void label_merges(const Merge* merges, index_t n, std::int64_t* children, double* distances) {
  std::vector<index_t> order(n - 1);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [merges](index_t a, index_t b) {
    return merges[a].distance < merges[b].distance;
  });
  MergeNames names(n);
  for (index_t k = 0; k < n - 1; ++k) {
    const Merge& m = merges[order[k]];
    index_t a = names.find(m.a), b = names.find(m.b);
    if (a > b) std::swap(a, b);
    children[2 * k] = a;
    children[2 * k + 1] = b;
    distances[k] = m.distance;
    names.merge(a, b);
  }
}

template <class T>
void euclidean_chain(const Rows<T>& X, Linkage linkage, Merge* merges, int n_threads) {
  EuclideanPolicy p(X, linkage, n_threads);
  nn_chain(p, X.n, merges, n_threads);
}

template <class T>
void condensed_euclidean(const Rows<T>& X, double* condensed, int n_threads) {
  const index_t n = X.n, d = X.d;
  // X feature-major, so that the distances of a row to the rows after it are computed one row
  // per SIMD lane; each lane sums over the features in order, as scipy's pdist: the same bits.
  std::vector<double> packed(static_cast<std::size_t>(n * d));
  for (index_t i = 0; i < n; ++i)
    for (index_t k = 0; k < d; ++k) packed[k * n + i] = static_cast<double>(X.data[i * d + k]);
  const HierarchyTable& kern = kernels();
  const int threads = fastml_region_threads(0.5 * n * n * (0.2 * d + 1.0), n_threads);
  std::vector<double> row(static_cast<std::size_t>(threads * d));  // each thread's row i
  // Row i holds n - 1 - i distances: small dynamic chunks even out the threads' shares.
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (index_t i = 0; i < n - 1; ++i) {
    double* out = condensed + n * i - i * (i + 1) / 2;  // the distances of i to i + 1, ...
    const index_t count = n - 1 - i;
    double* xi = &row[static_cast<std::size_t>(omp_get_thread_num() * d)];
    for (index_t k = 0; k < d; ++k) xi[k] = packed[k * n + i];
    kern.packed_distances(&packed[i + 1], n, count, xi, d, out);
  }
}

template void ward_chain<float>(const Rows<float>&, Merge*, int);
template void ward_chain<double>(const Rows<double>&, Merge*, int);
template void euclidean_chain<float>(const Rows<float>&, Linkage, Merge*, int);
template void euclidean_chain<double>(const Rows<double>&, Linkage, Merge*, int);
template void condensed_euclidean<float>(const Rows<float>&, double*, int);
template void condensed_euclidean<double>(const Rows<double>&, double*, int);

}  // namespace fastml::hierarchy
