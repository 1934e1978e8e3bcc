// Logistic loss kernels, compiled once per instruction set (CMake defines FASTML_ISA and the
// -march). As in the other *_kernels_isa.cpp files, everything but kernel_table() has internal
// linkage and the standard library's inline templates are avoided, so that no function built for
// a wider instruction set can be linked into another build. Chunking, threads and merges live in
// logistic.cpp.
//
// Dense rows are taken four at a time: each vector of a class's coefficients (or gradient) is
// loaded once for the four rows' products, which halves the loads per multiply-add of a
// one-row loop. A row group depends on the chunk's bounds only, never on the thread count.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>

#include "fastml/logistic.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::logistic::FASTML_ISA {
namespace {

// Doubles per native vector register (wider generic vectors would be split into stack traffic).
#if defined(__AVX512F__)
constexpr int kNative = 8;
#elif defined(__AVX__)
constexpr int kNative = 4;
#else
constexpr int kNative = 2;
#endif
typedef double VN __attribute__((vector_size(kNative * 8)));
typedef float VF __attribute__((vector_size(kNative * 4)));

constexpr int kGroup = 4;  // dense rows per group

inline VN splat(double x) { return VN{} + x; }
inline VN load(const double* p) {
  VN v;
  std::memcpy(&v, p, sizeof(VN));
  return v;
}
inline VN load(const float* p) {
  VF v;
  std::memcpy(&v, p, sizeof(VF));
  return __builtin_convertvector(v, VN);
}
inline void store(double* p, VN v) { std::memcpy(p, &v, sizeof(VN)); }
inline double hsum(VN v) {
  double s = 0.0;
  for (int l = 0; l < kNative; ++l) s += v[l];
  return s;
}

// A scratch array of doubles for one call (operator new[] is no inline template).
struct Scratch {
  double* p;
  explicit Scratch(index_t size) : p(new double[size > 0 ? size : 1]()) {}
  ~Scratch() { delete[] p; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

inline double weight_of(const Model& m, index_t i) { return m.sw ? m.sw[i] : 1.0; }

// ---- pointwise loss, gradient and Hessian --------------------------------------------------

// Binomial: returns sw l(y, z); *g = sw (sigmoid(z) - y); *h = sw sigmoid'(z) when h is given.
// e = exp(-|z|) serves every term without overflow; the Hessian e / (1 + e)^2 underflows to 0
// only for |z| > ~745, as scikit-learn's does.
inline double binomial(double z, double y, double sw, double* g, double* h) {
  const double e = std::exp(-std::fabs(z));
  const double p = z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  *g = sw * (p - y);
  if (h) *h = sw * (e / ((1.0 + e) * (1.0 + e)));
  return sw * ((z > 0.0 ? z : 0.0) + std::log1p(e) - y * z);
}

// Multinomial over k classes: returns sw l(y, z); g[c] = sw (p_c - [c == y]) and, when given,
// p[c] = softmax(z)_c. The largest z is subtracted before exponentiating.
inline double multinomial(const double* z, index_t k, double y, double sw, double* g, double* p) {
  double top = z[0];
  for (index_t c = 1; c < k; ++c) top = z[c] > top ? z[c] : top;
  double total = 0.0;
  for (index_t c = 0; c < k; ++c) {
    g[c] = std::exp(z[c] - top);
    total += g[c];
  }
  const index_t label = static_cast<index_t>(y);
  const double inv = 1.0 / total;
  for (index_t c = 0; c < k; ++c) {
    const double pc = g[c] * inv;
    if (p) p[c] = pc;
    g[c] = sw * (pc - (c == label ? 1.0 : 0.0));
  }
  return sw * (top + std::log(total) - z[label]);
}

// Loss and gradient of row i from its raw prediction z (k values), into g (k); p and h as above.
inline double pointwise(const Model& m, index_t i, const double* z, double* g, double* p,
                        double* h) {
  const double sw = weight_of(m, i);
  if (m.k == 1) return binomial(z[0], m.y[i], sw, g, h);
  return multinomial(z, m.k, m.y[i], sw, g, p);
}

// ---- dense row groups ----------------------------------------------------------------------

// out[r] = x_r . w for the R rows of a group.
template <int R, class T>
inline void group_dots(const T* const* x, const double* w, index_t d, double* out) {
  VN acc[R];
  for (int r = 0; r < R; ++r) acc[r] = VN{};
  index_t j = 0;
  for (; j + kNative <= d; j += kNative) {
    const VN wv = load(w + j);
    for (int r = 0; r < R; ++r) acc[r] += load(x[r] + j) * wv;
  }
  for (int r = 0; r < R; ++r) {
    double s = hsum(acc[r]);
    for (index_t t = j; t < d; ++t) s += static_cast<double>(x[r][t]) * w[t];
    out[r] = s;
  }
}

// grad += sum_r g[r] x_r.
template <int R, class T>
inline void group_axpy(const T* const* x, const double* g, double* grad, index_t d) {
  VN gv[R];
  for (int r = 0; r < R; ++r) gv[r] = splat(g[r]);
  index_t j = 0;
  for (; j + kNative <= d; j += kNative) {
    VN a = load(grad + j);
    for (int r = 0; r < R; ++r) a += gv[r] * load(x[r] + j);
    store(grad + j, a);
  }
  for (; j < d; ++j) {
    double a = grad[j];
    for (int r = 0; r < R; ++r) a += g[r] * static_cast<double>(x[r][j]);
    grad[j] = a;
  }
}

// Raw predictions of the R rows from row i: z[r * k + c].
template <int R, class T>
inline void group_raw(const Dense<T>& X, const Model& m, index_t i, const T* const* x, double* z) {
  const index_t k = m.k, d = X.d;
  if (m.raw) {
    std::memcpy(z, m.raw + i * k, sizeof(double) * R * k);
    return;
  }
  double dots[R];
  for (index_t c = 0; c < k; ++c) {
    group_dots<R>(x, m.w + c * d, d, dots);
    for (int r = 0; r < R; ++r) z[r * k + c] = dots[r] + m.b[c];
  }
}

// Loss and gradient of the R rows from row i; z and g hold R * k doubles.
template <int R, class T>
inline double group_loss_gradient(const Dense<T>& X, const Model& m, index_t i, double* z,
                                  double* g, double* grad_w, double* grad_b, double* p,
                                  double* h) {
  const index_t k = m.k, d = X.d;
  const T* x[R];
  for (int r = 0; r < R; ++r) x[r] = X.x + (i + r) * d;
  group_raw<R>(X, m, i, x, z);
  double loss = 0.0;
  for (int r = 0; r < R; ++r)
    loss += pointwise(m, i + r, z + r * k, g + r * k, p ? p + r * k : nullptr, h ? h + r : nullptr);
  double gc[R];
  for (index_t c = 0; c < k; ++c) {
    double sum = 0.0;
    for (int r = 0; r < R; ++r) {
      gc[r] = g[r * k + c];
      sum += gc[r];
    }
    group_axpy<R>(x, gc, grad_w + c * d, d);
    grad_b[c] += sum;
  }
  return loss;
}

template <class T>
void dense_loss_gradient(const Dense<T>& X, const Model& m, index_t begin, index_t end,
                         double* loss, double* grad_w, double* grad_b) {
  const index_t k = m.k;
  Scratch z(kGroup * k), g(kGroup * k);
  double sum = 0.0;
  index_t i = begin;
  for (; i + kGroup <= end; i += kGroup)
    sum += group_loss_gradient<kGroup>(X, m, i, z.p, g.p, grad_w, grad_b, nullptr, nullptr);
  for (; i < end; ++i)
    sum += group_loss_gradient<1>(X, m, i, z.p, g.p, grad_w, grad_b, nullptr, nullptr);
  *loss += sum;
}

template <class T>
void dense_raw(const Dense<T>& X, const Model& m, index_t begin, index_t end, double* out) {
  const Model model{m.y, m.sw, m.w, m.b, nullptr, m.k};
  index_t i = begin;
  for (; i + kGroup <= end; i += kGroup) {
    const T* x[kGroup];
    for (int r = 0; r < kGroup; ++r) x[r] = X.x + (i + r) * X.d;
    group_raw<kGroup>(X, model, i, x, out + i * m.k);
  }
  for (; i < end; ++i) {
    const T* x[1] = {X.x + i * X.d};
    group_raw<1>(X, model, i, x, out + i * m.k);
  }
}

// ---- Hessian -------------------------------------------------------------------------------

// The pointwise Hessian of row r between classes c and l (sw already in): binomial h[r];
// multinomial sw (p_c [c == l] - p_c p_l).
inline double pair_weight(const Model& m, index_t i, const double* p, const double* h, index_t c,
                          index_t l) {
  if (m.k == 1) return *h;
  const double pc = p[c];
  return weight_of(m, i) * ((c == l ? pc : 0.0) - pc * p[l]);
}

// Adds the rows' Hessian terms: for each class pair c <= l, block (c, l) of dd x dd entries,
// upper triangle (a <= b), from the rows as dd doubles each (x then 1 for the intercept).
inline void add_dense_hessian(const Model& m, index_t i, int rows, const double* const* xr,
                              const double* p, const double* h, index_t dd, double* hess) {
  const index_t k = m.k;
  for (index_t c = 0; c < k; ++c)
    for (index_t l = c; l < k; ++l) {
      double s[kGroup];
      for (int r = 0; r < kGroup; ++r)
        s[r] = r < rows ? pair_weight(m, i + r, p + r * k, h + r, c, l) : 0.0;
      double* block = hess + (c * k + l) * dd * dd;
      for (index_t a = 0; a < dd; ++a) {
        const double s0 = s[0] * xr[0][a], s1 = s[1] * xr[1][a], s2 = s[2] * xr[2][a],
                     s3 = s[3] * xr[3][a];
        double* __restrict__ out = block + a * dd;
        const double* __restrict__ x0 = xr[0];
        const double* __restrict__ x1 = xr[1];
        const double* __restrict__ x2 = xr[2];
        const double* __restrict__ x3 = xr[3];
        for (index_t b = a; b < dd; ++b)
          out[b] += s0 * x0[b] + s1 * x1[b] + s2 * x2[b] + s3 * x3[b];
      }
    }
}

template <class T>
void dense_hessian(const Dense<T>& X, const Model& m, bool fit_intercept, index_t begin,
                   index_t end, double* loss, double* grad_w, double* grad_b, double* hess,
                   double* nonpositive) {
  static_assert(kGroup == 4, "add_dense_hessian unrolls four rows");
  const index_t k = m.k, d = X.d, dd = d + (fit_intercept ? 1 : 0);
  Scratch z(kGroup * k), g(kGroup * k), p(kGroup * k), h(kGroup), rows(kGroup * dd);
  const double* xr[kGroup];
  for (int r = 0; r < kGroup; ++r) xr[r] = rows.p + r * dd;
  double sum = 0.0, bad = 0.0;
  for (index_t i = begin; i < end; i += kGroup) {
    const int n_rows = end - i < kGroup ? static_cast<int>(end - i) : kGroup;
    if (n_rows == kGroup)
      sum += group_loss_gradient<kGroup>(X, m, i, z.p, g.p, grad_w, grad_b, p.p, h.p);
    else
      for (int r = 0; r < n_rows; ++r)
        sum += group_loss_gradient<1>(X, m, i + r, z.p + r * k, g.p + r * k, grad_w, grad_b,
                                      p.p + r * k, h.p + r);
    for (int r = 0; r < n_rows; ++r) {
      double* row = rows.p + r * dd;
      const T* x = X.x + (i + r) * d;
      for (index_t j = 0; j < d; ++j) row[j] = static_cast<double>(x[j]);
      if (fit_intercept) row[d] = 1.0;
      if (k == 1 && h.p[r] <= 0.0) bad += weight_of(m, i + r);
    }
    for (int r = n_rows; r < kGroup; ++r) std::memset(rows.p + r * dd, 0, sizeof(double) * dd);
    add_dense_hessian(m, i, n_rows, xr, p.p, h.p, dd, hess);
  }
  *loss += sum;
  *nonpositive += bad;
}

// ---- CSR rows ------------------------------------------------------------------------------

template <class T, class I>
inline void csr_row_raw(const Csr<T, I>& X, const Model& m, index_t i, double* z) {
  const index_t k = m.k, d = X.d;
  if (m.raw) {
    for (index_t c = 0; c < k; ++c) z[c] = m.raw[i * k + c];
    return;
  }
  for (index_t c = 0; c < k; ++c) {
    const double* w = m.w + c * d;
    double s = 0.0;
    for (index_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q)
      s += static_cast<double>(X.data[q]) * w[X.indices[q]];
    z[c] = s + m.b[c];
  }
}

template <class T, class I>
inline double csr_row_loss_gradient(const Csr<T, I>& X, const Model& m, index_t i, double* z,
                                    double* g, double* grad_w, double* grad_b, double* p,
                                    double* h) {
  const index_t k = m.k, d = X.d;
  csr_row_raw(X, m, i, z);
  const double loss = pointwise(m, i, z, g, p, h);
  for (index_t c = 0; c < k; ++c) {
    double* gw = grad_w + c * d;
    const double gc = g[c];
    for (index_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q)
      gw[X.indices[q]] += gc * static_cast<double>(X.data[q]);
    grad_b[c] += gc;
  }
  return loss;
}

template <class T, class I>
void csr_loss_gradient(const Csr<T, I>& X, const Model& m, index_t begin, index_t end,
                       double* loss, double* grad_w, double* grad_b) {
  Scratch z(m.k), g(m.k);
  double sum = 0.0;
  for (index_t i = begin; i < end; ++i)
    sum += csr_row_loss_gradient(X, m, i, z.p, g.p, grad_w, grad_b, nullptr, nullptr);
  *loss += sum;
}

template <class T, class I>
void csr_raw(const Csr<T, I>& X, const Model& m, index_t begin, index_t end, double* out) {
  const Model model{m.y, m.sw, m.w, m.b, nullptr, m.k};
  for (index_t i = begin; i < end; ++i) csr_row_raw(X, model, i, out + i * m.k);
}

// Pairs (a, b) of a row's stored values with column a <= b, over all ordered pairs: a column
// stored twice (a non-canonical matrix) then counts both cross products, as X^T X does.
template <class T, class I>
void csr_hessian(const Csr<T, I>& X, const Model& m, bool fit_intercept, index_t begin,
                 index_t end, double* loss, double* grad_w, double* grad_b, double* hess,
                 double* nonpositive) {
  const index_t k = m.k, d = X.d, dd = d + (fit_intercept ? 1 : 0);
  Scratch z(k), g(k), p(k), h(1);
  double sum = 0.0, bad = 0.0;
  for (index_t i = begin; i < end; ++i) {
    sum += csr_row_loss_gradient(X, m, i, z.p, g.p, grad_w, grad_b, p.p, h.p);
    if (k == 1 && h.p[0] <= 0.0) bad += weight_of(m, i);
    const index_t q0 = X.indptr[i], q1 = X.indptr[i + 1];
    for (index_t c = 0; c < k; ++c)
      for (index_t l = c; l < k; ++l) {
        const double s = pair_weight(m, i, p.p, h.p, c, l);
        double* block = hess + (c * k + l) * dd * dd;
        for (index_t q = q0; q < q1; ++q) {
          const index_t a = X.indices[q];
          const double sa = s * static_cast<double>(X.data[q]);
          double* out = block + a * dd;
          for (index_t t = q0; t < q1; ++t) {
            const index_t b = X.indices[t];
            if (a <= b) out[b] += sa * static_cast<double>(X.data[t]);
          }
          if (fit_intercept) out[d] += sa;
        }
        if (fit_intercept) block[d * dd + d] += s;
      }
  }
  *loss += sum;
  *nonpositive += bad;
}

template <class T>
TypeKernels<T> type_kernels() {
  TypeKernels<T> t;
  t.dense = Kernels<Dense<T>>{&dense_loss_gradient<T>, &dense_hessian<T>, &dense_raw<T>};
  t.csr32 = Kernels<Csr<T, std::int32_t>>{&csr_loss_gradient<T, std::int32_t>,
                                          &csr_hessian<T, std::int32_t>,
                                          &csr_raw<T, std::int32_t>};
  t.csr64 = Kernels<Csr<T, std::int64_t>>{&csr_loss_gradient<T, std::int64_t>,
                                          &csr_hessian<T, std::int64_t>,
                                          &csr_raw<T, std::int64_t>};
  return t;
}

}  // namespace

LogisticTable kernel_table() { return LogisticTable{type_kernels<float>(), type_kernels<double>()}; }

}  // namespace fastml::logistic::FASTML_ISA
