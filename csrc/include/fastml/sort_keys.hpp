// Floats as unsigned integers that sort as the values do, for the radix sorts (the booster's
// bin thresholds, csrc/tree/binning.cpp; the metrics' score sort, csrc/metrics_clf).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace fastml {

template <class T>
using SortKey = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;

// The bits of v with the sign bit set for positives and all bits flipped for negatives:
// ascending keys are ascending values, -0.0 just below 0.0 (NaN is not ordered).
template <class T>
inline SortKey<T> ascending_key(T v) {
  using K = SortKey<T>;
  constexpr K sign = K{1} << (8 * sizeof(K) - 1);
  K bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & sign) ? ~bits : (bits | sign);
}

}  // namespace fastml
