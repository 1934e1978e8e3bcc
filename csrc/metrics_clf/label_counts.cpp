// Label scans and confusion counts (see clf_metrics.hpp).
//
// One chunked skeleton serves every count: the samples are cut into chunks whose number depends
// only on n and on the size of the output, each chunk counts into its own zeroed partial, and
// the partials are added in chunk order. Integer counts would not need the fixed order; float64
// weight sums do, so that a result never depends on the thread count.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "fastml/clf_metrics.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::clf_metrics {
namespace {

// Rough one-thread cost of touching one label, for fastml_region_threads.
constexpr double kNsPerLabel = 0.5;

// Chunks of at least 64k samples, at most 64 of them, and partials that together stay under
// about an eighth of the samples' count of cells (a large k x k matrix is counted in fewer
// chunks, down to one, rather than allocate and merge many copies of it).
index_t n_chunks_for(index_t n, index_t cells) {
  const index_t min_len = std::max<index_t>(index_t{1} << 16, 8 * cells);
  return std::clamp<index_t>(n / min_len, 1, 64);
}

template <class Body>
void for_chunks(index_t n, index_t n_chunks, int n_threads, double ns_per_sample, Body&& body) {
  const int threads = static_cast<int>(std::min<index_t>(
      fastml_region_threads(ns_per_sample * static_cast<double>(n), n_threads), n_chunks));
  FirstException error;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t c = 0; c < n_chunks; ++c) {
    error.run([&] { body(c, n * c / n_chunks, n * (c + 1) / n_chunks); });
  }
  error.rethrow();
}

template <class L>
inline std::int32_t encode(const Encoding<L>& enc, L v) {
  // The difference is taken in the unsigned type of L, so that it cannot overflow; a value
  // below offset wraps round to a large one, out of range.
  using U = std::make_unsigned_t<L>;
  const U d = static_cast<U>(static_cast<U>(v) - static_cast<U>(enc.offset));
  return d < static_cast<std::uint64_t>(enc.n_lut) ? enc.lut[d] : -1;
}

// Adds sample i's weight into the partial of one chunk. Acc: int64_t or double.
template <class L, class Acc, class W>
void count_chunk(const L* y_true, const L* y_pred, index_t begin, index_t end,
                 const Encoding<L>& enc, index_t k, const W* w, CountKind kind, Acc* part) {
  auto weight = [&](index_t i) -> Acc {
    if constexpr (std::is_same_v<W, void>) {
      (void)i;
      return Acc{1};
    } else {
      return static_cast<Acc>(w[i]);
    }
  };
  if (kind == CountKind::matrix) {
    for (index_t i = begin; i < end; ++i) {
      const std::int32_t t = encode(enc, y_true[i]), p = encode(enc, y_pred[i]);
      if ((t | p) >= 0) part[static_cast<index_t>(t) * k + p] += weight(i);
    }
  } else {
    Acc* tp = part;
    Acc* true_sum = part + k;
    Acc* pred_sum = part + 2 * k;
    for (index_t i = begin; i < end; ++i) {
      const std::int32_t t = encode(enc, y_true[i]), p = encode(enc, y_pred[i]);
      const Acc wi = weight(i);
      if (t >= 0) {
        true_sum[t] += wi;
        if (t == p) tp[t] += wi;
      }
      if (p >= 0) pred_sum[p] += wi;
    }
  }
}

template <class L, class Acc, class W>
void count(const L* y_true, const L* y_pred, index_t n, const Encoding<L>& enc, index_t k,
           const W* w, CountKind kind, Acc* out, int n_threads) {
  const index_t cells = kind == CountKind::matrix ? k * k : 3 * k;
  std::fill(out, out + cells, Acc{0});
  const index_t n_chunks = n_chunks_for(n, cells);
  if (n_chunks == 1) {
    count_chunk<L, Acc, W>(y_true, y_pred, 0, n, enc, k, w, kind, out);
    return;
  }
  std::vector<Acc> partials(static_cast<std::size_t>(n_chunks * cells));
  for_chunks(n, n_chunks, n_threads, kNsPerLabel * 2, [&](index_t c, index_t b, index_t e) {
    count_chunk<L, Acc, W>(y_true, y_pred, b, e, enc, k, w, kind, partials.data() + c * cells);
  });
  for (index_t c = 0; c < n_chunks; ++c) {
    const Acc* part = partials.data() + c * cells;
    for (index_t j = 0; j < cells; ++j) out[j] += part[j];
  }
}

}  // namespace

template <class L>
void label_range(const L* y, index_t n, L* lo, L* hi, int n_threads) {
  const index_t n_chunks = n_chunks_for(n, 1);
  std::vector<L> los(n_chunks, y[0]), his(n_chunks, y[0]);
  for_chunks(n, n_chunks, n_threads, kNsPerLabel, [&](index_t c, index_t b, index_t e) {
    L a = y[b], z = y[b];
    for (index_t i = b; i < e; ++i) {
      a = std::min(a, y[i]);
      z = std::max(z, y[i]);
    }
    los[c] = a;
    his[c] = z;
  });
  *lo = *std::min_element(los.begin(), los.end());
  *hi = *std::max_element(his.begin(), his.end());
}

template <class L>
bool label_presence(const L* y, index_t n, L lo, index_t n_values, std::uint8_t* present,
                    int n_threads) {
  std::memset(present, 0, static_cast<std::size_t>(n_values));
  const index_t n_chunks = n_chunks_for(n, n_values);
  using U = std::make_unsigned_t<L>;
  // The range check costs a compare per label, far less than a separate pass over them.
  auto mark = [&](index_t b, index_t e, std::uint8_t* flags) {
    bool ok = true;
    for (index_t i = b; i < e; ++i) {
      const std::uint64_t d = static_cast<U>(static_cast<U>(y[i]) - static_cast<U>(lo));
      if (d < static_cast<std::uint64_t>(n_values)) flags[d] = 1; else ok = false;
    }
    return ok;
  };
  if (n_chunks == 1) return mark(0, n, present);
  std::vector<std::uint8_t> flags(static_cast<std::size_t>(n_chunks * n_values), 0);
  std::vector<std::uint8_t> ok(static_cast<std::size_t>(n_chunks), 1);
  for_chunks(n, n_chunks, n_threads, kNsPerLabel, [&](index_t c, index_t b, index_t e) {
    ok[c] = mark(b, e, flags.data() + c * n_values);
  });
  for (index_t c = 0; c < n_chunks; ++c)
    for (index_t v = 0; v < n_values; ++v) present[v] |= flags[c * n_values + v];
  return std::all_of(ok.begin(), ok.end(), [](std::uint8_t v) { return v != 0; });
}

template <class L>
void confusion_counts(const L* y_true, const L* y_pred, index_t n, const Encoding<L>& enc,
                      index_t k, const Weights& w, CountKind kind, void* out, int n_threads) {
  switch (w.kind) {
    case WeightKind::none:
      count<L, std::int64_t, void>(y_true, y_pred, n, enc, k, nullptr, kind,
                                   static_cast<std::int64_t*>(out), n_threads);
      break;
    case WeightKind::int64:
      count<L, std::int64_t, std::int64_t>(y_true, y_pred, n, enc, k,
                                           static_cast<const std::int64_t*>(w.data), kind,
                                           static_cast<std::int64_t*>(out), n_threads);
      break;
    case WeightKind::float64:
      count<L, double, double>(y_true, y_pred, n, enc, k, static_cast<const double*>(w.data),
                               kind, static_cast<double*>(out), n_threads);
      break;
  }
}

#define FASTML_LABEL_TYPE(L)                                                                  \
  template void label_range<L>(const L*, index_t, L*, L*, int);                                \
  template bool label_presence<L>(const L*, index_t, L, index_t, std::uint8_t*, int);             \
  template void confusion_counts<L>(const L*, const L*, index_t, const Encoding<L>&, index_t, \
                                    const Weights&, CountKind, void*, int);
FASTML_LABEL_TYPE(std::int8_t)
FASTML_LABEL_TYPE(std::int16_t)
FASTML_LABEL_TYPE(std::int32_t)
FASTML_LABEL_TYPE(std::int64_t)
FASTML_LABEL_TYPE(std::uint8_t)
FASTML_LABEL_TYPE(std::uint16_t)
FASTML_LABEL_TYPE(std::uint32_t)
FASTML_LABEL_TYPE(std::uint64_t)
#undef FASTML_LABEL_TYPE

}  // namespace fastml::clf_metrics
