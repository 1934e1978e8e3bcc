// A row's gradient and hessian for the one-output losses, scikit-learn's formulas
// (sklearn/_loss/_loss.pyx.tp) term for term, so that the float32 values they round to are
// scikit-learn's. Shared by the gradients pass (losses.cpp) and the pass that adds a tree's leaf
// values and then takes the next iteration's gradients (grower.cpp's add_leaf_values).
#pragma once
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "fastml/boost.hpp"

namespace fastml::boost::detail {

struct LossPoint {
  double g, h;
};

// (gradient, hessian) of raw for target y.
template <Loss L>
inline LossPoint loss_point(double y, double raw, double quantile) {
  if constexpr (L == kSquaredError) {
    return {raw - y, 1.0};
  } else if constexpr (L == kAbsoluteError) {
    return {raw > y ? 1.0 : -1.0, 1.0};
  } else if constexpr (L == kQuantile) {
    return {y >= raw ? -quantile : 1.0 - quantile, 1.0};
  } else if constexpr (L == kPoisson) {
    const double e = std::exp(raw);
    return {e - y, e};
  } else if constexpr (L == kGamma) {
    const double e = std::exp(-raw);
    return {1.0 - y * e, e * y};
  } else {  // kBinomial; below -37 exp(raw) is the first-order expansion (as scikit-learn)
    static_assert(L == kBinomial, "one-output losses only");
    if (raw > -37) {
      const double e = std::exp(-raw);
      return {((1 - y) - y * e) / (1 + e), e / ((1 + e) * (1 + e))};
    }
    const double e = std::exp(raw);
    return {e - y, e};
  }
}

// Row i's float32 gradient and hessian at raw value r, times sw[i] unless sw is nullptr.
template <Loss L>
inline GradHess row_gradient(const double* y, double r, const double* sw, index_t i,
                             double quantile) {
  LossPoint p = loss_point<L>(y[i], r, quantile);
  if (sw) {
    p.g *= sw[i];
    p.h *= sw[i];
  }
  return {static_cast<float>(p.g), static_cast<float>(p.h)};
}

// Calls body(std::integral_constant<Loss, L>{}) for loss, a one-output loss (callers take
// kMultinomial apart): one switch, the per-row loops inside body compiled once per loss.
template <class Body>
void with_one_output_loss(Loss loss, Body&& body) {
  switch (loss) {
    case kSquaredError: return body(std::integral_constant<Loss, kSquaredError>{});
    case kAbsoluteError: return body(std::integral_constant<Loss, kAbsoluteError>{});
    case kQuantile: return body(std::integral_constant<Loss, kQuantile>{});
    case kPoisson: return body(std::integral_constant<Loss, kPoisson>{});
    case kGamma: return body(std::integral_constant<Loss, kGamma>{});
    case kBinomial: return body(std::integral_constant<Loss, kBinomial>{});
    default: throw std::invalid_argument("a one-output loss expected");
  }
}

}  // namespace fastml::boost::detail
