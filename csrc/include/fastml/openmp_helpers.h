// OpenMP queries that compile with or without OpenMP, for the Cython modules and the C++ cores;
// for C++, FirstException, which carries an exception out of a parallel region.
#pragma once
#ifdef _OPENMP
#include <omp.h>
static inline int fastml_openmp_enabled(void) { return 1; }
static inline int fastml_openmp_max_threads(void) { return omp_get_max_threads(); }
#else
static inline int fastml_openmp_enabled(void) { return 0; }
static inline int fastml_openmp_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif

#ifdef __cplusplus
#include <atomic>
#include <exception>

namespace fastml {

// Carries the first exception thrown in an OpenMP region out of it. An exception escaping a
// region, even one run by a single thread, calls std::terminate and ends the process; caught and
// rethrown after the region, a std::bad_alloc reaches the binding, which raises MemoryError.
// Each iteration runs its body through run(), which skips the bodies left once one has failed
// (an omp for cannot be left with break); call rethrow() after the region.
class FirstException {
 public:
  template <class Body>
  void run(Body&& body) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      body();
    } catch (...) {
#pragma omp critical(fastml_first_exception)
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

}  // namespace fastml
#endif
