// Run-time choice among the instruction-set builds of a kernel source (see fastml_isa_objects in
// CMakeLists.txt): each build defines `Table kernel_table()` in namespace <core>::<isa>, and the
// dispatch file of the core picks the widest build that is compiled in and that this CPU runs.
#pragma once

#if defined(FASTML_HAVE_ISA_x86_64_v4)
#define FASTML_IF_ISA_V4(expr) (expr)
#else
#define FASTML_IF_ISA_V4(expr) nullptr
#endif
#if defined(FASTML_HAVE_ISA_x86_64_v3)
#define FASTML_IF_ISA_V3(expr) (expr)
#else
#define FASTML_IF_ISA_V3(expr) nullptr
#endif

#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace fastml {

template <class Table>
struct IsaChoice {
  Table table;
  const char* name;  // "baseline", "x86_64_v3" or "x86_64_v4"
};

// A table maker; the wider builds' makers are non-deduced parameters, so that a build without
// them may pass nullptr (Table is deduced from the baseline's).
template <class Table>
struct TableMaker {
  typedef Table (*type)();
};

// Call as choose_isa(FASTML_IF_ISA_V4(&ns::x86_64_v4::kernel_table),
//                    FASTML_IF_ISA_V3(&ns::x86_64_v3::kernel_table), &ns::baseline::kernel_table);
// FASTML_SIMD=baseline or x86_64_v3 in the environment caps the choice, so that tests can run
// the narrower builds on a wider machine; any other value leaves it to the CPU.
template <class Table>
IsaChoice<Table> choose_isa(typename TableMaker<Table>::type v4,
                            typename TableMaker<Table>::type v3, Table (*baseline)()) {
#if defined(__x86_64__) || defined(__i386__)
  const char* cap = std::getenv("FASTML_SIMD");
  const bool baseline_only = cap && std::strcmp(cap, "baseline") == 0;
  const bool up_to_v3 = baseline_only || (cap && std::strcmp(cap, "x86_64_v3") == 0);
  __builtin_cpu_init();
  if (v4 && !up_to_v3 && __builtin_cpu_supports("x86-64-v4")) return {v4(), "x86_64_v4"};
  if (v3 && !baseline_only && __builtin_cpu_supports("x86-64-v3")) return {v3(), "x86_64_v3"};
#else
  (void)v4;
  (void)v3;
#endif
  return {baseline(), "baseline"};
}

namespace isa_detail {
inline bool yes() { return true; }
inline bool no() { return false; }
}  // namespace isa_detail

// Whether choose_isa picks a build of x86-64-v3 or wider (FASTML_SIMD caps it as it caps every
// per-ISA kernel), for code whose AVX2 variants are target attributes inside one baseline build
// (the tree core's batched searches, the booster's quad fills) rather than builds of their own.
inline bool isa_v3_or_wider() {
  static const bool wide = choose_isa(FASTML_IF_ISA_V4(&isa_detail::yes),
                                      FASTML_IF_ISA_V3(&isa_detail::yes), &isa_detail::no)
                               .table;
  return wide;
}

// The float or the double kernels of a table with members f32 and f64.
template <class T, class Table>
const auto& kernels_for(const Table& table) {
  if constexpr (std::is_same_v<T, float>) {
    return table.f32;
  } else {
    return table.f64;
  }
}

}  // namespace fastml
