// The SGD epoch of sgd.hpp. Built without floating-point contraction (see CMakeLists.txt): every
// product and sum rounds as in scikit-learn's Cython build, which has no fused multiply-adds.
#include "fastml/sgd.hpp"

#include "rows.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace fastml::sgd {
namespace {

using namespace fastml::linear_rows;

// ---- losses: scikit-learn's formulas (sklearn/linear_model/_sgd_fast.pyx.tp, sklearn/_loss) ---
double log1pexp(double x) {
  if (x <= -37) return std::exp(x);
  if (x <= -2) return std::log1p(std::exp(x));
  if (x <= 18) return std::log(1. + std::exp(x));
  if (x <= 33.3) return x + std::exp(-x);
  return x;
}

template <Loss L>
struct LossFn {
  double c;  // threshold or epsilon

  double loss(double y, double p) const {
    if constexpr (L == Loss::hinge) {
      const double z = p * y;
      return z <= c ? c - z : 0.0;
    } else if constexpr (L == Loss::squared_hinge) {
      const double z = c - p * y;
      return z > 0 ? z * z : 0.0;
    } else if constexpr (L == Loss::modified_huber) {
      const double z = p * y;
      if (z >= 1.0) return 0.0;
      if (z >= -1.0) return (1.0 - z) * (1.0 - z);
      return -4.0 * z;
    } else if constexpr (L == Loss::log_loss) {
      return log1pexp(p) - y * p;
    } else if constexpr (L == Loss::squared_error) {
      return 0.5 * (p - y) * (p - y);
    } else if constexpr (L == Loss::huber) {
      const double abserr = std::fabs(y - p);
      return abserr <= c ? 0.5 * (abserr * abserr) : c * (abserr - 0.5 * c);
    } else if constexpr (L == Loss::epsilon_insensitive) {
      const double r = std::fabs(y - p) - c;
      return r > 0 ? r : 0;
    } else {
      const double r = std::fabs(y - p) - c;
      return r > 0 ? r * r : 0;
    }
  }

  double gradient(double y, double p) const {
    if constexpr (L == Loss::hinge) {
      return p * y <= c ? -y : 0.0;
    } else if constexpr (L == Loss::squared_hinge) {
      const double z = c - p * y;
      return z > 0 ? -2 * y * z : 0.0;
    } else if constexpr (L == Loss::modified_huber) {
      const double z = p * y;
      if (z >= 1.0) return 0.0;
      if (z >= -1.0) return 2.0 * (1.0 - z) * -y;
      return -4.0 * y;
    } else if constexpr (L == Loss::log_loss) {
      if (p > -37) {
        const double e = std::exp(-p);
        return ((1 - y) - y * e) / (1 + e);
      }
      return std::exp(p) - y;
    } else if constexpr (L == Loss::squared_error) {
      return p - y;
    } else if constexpr (L == Loss::huber) {
      const double r = p - y;
      if (std::fabs(r) <= c) return r;
      return r >= 0 ? c : -c;
    } else if constexpr (L == Loss::epsilon_insensitive) {
      if (y - p > c) return -1;
      if (p - y > c) return 1;
      return 0;
    } else {
      const double z = y - p;
      if (z > c) return -2 * (z - c);
      if (z < -c) return 2 * (-z - c);
      return 0;
    }
  }
};

// ---- scikit-learn's WeightVector, over State; T-typed locals where its Cython has them --------
template <class T>
class Vector {
 public:
  Vector(const Weights<T>& w, State& s, double reset_below) : w_(w), s_(s), reset_(reset_below) {}

  template <class R>
  T dot(const R& x) const {
    double acc = 0.0;
    for (index_t j = 0; j < x.nnz; ++j) acc += w_.w[x.col[j]] * x.v[j];
    return scaled(acc);
  }
  // The dot product from its unscaled sum.
  T scaled(double sum) const { return static_cast<T>(sum * s_.wscale); }

  // add(x, c), and the unscaled sum of dot(next) over the updated weights in the same pass:
  // four independent chains instead of two passes of dependent ones, with every sum in
  // dot's and add's own order (dense rows, nothing between the two that changes w).
  double add_then_dot(const Row<T, AllColumns>& x, T c, const Row<T, AllColumns>& next) {
    double l2 = 0.0, l1 = 0.0, acc = 0.0;
    const T wscale = static_cast<T>(s_.wscale);
    const T step = c / wscale;
    T* w = w_.w;
    for (index_t j = 0; j < x.nnz; ++j) {
      const T wj = static_cast<T>(w[j] + static_cast<double>(x.v[j]) * step);
      w[j] = wj;
      l2 += wj * wj;
      l1 += std::fabs(static_cast<double>(wj));
      acc += wj * next.v[j];
    }
    s_.sq_norm = l2 * (wscale * wscale);
    s_.l1_norm = l1 * wscale;
    return acc;
  }

  template <class R>
  void add(const R& x, T c) {
    double l2 = 0.0, l1 = 0.0;
    const T wscale = static_cast<T>(s_.wscale);
    const T step = c / wscale;
    for (index_t j = 0; j < x.nnz; ++j) {
      T& wj = w_.w[x.col[j]];
      wj = static_cast<T>(wj + static_cast<double>(x.v[j]) * step);
      l2 += wj * wj;
      l1 += std::fabs(static_cast<double>(wj));
    }
    s_.sq_norm = l2 * (wscale * wscale);
    s_.l1_norm = l1 * wscale;
  }

  template <class R>
  void add_average(const R& x, T c, T num_iter) {
    const double mu = 1.0 / num_iter;
    const double wscale = s_.wscale;
    for (index_t j = 0; j < x.nnz; ++j) {
      T& a = w_.aw[x.col[j]];
      a = static_cast<T>(a + s_.average_a * static_cast<double>(x.v[j]) * (-c / wscale));
    }
    if (num_iter > 1) s_.average_b /= (1.0 - mu);
    s_.average_a += mu * s_.average_b * wscale;
  }

  void scale(T c) {
    s_.wscale *= c;
    s_.sq_norm *= static_cast<T>(c * c);
    s_.l1_norm *= std::fabs(static_cast<double>(c));
    if (s_.wscale < reset_) reset_scale(w_, s_);
  }

  // Truncated gradient on the features of x (sklearn's l1penalty).
  template <class R>
  void l1_penalty(const R& x) {
    const double wscale = s_.wscale, u = s_.u;
    for (index_t j = 0; j < x.nnz; ++j) {
      const index_t k = x.col[j];
      const double z = w_.w[k];
      if (wscale * z > 0.0)
        w_.w[k] = static_cast<T>(std::max(0.0, w_.w[k] - ((u + w_.q[k]) / wscale)));
      else if (wscale * z < 0.0)
        w_.w[k] = static_cast<T>(std::min(0.0, w_.w[k] + ((u - w_.q[k]) / wscale)));
      w_.q[k] = static_cast<T>(w_.q[k] + wscale * (w_.w[k] - z));
    }
  }

  T norm() const { return static_cast<T>(std::sqrt(s_.sq_norm)); }
  T l1norm() const { return static_cast<T>(s_.l1_norm); }

 private:
  const Weights<T>& w_;
  State& s_;
  double reset_;
};

// scikit-learn resets wscale below 1e-9 (float64) and 1e-6 (float32).
template <class T>
constexpr double kResetBelow = sizeof(T) == 4 ? 1e-6 : 1e-9;

// our_rand_r of sklearn/utils/_random.pxd: xorshift, never seeded with 0.
std::uint32_t rand_r(std::uint32_t& seed) {
  if (seed == 0) seed = 1;
  seed ^= static_cast<std::uint32_t>(seed << 13);
  seed ^= static_cast<std::uint32_t>(seed >> 17);
  seed ^= static_cast<std::uint32_t>(seed << 5);
  return seed % (static_cast<std::uint32_t>(2147483647) + 1);
}

// SequentialDataset.shuffle: the seed is taken by value, so each epoch applies the same swaps
// to the order left by the last one.
void shuffle(std::int32_t* index, index_t n, std::uint32_t seed) {
  for (index_t i = 0; i + 1 < n; ++i) {
    const index_t j = i + rand_r(seed) % static_cast<std::uint32_t>(n - i);
    std::swap(index[i], index[j]);
  }
}

template <Loss L, class T, class X>
EpochSums run_epoch(const X& x, const T* y, const T* sw, const std::uint8_t* validation,
                    std::int32_t* index, const Weights<T>& weights, State& s,
                    const Options& opt) {
  constexpr double kMaxDloss = 1e12;
  const LossFn<L> loss{opt.loss_parameter};
  Vector<T> w(weights, s, kResetBelow<T>);
  EpochSums sums;
  const bool l1 = opt.penalty == kL1 || opt.penalty == kElasticNet;
  const bool passive_aggressive = opt.schedule >= kPA1;
  if (opt.shuffle) shuffle(index, x.n, opt.seed);
  bool have_next = false;  // next_sum holds the next row's unscaled dot product
  double next_sum = 0.0;
  constexpr index_t kAhead = 2;  // rows prefetched ahead (measured: 1 to 4 are alike)
  for (index_t r = 0; r < std::min(kAhead, x.n); ++r) prefetch_row(x, index[r]);
  for (index_t r = 0; r < x.n; ++r) {
    const index_t i = index[r];
    if (r + kAhead < x.n) prefetch_row(x, index[r + kAhead]);
    if (validation[i]) continue;
    const auto xi = row(x, i);
    const T yi = y[i];
    const double p = (have_next ? w.scaled(next_sum) : w.dot(xi)) + s.intercept;
    have_next = false;
    if (opt.schedule == kOptimal)
      s.eta = 1.0 / (opt.alpha * (opt.optimal_init + s.t - 1));
    else if (opt.schedule == kInvScaling)
      s.eta = opt.eta0 / std::pow(s.t, opt.power_t);
    if (opt.track_objective) {
      const double value = loss.loss(yi, p);
      sums.loss += value;
      sums.objective += value;
      if (!passive_aggressive && opt.penalty > 0) {
        const double norm = w.norm();
        sums.objective += opt.alpha * ((1 - opt.l1_ratio) * 0.5 * (norm * norm) +
                                       opt.l1_ratio * w.l1norm());
      }
    }
    const T class_weight = static_cast<T>(yi > 0.0 ? opt.weight_pos : opt.weight_neg);
    double update;
    if (passive_aggressive) {
      double sq = 0.0;
      for (index_t j = 0; j < xi.nnz; ++j) sq += static_cast<double>(xi.v[j]) * xi.v[j];
      if (opt.schedule == kPA1) {
        if (sq == 0) continue;  // as scikit-learn: the step counter does not advance either
        update = std::min(opt.eta0, loss.loss(yi, p) / sq);
      } else {
        update = loss.loss(yi, p) / (sq + 0.5 / opt.eta0);
      }
      // the step's sign: the label's for the hinge family, the residual's for regression
      if constexpr (L == Loss::hinge)
        update *= yi;
      else if (yi - p < 0)
        update *= -1;
    } else {
      update = -s.eta * std::clamp(loss.gradient(yi, p), -kMaxDloss, kMaxDloss);
    }
    update *= static_cast<T>(class_weight * sw[i]);
    if (opt.penalty >= kL2)
      w.scale(static_cast<T>(std::max(0.0, 1.0 - ((1.0 - opt.l1_ratio) * s.eta * opt.alpha))));
    if (update != 0.0) {
      // Dense rows fuse the update with the next row's dot product, unless an L1 truncation
      // changes w between the two.
      index_t next = r + 1;
      if constexpr (std::is_same_v<X, Dense<T>>)
        while (next < x.n && validation[index[next]]) ++next;
      if (std::is_same_v<X, Dense<T>> && !l1 && next < x.n) {
        if constexpr (std::is_same_v<X, Dense<T>>) {
          next_sum = w.add_then_dot(xi, static_cast<T>(update), row(x, index[next]));
          have_next = true;
        }
      } else {
        w.add(xi, static_cast<T>(update));
      }
    }
    if (opt.fit_intercept && update != 0) s.intercept += update * opt.intercept_decay;
    if (0 < opt.average && opt.average <= s.t) {
      const double num_iter = s.t - opt.average + 1;
      w.add_average(xi, static_cast<T>(update), static_cast<T>(num_iter));
      s.average_intercept += (s.intercept - s.average_intercept) / num_iter;
    }
    if (l1) {
      s.u += opt.l1_ratio * s.eta * opt.alpha;
      w.l1_penalty(xi);
    }
    s.t += 1;
  }
  bool finite = std::isfinite(s.intercept);
  for (index_t j = 0; j < weights.d; ++j) finite &= std::isfinite(weights.w[j]);
  sums.nonfinite = !finite;
  return sums;
}

}  // namespace

double loss_gradient(Loss loss, double c, double y, double p) {
  switch (loss) {
    case Loss::hinge: return LossFn<Loss::hinge>{c}.gradient(y, p);
    case Loss::squared_hinge: return LossFn<Loss::squared_hinge>{c}.gradient(y, p);
    case Loss::modified_huber: return LossFn<Loss::modified_huber>{c}.gradient(y, p);
    case Loss::log_loss: return LossFn<Loss::log_loss>{c}.gradient(y, p);
    case Loss::squared_error: return LossFn<Loss::squared_error>{c}.gradient(y, p);
    case Loss::huber: return LossFn<Loss::huber>{c}.gradient(y, p);
    case Loss::epsilon_insensitive: return LossFn<Loss::epsilon_insensitive>{c}.gradient(y, p);
    case Loss::squared_epsilon_insensitive:
      return LossFn<Loss::squared_epsilon_insensitive>{c}.gradient(y, p);
  }
  throw std::invalid_argument("unknown loss");
}

template <class T, class X>
EpochSums epoch(const X& x, const T* y, const T* sw, const std::uint8_t* validation,
                std::int32_t* index, const Weights<T>& w, State& s, const Options& opt) {
  switch (opt.loss) {
    case Loss::hinge: return run_epoch<Loss::hinge>(x, y, sw, validation, index, w, s, opt);
    case Loss::squared_hinge:
      return run_epoch<Loss::squared_hinge>(x, y, sw, validation, index, w, s, opt);
    case Loss::modified_huber:
      return run_epoch<Loss::modified_huber>(x, y, sw, validation, index, w, s, opt);
    case Loss::log_loss: return run_epoch<Loss::log_loss>(x, y, sw, validation, index, w, s, opt);
    case Loss::squared_error:
      return run_epoch<Loss::squared_error>(x, y, sw, validation, index, w, s, opt);
    case Loss::huber: return run_epoch<Loss::huber>(x, y, sw, validation, index, w, s, opt);
    case Loss::epsilon_insensitive:
      return run_epoch<Loss::epsilon_insensitive>(x, y, sw, validation, index, w, s, opt);
    case Loss::squared_epsilon_insensitive:
      return run_epoch<Loss::squared_epsilon_insensitive>(x, y, sw, validation, index, w, s, opt);
  }
  throw std::invalid_argument("unknown loss");
}

template <class T>
void reset_scale(const Weights<T>& w, State& s) {
  if (w.aw) {
    const T a = static_cast<T>(s.average_a), inv_b = static_cast<T>(1.0 / s.average_b);
    for (index_t j = 0; j < w.d; ++j) w.aw[j] = w.aw[j] + a * w.w[j];
    for (index_t j = 0; j < w.d; ++j) w.aw[j] = w.aw[j] * inv_b;
    s.average_a = 0.0;
    s.average_b = 1.0;
  }
  const T scale = static_cast<T>(s.wscale);
  for (index_t j = 0; j < w.d; ++j) w.w[j] = w.w[j] * scale;
  s.wscale = 1.0;
}

template <class T>
void init_norms(const Weights<T>& w, State& s) {
  double l2 = 0.0, l1 = 0.0;
  for (index_t j = 0; j < w.d; ++j) {
    l2 += static_cast<double>(w.w[j]) * w.w[j];
    l1 += std::fabs(static_cast<double>(w.w[j]));
  }
  s.sq_norm = l2;
  s.l1_norm = l1;
}

#define FASTML_SGD_INSTANTIATE(T)                                                               \
  template EpochSums epoch(const Dense<T>&, const T*, const T*, const std::uint8_t*,            \
                           std::int32_t*, const Weights<T>&, State&, const Options&);          \
  template EpochSums epoch(const Csr<T, std::int32_t>&, const T*, const T*,                     \
                           const std::uint8_t*, std::int32_t*, const Weights<T>&, State&,      \
                           const Options&);                                                     \
  template EpochSums epoch(const Csr<T, std::int64_t>&, const T*, const T*,                     \
                           const std::uint8_t*, std::int32_t*, const Weights<T>&, State&,      \
                           const Options&);                                                     \
  template void reset_scale(const Weights<T>&, State&);                                         \
  template void init_norms(const Weights<T>&, State&);
FASTML_SGD_INSTANTIATE(float)
FASTML_SGD_INSTANTIATE(double)
#undef FASTML_SGD_INSTANTIATE

}  // namespace fastml::sgd
