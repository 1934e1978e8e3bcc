// Stable radix sort of float scores and the distinct-threshold sweep of the binary curves (see
// clf_metrics.hpp).
//
// The sort is most-significant-digit first. Scores become unsigned keys whose ascending order is
// the scores' descending order; one parallel, stable scatter on the top 16 varying bits cuts them
// into buckets (for 10M uniform scores, ~150 keys each, which fit in L1), and each bucket is
// finished on its own by 8-bit stable scatters (or an insertion sort once small), skipping the
// bits its keys share and stopping where they are all equal: equal scores keep their order of
// position. Against a least-significant-digit sort, which passes over all the data once per
// digit (7 passes of 8 bits for doubles in [0, 1)), the data crosses memory twice.
//
// Sorted entries carry their position in the low 31 bits and the sample's class in the top bit,
// so that the unweighted sweep reads the sorted array alone.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "fastml/clf_metrics.hpp"
#include "fastml/openmp_helpers.h"
#include "fastml/sort_keys.hpp"

namespace fastml::clf_metrics {
namespace {

constexpr std::uint32_t kPosBit = 0x80000000u;
constexpr std::uint32_t kIndexMask = 0x7fffffffu;

template <class T>
using Key = SortKey<T>;

// The key of a score: ascending keys are descending scores; -0.0 and 0.0 get the same key.
template <class T>
inline Key<T> descending_key(T x) {
  return ~ascending_key(x == T(0) ? T(0) : x);
}

template <class K>
inline int top_bit(K x) {  // x != 0
  if constexpr (sizeof(K) == 8) {
    return 63 - __builtin_clzll(x);
  } else {
    return 31 - __builtin_clz(x);
  }
}

// Stable sort of (key, payload) by key, in place, with scratch of the same length.
template <class K>
void sort_bucket(K* key, std::uint32_t* pay, K* tkey, std::uint32_t* tpay, index_t len) {
  if (len <= 32) {
    for (index_t i = 1; i < len; ++i) {
      const K k = key[i];
      const std::uint32_t p = pay[i];
      index_t j = i;
      for (; j > 0 && key[j - 1] > k; --j) {
        key[j] = key[j - 1];
        pay[j] = pay[j - 1];
      }
      key[j] = k;
      pay[j] = p;
    }
    return;
  }
  K lo = key[0], hi = key[0];
  for (index_t i = 1; i < len; ++i) {
    lo = std::min(lo, key[i]);
    hi = std::max(hi, key[i]);
  }
  if (lo == hi) return;  // all equal: already in position order
  // All keys share the bits above the highest bit where lo and hi differ.
  const int varying = top_bit<K>(lo ^ hi) + 1;
  const int digits = std::min(8, varying);
  const int shift = varying - digits;
  const K mask = (K{1} << digits) - 1;
  index_t start[257] = {0};
  for (index_t i = 0; i < len; ++i) ++start[((key[i] >> shift) & mask) + 1];
  for (int d = 0; d < 256; ++d) start[d + 1] += start[d];
  index_t next[256];
  std::memcpy(next, start, sizeof next);
  for (index_t i = 0; i < len; ++i) {
    const index_t at = next[(key[i] >> shift) & mask]++;
    tkey[at] = key[i];
    tpay[at] = pay[i];
  }
  std::memcpy(key, tkey, static_cast<std::size_t>(len) * sizeof(K));
  std::memcpy(pay, tpay, static_cast<std::size_t>(len) * sizeof(std::uint32_t));
  for (int d = 0; d < 256; ++d) {
    const index_t b = start[d], e = start[d + 1];
    if (e - b > 1) sort_bucket(key + b, pay + b, tkey + b, tpay + b, e - b);
  }
}

template <class T>
struct Sorted {
  // Left uninitialised (make_unique<T[]>(n) would zero them): every entry is written once.
  std::unique_ptr<Key<T>[]> keys;
  std::unique_ptr<std::uint32_t[]> payloads;
  index_t n;
};

template <class T>
inline std::uint32_t payload(const std::uint8_t* is_pos, index_t i) {
  return static_cast<std::uint32_t>(i) | (is_pos && is_pos[i] ? kPosBit : 0u);
}

// Keys and payloads (position | class bit) ordered by decreasing score, stable. The keys are
// computed from the scores in each of the three passes over them rather than stored: only the
// scattered copy is written (a 10M-score sort of doubles holds 120 MB, not 240).
template <class T>
Sorted<T> sorted_payloads(const T* score, const std::uint8_t* is_pos, index_t n,
                          int n_threads) {
  using K = Key<T>;
  if (n > static_cast<index_t>(kIndexMask))
    throw std::invalid_argument("at most 2^31 - 1 scores can be sorted");
  Sorted<T> out{std::unique_ptr<K[]>(new K[n]),
                std::unique_ptr<std::uint32_t[]>(new std::uint32_t[n]), n};
  K* key1 = out.keys.get();
  std::uint32_t* pay1 = out.payloads.get();
  // ~1 ns per score per pass over it on one thread (a rough model for fastml_region_threads).
  const int threads = fastml_region_threads(static_cast<double>(n), n_threads);
  K lo = std::numeric_limits<K>::max(), hi = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(min : lo) \
    reduction(max : hi) if (threads > 1)
  for (index_t i = 0; i < n; ++i) {
    const K k = descending_key(score[i]);
    lo = std::min(lo, k);
    hi = std::max(hi, k);
  }
  if (n < 2 || lo == hi) {  // one distinct score: position order
    for (index_t i = 0; i < n; ++i) {
      key1[i] = lo;
      pay1[i] = payload<T>(is_pos, i);
    }
    return out;
  }

  // Top digit: up to 16 bits, fewer for small n (about 16 keys a bucket at least).
  const int varying = top_bit<K>(lo ^ hi) + 1;
  int digits = 4;
  while (digits < 16 && (index_t{16} << digits) < n) ++digits;
  digits = std::min(digits, varying);
  const int shift = varying - digits;
  const index_t n_buckets = index_t{1} << digits;
  const K mask = static_cast<K>(n_buckets - 1);

  // Stable parallel scatter: thread t's block of positions goes, within each bucket, after the
  // blocks of threads before it, so the result is the same for any thread count.
  std::vector<index_t> counts(static_cast<std::size_t>(threads * n_buckets), 0);
  std::vector<index_t> start(n_buckets + 1, 0);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();  // the team may be smaller than asked for
    const index_t b = n * t / nt, e = n * (t + 1) / nt;
    index_t* count = counts.data() + t * n_buckets;
    for (index_t i = b; i < e; ++i) ++count[(descending_key(score[i]) >> shift) & mask];
#pragma omp barrier
#pragma omp single
    {
      index_t at = 0;
      for (index_t d = 0; d < n_buckets; ++d) {
        start[d] = at;
        for (int u = 0; u < nt; ++u) {
          const index_t c = counts[u * n_buckets + d];
          counts[u * n_buckets + d] = at;
          at += c;
        }
      }
      start[n_buckets] = at;
    }
    for (index_t i = b; i < e; ++i) {
      const K k = descending_key(score[i]);
      const index_t at = count[(k >> shift) & mask]++;
      key1[at] = k;
      pay1[at] = payload<T>(is_pos, i);
    }
  }

  // Buckets are independent: each ends the same whichever thread sorts it. Each thread keeps
  // one scratch buffer, grown to the largest bucket it meets.
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::vector<K> tkey;
    std::vector<std::uint32_t> tpay;
#pragma omp for schedule(dynamic, 64)
    for (index_t d = 0; d < n_buckets; ++d) {
      const index_t b = start[d], len = start[d + 1] - b;
      if (len <= 1) continue;
      if (static_cast<index_t>(tkey.size()) < len) {
        tkey.resize(len);
        tpay.resize(len);
      }
      sort_bucket<K>(key1 + b, pay1 + b, tkey.data(), tpay.data(), len);
    }
  }
  return out;
}

// Calls point(j_last, tp, fp) at the last sorted position of each run of equal scores, with the
// cumulative positive and negative weight up to it. Unweighted sums are exact counts.
template <class T, class Point>
void sweep(const Sorted<T>& sorted, const double* weight, Point&& point) {
  const std::uint32_t* order = sorted.payloads.get();
  const index_t n = sorted.n;
  double tp = 0.0, fp = 0.0;
  for (index_t j = 0; j < n; ++j) {
    const std::uint32_t p = order[j];
    const bool pos = (p & kPosBit) != 0;
    if (weight) {
      const double w = weight[p & kIndexMask];
      // As scikit-learn's cumulative sums of y * w and (1 - y) * w.
      if (pos) tp += w; else fp += w;
    } else {
      tp += pos ? 1.0 : 0.0;
    }
    const bool last = j + 1 == n || sorted.keys[j + 1] != sorted.keys[j];
    if (last) point(j, tp, weight ? fp : 1.0 + static_cast<double>(j) - tp);
  }
}

}  // namespace

template <class T>
std::vector<std::uint32_t> descending_order(const T* score, index_t n, int n_threads) {
  const Sorted<T> sorted = sorted_payloads<T>(score, nullptr, n, n_threads);
  return std::vector<std::uint32_t>(sorted.payloads.get(), sorted.payloads.get() + n);
}

template <class T>
Curve<T> threshold_counts(const T* score, const std::uint8_t* is_pos, const double* weight,
                          index_t n, int n_threads) {
  const Sorted<T> sorted = sorted_payloads<T>(score, is_pos, n, n_threads);
  Curve<T> curve;
  sweep<T>(sorted, weight, [&](index_t j, double tp, double fp) {
    // The score of the run's last sample, as scikit-learn picks it (a -0.0 stays -0.0).
    curve.thresholds.push_back(score[sorted.payloads[j] & kIndexMask]);
    curve.tps.push_back(tp);
    curve.fps.push_back(fp);
  });
  return curve;
}

template <class T>
double roc_auc(const T* score, const std::uint8_t* is_pos, const double* weight, index_t n,
               double* n_pos, double* n_neg, int n_threads) {
  const Sorted<T> sorted = sorted_payloads<T>(score, is_pos, n, n_threads);
  double prev_tp = 0.0, prev_fp = 0.0;
  // Twice the area under the unnormalised curve: sum of (fp - fp') * (tp + tp'). Unweighted,
  // every term is an integer and the sum is kept exactly (it can pass 2^53).
  __int128 exact = 0;
  double area2 = 0.0;
  sweep<T>(sorted, weight, [&](index_t, double tp, double fp) {
    if (weight) {
      area2 += (fp - prev_fp) * (tp + prev_tp);
    } else {
      exact += static_cast<__int128>(static_cast<std::int64_t>(fp - prev_fp)) *
               static_cast<std::int64_t>(tp + prev_tp);
    }
    prev_tp = tp;
    prev_fp = fp;
  });
  *n_pos = prev_tp;
  *n_neg = prev_fp;
  if (!(prev_tp > 0.0 && prev_fp > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  // Normalised once, in long double: area2 / (2 P N).
  const long double area = weight ? static_cast<long double>(area2)
                                  : static_cast<long double>(exact);
  return static_cast<double>(area / (2.0L * static_cast<long double>(prev_tp) * prev_fp));
}

#define FASTML_SCORE_TYPE(T)                                                                  \
  template std::vector<std::uint32_t> descending_order<T>(const T*, index_t, int);            \
  template Curve<T> threshold_counts<T>(const T*, const std::uint8_t*, const double*, index_t, \
                                        int);                                                 \
  template double roc_auc<T>(const T*, const std::uint8_t*, const double*, index_t, double*,  \
                             double*, int);
FASTML_SCORE_TYPE(float)
FASTML_SCORE_TYPE(double)
#undef FASTML_SCORE_TYPE

}  // namespace fastml::clf_metrics
