// The dual coordinate descent of dual_cd.hpp. Sums run feature after feature with no fused
// multiply-adds (see CMakeLists.txt), as liblinear's, so the iterates are its own.
#include "fastml/dual_cd.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "rows.hpp"

namespace fastml::dual_cd {
namespace {

using namespace fastml::linear_rows;
constexpr double kInf = std::numeric_limits<double>::infinity();

// x_i'w, then the bias column's term, in liblinear's order (the bias node comes last).
template <class R>
double dot(const R& xi, const double* w, index_t d, double bias) {
  double s = 0;
  for (index_t j = 0; j < xi.nnz; ++j) s += w[xi.col[j]] * xi.v[j];
  if (bias >= 0) s += w[d] * bias;
  return s;
}

template <class R>
void axpy(const R& xi, double a, double* w, index_t d, double bias) {
  for (index_t j = 0; j < xi.nnz; ++j) w[xi.col[j]] += a * xi.v[j];
  if (bias >= 0) w[d] += a * bias;
}

template <class R>
double squared_norm(const R& xi, double start, double bias) {
  double s = start;
  for (index_t j = 0; j < xi.nnz; ++j) s += xi.v[j] * xi.v[j];
  if (bias >= 0) s += bias * bias;
  return s;
}

// liblinear draws a fresh permutation of the active coordinates before each pass.
void permute(std::vector<int>& index, int active, Rng& rng) {
  for (int i = 0; i < active; ++i)
    std::swap(index[i], index[i + rng.below(static_cast<std::uint32_t>(active - i))]);
}

}  // namespace

std::uint32_t Rng::below(std::uint32_t range) {
  std::uint32_t x = mt();
  std::uint64_t m = std::uint64_t(x) * std::uint64_t(range);
  std::uint32_t low = static_cast<std::uint32_t>(m);
  if (low < range) {  // reject the draws that would bias the low values
    std::uint32_t threshold = -range;
    if (threshold >= range) {
      threshold -= range;
      if (threshold >= range) threshold %= range;
    }
    while (low < threshold) {
      x = mt();
      m = std::uint64_t(x) * std::uint64_t(range);
      low = static_cast<std::uint32_t>(m);
    }
  }
  return static_cast<std::uint32_t>(m >> 32);
}

template <class X>
std::int64_t svc(const X& x, const std::int32_t* rows, const std::int8_t* sign, index_t l,
                 const Problem& pb, Rng& rng, double* w) {
  const index_t d = x.d, w_size = d + (pb.bias >= 0 ? 1 : 0);
  std::vector<double> diag(l), upper(l), qd(l), alpha(l, 0.0);
  std::vector<int> index(l);
  for (index_t k = 0; k < l; ++k) {
    diag[k] = pb.squared ? 0.5 / pb.C[k] : 0.0;
    upper[k] = pb.squared ? kInf : pb.C[k];
    qd[k] = squared_norm(row(x, rows[k]), diag[k], pb.bias);
    index[k] = static_cast<int>(k);
  }
  std::fill(w, w + w_size, 0.0);
  int active = static_cast<int>(l);
  double pg_max_old = kInf, pg_min_old = -kInf;
  std::int64_t iter = 0;
  while (iter < pb.max_iter) {
    double pg_max = -kInf, pg_min = kInf;
    permute(index, active, rng);
    for (int s = 0; s < active; ++s) {
      const int k = index[s];
      const auto xi = row(x, rows[k]);
      const double yk = sign[k];
      double g = dot(xi, w, d, pb.bias) * yk - 1;
      const double c = upper[k];
      g += alpha[k] * diag[k];
      double pg = 0;
      // shrinking: a coordinate at a bound whose gradient points outwards beyond last pass's
      // extreme projected gradients leaves the active set until the final check
      if (alpha[k] == 0) {
        if (g > pg_max_old) {
          std::swap(index[s], index[--active]);
          --s;
          continue;
        }
        if (g < 0) pg = g;
      } else if (alpha[k] == c) {
        if (g < pg_min_old) {
          std::swap(index[s], index[--active]);
          --s;
          continue;
        }
        if (g > 0) pg = g;
      } else {
        pg = g;
      }
      pg_max = std::max(pg_max, pg);
      pg_min = std::min(pg_min, pg);
      if (std::fabs(pg) > 1.0e-12) {
        const double old = alpha[k];
        alpha[k] = std::min(std::max(alpha[k] - g / qd[k], 0.0), c);
        axpy(xi, (alpha[k] - old) * yk, w, d, pb.bias);
      }
    }
    ++iter;
    if (pg_max - pg_min <= pb.eps) {
      if (active == l) break;
      active = static_cast<int>(l);  // converged on the shrunk set: check them all again
      pg_max_old = kInf;
      pg_min_old = -kInf;
      continue;
    }
    pg_max_old = pg_max <= 0 ? kInf : pg_max;
    pg_min_old = pg_min >= 0 ? -kInf : pg_min;
  }
  return iter;
}

template <class X>
std::int64_t svr(const X& x, const double* y, double p, index_t l, const std::int32_t* rows,
                 const Problem& pb, Rng& rng, double* w) {
  const index_t d = x.d, w_size = d + (pb.bias >= 0 ? 1 : 0);
  std::vector<double> lambda(l), upper(l), qd(l), beta(l, 0.0);
  std::vector<int> index(l);
  for (index_t k = 0; k < l; ++k) {
    lambda[k] = pb.squared ? 0.5 / pb.C[k] : 0.0;
    upper[k] = pb.squared ? kInf : pb.C[k];
    qd[k] = squared_norm(row(x, rows[k]), 0.0, pb.bias);
    index[k] = static_cast<int>(k);
  }
  std::fill(w, w + w_size, 0.0);
  int active = static_cast<int>(l);
  double g_max_old = kInf, g_norm1_init = -1.0;
  std::int64_t iter = 0;
  while (iter < pb.max_iter) {
    double g_max = 0, g_norm1 = 0;
    permute(index, active, rng);
    for (int s = 0; s < active; ++s) {
      const int k = index[s];
      const auto xi = row(x, rows[k]);
      double g = -y[rows[k]] + lambda[k] * beta[k];
      const double h = qd[k] + lambda[k];
      // liblinear sums val * w here (the classifier sums w * val): the same products
      for (index_t j = 0; j < xi.nnz; ++j) g += xi.v[j] * w[xi.col[j]];
      if (pb.bias >= 0) g += pb.bias * w[d];
      const double gp = g + p, gn = g - p;
      double violation = 0;
      bool shrink = false;
      if (beta[k] == 0) {
        if (gp < 0) violation = -gp;
        else if (gn > 0) violation = gn;
        else shrink = gp > g_max_old && gn < -g_max_old;
      } else if (beta[k] >= upper[k]) {
        if (gp > 0) violation = gp;
        else shrink = gp < -g_max_old;
      } else if (beta[k] <= -upper[k]) {
        if (gn < 0) violation = -gn;
        else shrink = gn > g_max_old;
      } else {
        violation = beta[k] > 0 ? std::fabs(gp) : std::fabs(gn);
      }
      if (shrink) {
        std::swap(index[s], index[--active]);
        --s;
        continue;
      }
      g_max = std::max(g_max, violation);
      g_norm1 += violation;
      double step;
      if (gp < h * beta[k]) step = -gp / h;
      else if (gn > h * beta[k]) step = -gn / h;
      else step = -beta[k];
      if (std::fabs(step) < 1.0e-12) continue;
      const double old = beta[k];
      beta[k] = std::min(std::max(beta[k] + step, -upper[k]), upper[k]);
      step = beta[k] - old;
      if (step != 0) axpy(xi, step, w, d, pb.bias);
    }
    if (iter == 0) g_norm1_init = g_norm1;
    ++iter;
    if (g_norm1 <= pb.eps * g_norm1_init) {
      if (active == l) break;
      active = static_cast<int>(l);
      g_max_old = kInf;
      continue;
    }
    g_max_old = g_max;
  }
  return iter;
}

#define FASTML_DUAL_CD_INSTANTIATE(...)                                                        \
  template std::int64_t svc(const __VA_ARGS__&, const std::int32_t*, const std::int8_t*,      \
                            index_t, const Problem&, Rng&, double*);                          \
  template std::int64_t svr(const __VA_ARGS__&, const double*, double, index_t,               \
                            const std::int32_t*,                                              \
                            const Problem&, Rng&, double*);
FASTML_DUAL_CD_INSTANTIATE(Dense<double>)
FASTML_DUAL_CD_INSTANTIATE(Csr<double, std::int32_t>)
#undef FASTML_DUAL_CD_INSTANTIATE

}  // namespace fastml::dual_cd
