// The hierarchy core's distance kernel, compiled once per instruction set (CMake defines
// FASTML_ISA and the -march). Built without fused multiply-adds, every build computes the same
// bits: one point per SIMD lane, each lane summing over the features in order.
#include "fastml/hierarchy.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::hierarchy::FASTML_ISA {
namespace {

// Feature by feature over all the points, the sums held in `out` (a block that stays in L1):
// the loop over points is unit-stride and independent across lanes, which the compiler
// vectorises as it is (holding 16 sums in registers instead, GCC vectorised across the features
// with shuffles and ran 3x slower).
void packed_sq_distances(const double* coord, index_t stride, index_t count, const double* x,
                         index_t d, double* out) {
  for (index_t l = 0; l < count; ++l) out[l] = 0.0;
  for (index_t k = 0; k < d; ++k) {
    const double* c = coord + k * stride;
    const double xk = x[k];
    for (index_t l = 0; l < count; ++l) {
      const double t = xk - c[l];
      out[l] += t * t;
    }
  }
}

// (1 + 1e-12): a squared distance above (link * alpha)^2 by this factor gives a distance above
// the link whatever the rounding of the products (each off by a few 1e-16).
constexpr double kSlack = 1.0 + 1e-12;

bool flag_closer(const double* coord, index_t stride, index_t count, const double* x, index_t d,
                 const double* link, const double* core, double node_core, double alpha,
                 double* sq, std::int64_t* maybe) {
  packed_sq_distances(coord, stride, count, x, d, sq);
  std::int64_t any = 0;
  if (core) {
    for (index_t l = 0; l < count; ++l) {
      const double limit = link[l] * alpha;
      const double bound = node_core > core[l] ? node_core : core[l];
      maybe[l] = (sq[l] <= limit * limit * kSlack) & (bound < link[l]);
      any |= maybe[l];
    }
  } else {
    for (index_t l = 0; l < count; ++l) {
      maybe[l] = sq[l] <= link[l] * link[l] * kSlack;
      any |= maybe[l];
    }
  }
  return any != 0;
}

}  // namespace

HierarchyTable kernel_table() { return HierarchyTable{&packed_sq_distances, &flag_closer}; }

}  // namespace fastml::hierarchy::FASTML_ISA
