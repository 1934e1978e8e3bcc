// Naive Bayes likelihood kernels, compiled once per instruction set (CMake defines FASTML_ISA and
// the -march). As in kmeans_kernels_isa.cpp, everything but kernel_table() has internal linkage
// and the standard library's inline templates are avoided, so no function built for a wider
// instruction set can be linked into another build. Drivers, memory and threads live in
// naive_bayes.cpp.
//
// A row's result depends on that row and the model only, through one code path: no result
// depends on how rows are grouped onto threads.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fastml/naive_bayes.hpp"
#include "fastml/simd_math_isa.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::naive_bayes::FASTML_ISA {
namespace {

using simd::FASTML_ISA::exp_vec;
using simd::FASTML_ISA::splat_v;
using simd::FASTML_ISA::Vec;

template <class V> inline V load(const double* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V> inline void store(double* p, V v) { std::memcpy(p, &v, sizeof(V)); }

inline index_t min_index(index_t a, index_t b) { return a < b ? a : b; }

// ---- exp and the normalisation, on native vectors ----------------------------------------

// Doubles per native vector register. Wider generic vectors are split by the compiler into
// stack traffic on narrower builds: 64-byte vectors made the SSE2 and AVX2 builds 4-6x slower
// than the AVX-512 one (linear likelihoods of 100k x 30k CSR rows, 20 classes: 296 and 398 ms
// against 65 ms on one thread).
#if defined(__AVX512F__)
constexpr int kNative = 8;
#elif defined(__AVX__)
constexpr int kNative = 4;
#else
constexpr int kNative = 2;
#endif
typedef Vec<kNative>::V VN;
typedef Vec<kNative>::I IN;

inline VN splat(double x) { return VN{} + x; }

// Up to kNative values of p as one vector, `fill` in the lanes past n. A whole vector is one
// load; the lanes of a partial one are copied one by one under a test (a copy loop of n values
// became `rep movsq`, whose start-up costs more than a short row's arithmetic).
inline VN load_part(const double* p, index_t n, double fill) {
  if (n == kNative) return load<VN>(p);
  VN v = splat(fill);
  for (int l = 0; l < kNative; ++l)
    if (l < n) v[l] = p[l];
  return v;
}
inline void store_part(double* p, VN v, index_t n) {
  if (n == kNative) return store(p, v);
  for (int l = 0; l < kNative; ++l)
    if (l < n) p[l] = v[l];
}
// Lanes added in lane order: the same sum for a row wherever it is computed.
inline double lane_sum(VN v) {
  double s = 0.0;
  for (int l = 0; l < kNative; ++l) s += v[l];
  return s;
}

// exp_vec: fastml/simd_math_isa.hpp (libm's calls, two per value, took 24 ms of a 100k x 20
// predict_proba on one thread; NumPy's vectorised exp of as many values takes about 2 ms).

// scikit-learn's _logsumexp, term for term, with libm: rows whose maximum is not finite (all
// -inf, +inf or NaN), where the shifted form below does not apply.
void normalize_nonfinite(double* v, index_t k, Output what, double mx) {
  double lse;
  if (__builtin_isnan(mx)) {
    lse = mx;
  } else {
    double m = 0.0, s = 0.0;
    for (index_t c = 0; c < k; ++c) {
      if (v[c] == mx)
        m += 1.0;
      else
        s += std::exp(v[c]);  // shifted by 0, as scikit-learn does for an infinite maximum
    }
    if (s != 0.0) s /= m;
    lse = std::log1p(s) + std::log(m) + mx;
  }
  for (index_t c = 0; c < k; ++c)
    v[c] = what == Output::log_proba ? v[c] - lse : std::exp(v[c] - lse);
}

constexpr double kMinusInf = -__builtin_inf();

// A row of k <= NB * W values held in NB vectors (lanes past k: -inf) normalised and its k
// values stored to out: the same operations as normalize_row below, without reloading the row.
template <int W, int NB>
void normalize_vectors(typename Vec<W>::V* a, index_t k, Output what, double* out) {
  typedef typename Vec<W>::V V;
  typedef typename Vec<W>::I I;
  double tmp[NB * W];
  V vmax = a[0];
  I nan = a[0] != a[0];
  for (int b = 1; b < NB; ++b) {
    vmax = a[b] > vmax ? a[b] : vmax;
    nan |= a[b] != a[b];
  }
  double mx = vmax[0];
  bool any_nan = false;
  for (int l = 0; l < W; ++l) {
    mx = vmax[l] > mx ? vmax[l] : mx;
    any_nan = any_nan || nan[l] != 0;
  }
  if (what != Output::joint && !any_nan && __builtin_isfinite(mx)) {
    if (what == Output::proba) {
      V total = V{};
      for (int b = 0; b < NB; ++b) {
        a[b] = exp_vec<W>(a[b] - mx);
        total += a[b];
      }
      double sum = 0.0;
      for (int l = 0; l < W; ++l) sum += total[l];
      const double inv = 1.0 / sum;
      for (int b = 0; b < NB; ++b) store(tmp + b * W, a[b] * inv);
    } else {
      V m = V{}, s = V{};
      for (int b = 0; b < NB; ++b) {
        const I top = a[b] == mx;
        m += top ? splat_v<V>(1.0) : V{};
        s += top ? V{} : exp_vec<W>(a[b] - mx);
      }
      double s_sum = 0.0, m_sum = 0.0;
      for (int l = 0; l < W; ++l) {
        s_sum += s[l];
        m_sum += m[l];
      }
      if (s_sum != 0.0) s_sum /= m_sum;
      const double lse = std::log1p(s_sum) + std::log(m_sum) + mx;
      for (int b = 0; b < NB; ++b) store(tmp + b * W, a[b] - lse);
    }
    std::memcpy(out, tmp, static_cast<std::size_t>(k) * sizeof(double));
    return;
  }
  for (int b = 0; b < NB; ++b) store(tmp + b * W, a[b]);
  std::memcpy(out, tmp, static_cast<std::size_t>(k) * sizeof(double));
  if (what != Output::joint) normalize_nonfinite(out, k, what, any_nan ? __builtin_nan("") : mx);
}

// One row of k joint log-likelihoods normalised in place. With the maximum mx taken by m
// classes and s = sum of exp(v - mx) over the others, scikit-learn's log-sum-exp is
// lse = log1p(s / m) + log(m) + mx; probabilities are exp(v - lse) = exp(v - mx) / (m + s),
// one exp per value. Lanes past k hold -inf, whose exp is 0.
template <int NB>
inline void normalize_short(double* v, index_t k, Output what) {
  VN a[NB];
  for (int b = 0; b < NB; ++b)
    a[b] = load_part(v + b * kNative, min_index(kNative, k - b * kNative), kMinusInf);
  normalize_vectors<kNative, NB>(a, k, what, v);
}

void normalize_row(double* v, index_t k, Output what) {
  if (what == Output::joint) return;
  switch ((k + kNative - 1) / kNative) {
    case 1: return normalize_short<1>(v, k, what);
    case 2: return normalize_short<2>(v, k, what);
    case 3: return normalize_short<3>(v, k, what);
    case 4: return normalize_short<4>(v, k, what);
    case 5: return normalize_short<5>(v, k, what);
    case 6: return normalize_short<6>(v, k, what);
    default: break;
  }
  VN vmax = splat(kMinusInf);
  IN nan = IN{};
  for (index_t c = 0; c < k; c += kNative) {
    const VN x = load_part(v + c, min_index(kNative, k - c), kMinusInf);
    vmax = x > vmax ? x : vmax;
    nan |= x != x;
  }
  double mx = vmax[0];
  bool any_nan = false;
  for (int l = 0; l < kNative; ++l) {
    mx = vmax[l] > mx ? vmax[l] : mx;
    any_nan = any_nan || nan[l] != 0;
  }
  if (any_nan || !__builtin_isfinite(mx)) {
    normalize_nonfinite(v, k, what, any_nan ? __builtin_nan("") : mx);
    return;
  }
  if (what == Output::proba) {
    VN total = VN{};
    for (index_t c = 0; c < k; c += kNative) {
      const index_t n = min_index(kNative, k - c);
      const VN e = exp_vec<kNative>(load_part(v + c, n, kMinusInf) - mx);
      total += e;
      store_part(v + c, e, n);
    }
    const double inv = 1.0 / lane_sum(total);
    for (index_t c = 0; c < k; ++c) v[c] *= inv;
    return;
  }
  VN m = VN{}, s = VN{};
  for (index_t c = 0; c < k; c += kNative) {
    const VN x = load_part(v + c, min_index(kNative, k - c), kMinusInf);
    const IN top = x == mx;
    m += top ? splat(1.0) : VN{};
    s += top ? VN{} : exp_vec<kNative>(x - mx);
  }
  double s_sum = lane_sum(s);
  const double m_sum = lane_sum(m);
  if (s_sum != 0.0) s_sum /= m_sum;
  const double lse = std::log1p(s_sum) + std::log(m_sum) + mx;
  for (index_t c = 0; c < k; ++c) v[c] -= lse;
}

void normalize(double* jll, index_t n, index_t k, Output what) {
  for (index_t i = 0; i < n; ++i) normalize_row(jll + i * k, k, what);
}

// ---- linear likelihoods ------------------------------------------------------------------

template <class T>
inline double value_of(T x, const LinearModel& m, T thr) {
  return m.binarize ? (x > thr ? 1.0 : 0.0) : static_cast<double>(x);
}

// acc[0 .. NB * W) = sum over the entries (f, x) of a row of x * coef[f * k_pad + c0 + ...]:
// NB vectors of W classes held in registers over the whole row.
template <int W, int NB, class Entries>
inline void row_sums(const LinearModel& m, index_t c0, const Entries& entries,
                     typename Vec<W>::V* a) {
  typedef typename Vec<W>::V V;
  for (int b = 0; b < NB; ++b) a[b] = V{};
  const double* base = m.coef + c0;
  entries([&](index_t f, double x) {
    const double* row = base + f * m.k_pad;
    for (int b = 0; b < NB; ++b) a[b] += x * load<V>(row + b * W);
  });
}

template <int W, int NB, class Entries>
inline void row_pass(const LinearModel& m, index_t c0, const Entries& entries, double* acc) {
  typename Vec<W>::V a[NB];
  row_sums<W, NB>(m, c0, entries, a);
  for (int b = 0; b < NB; ++b) store(acc + b * W, a[b]);
}

// A row of at most 4 vectors of classes: sums, bias and normalisation in registers. The padded
// bias is -inf past k, so that those lanes drop out of the normalisation.
template <int W, int NB, class Entries>
inline void fused_row(const LinearModel& m, const Entries& entries, double* out) {
  typedef typename Vec<W>::V V;
  V a[NB];
  row_sums<W, NB>(m, 0, entries, a);
  for (int b = 0; b < NB; ++b) a[b] += load<V>(m.bias_pad + b * W);
  normalize_vectors<W, NB>(a, m.k, m.what, out);
}

// One row: groups of up to 4 vectors of classes, each one pass over the row's entries; then the
// bias and the normalisation.
template <int W, class Entries>
inline void linear_row(const LinearModel& m, const Entries& entries, double* out) {
  switch (m.k_pad / W) {
    case 1: return fused_row<W, 1>(m, entries, out);
    case 2: return fused_row<W, 2>(m, entries, out);
    case 3: return fused_row<W, 3>(m, entries, out);
    case 4: return fused_row<W, 4>(m, entries, out);
    case 5: return fused_row<W, 5>(m, entries, out);
    case 6: return fused_row<W, 6>(m, entries, out);
    default: break;
  }
  double acc[4 * W];
  for (index_t c0 = 0; c0 < m.k_pad; c0 += 4 * W) {
    switch (min_index(4, (m.k_pad - c0) / W)) {
      case 1: row_pass<W, 1>(m, c0, entries, acc); break;
      case 2: row_pass<W, 2>(m, c0, entries, acc); break;
      case 3: row_pass<W, 3>(m, c0, entries, acc); break;
      default: row_pass<W, 4>(m, c0, entries, acc); break;
    }
    const index_t end = min_index(m.k, c0 + 4 * W);
    // The sum first, then the bias: scikit-learn's X @ coef.T + bias.
    for (index_t c = c0; c < end; ++c) out[c] = acc[c - c0] + m.bias[c];
  }
  normalize_row(out, m.k, m.what);
}

template <int W, class T>
void dense_rows(const Dense<T>& X, const LinearModel& m, index_t begin, index_t end, double* out) {
  const T thr = static_cast<T>(m.threshold);
  for (index_t i = begin; i < end; ++i) {
    const T* x = X.x + i * X.d;
    // Zeros are multiplied too: 0 * -inf (the log probability of a feature never seen, with
    // alpha = 0) is NaN in scikit-learn's dense product as well.
    linear_row<W>(m, [&](auto&& add) {
      for (index_t f = 0; f < X.d; ++f) add(f, value_of(x[f], m, thr));
    }, out + i * m.k);
  }
}

// A sparse row's coefficient rows are scattered over the model (4.8 MB for 30k features and 20
// classes, beyond L2): each is fetched kAhead entries before it is read.
constexpr index_t kAhead = 8;
inline void prefetch_row(const LinearModel& m, index_t f) {
  const char* row = reinterpret_cast<const char*>(m.coef + f * m.k_pad);
  const index_t bytes = m.k_pad * static_cast<index_t>(sizeof(double));
  for (index_t b = 0; b < bytes && b < 256; b += 64) __builtin_prefetch(row + b);
}

template <int W, class T, class I>
void csr_rows(const Csr<T, I>& X, const LinearModel& m, index_t begin, index_t end, double* out) {
  const T thr = static_cast<T>(m.threshold);
  for (index_t i = begin; i < end; ++i) {
    const index_t j0 = X.indptr[i], j1 = X.indptr[i + 1];
    linear_row<W>(m, [&](auto&& add) {
      for (index_t j = j0; j < j1; ++j) {
        if (j + kAhead < j1) prefetch_row(m, static_cast<index_t>(X.indices[j + kAhead]));
        add(static_cast<index_t>(X.indices[j]), value_of(X.data[j], m, thr));
      }
    }, out + i * m.k);
  }
}

// The vector width follows the model's padding (pad_width), at most a native register's.
template <int Wpad> constexpr int native = Wpad < kNative ? Wpad : kNative;

template <class T>
void dense_any(const Dense<T>& X, const LinearModel& m, index_t begin, index_t end, double* out) {
  switch (pad_width(m.k)) {
    case 2: dense_rows<native<2>>(X, m, begin, end, out); break;
    case 4: dense_rows<native<4>>(X, m, begin, end, out); break;
    default: dense_rows<native<8>>(X, m, begin, end, out); break;
  }
}

template <class T, class I>
void csr_any(const Csr<T, I>& X, const LinearModel& m, index_t begin, index_t end, double* out) {
  switch (pad_width(m.k)) {
    case 2: csr_rows<native<2>>(X, m, begin, end, out); break;
    case 4: csr_rows<native<4>>(X, m, begin, end, out); break;
    default: csr_rows<native<8>>(X, m, begin, end, out); break;
  }
}

template <class T>
LinearKernels<T> kernels() {
  return LinearKernels<T>{&dense_any<T>, &csr_any<T, std::int32_t>, &csr_any<T, std::int64_t>};
}

}  // namespace

NaiveBayesTable kernel_table() {
  return NaiveBayesTable{kernels<float>(), kernels<double>(), &normalize};
}

}  // namespace fastml::naive_bayes::FASTML_ISA
