// The booster's bin encoding per instruction set (csrc/tree/binning_isa.cpp; the driver is
// encode_bins in csrc/tree/binning.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastml::cart {

// A feature's search keys: kEncodeKeys values of X's type. keys[j] (j < 255) is the largest
// value <= the feature's threshold j (NaN for the +inf padding), so that for a value v of that
// type, threshold j < v exactly when keys[j] < v; keys[255] is NaN, never below any value:
// keys[256 + k] is keys[16 k + 15], the last key of each run of 16, and the NaN of the last
// run's end keeps the run count of the SIMD searches at most 15.
constexpr int kEncodeKeys = 256 + 16;

// OUT codes of the n_rows rows from X (row-major, n_features a row; codes laid out alike):
// the number of a feature's keys < the value (kMissingBin for NaN), found by counting the
// 16 run ends < v (the run holding the answer), then the keys < v in that run.
template <class T>
using EncodeKernel = void (*)(const T* X, std::ptrdiff_t n_rows, std::ptrdiff_t n_features,
                              const T* keys, std::uint8_t* codes);

struct EncodeTable {
  EncodeKernel<float> f32;
  EncodeKernel<double> f64;
};

namespace baseline { EncodeTable kernel_table(); }
namespace x86_64_v3 { EncodeTable kernel_table(); }
namespace x86_64_v4 { EncodeTable kernel_table(); }

}  // namespace fastml::cart
