// OpenMP queries that compile with or without OpenMP, for the Cython modules and the C++ cores;
// for C++ (which both are), the thread count a region is worth (fastml_region_threads) and
// FirstException, which carries an exception out of a parallel region.
#pragma once
#ifdef _OPENMP
#include <omp.h>
static inline int fastml_openmp_enabled(void) { return 1; }
static inline int fastml_openmp_max_threads(void) { return omp_get_max_threads(); }
#else
static inline int fastml_openmp_enabled(void) { return 0; }
static inline int fastml_openmp_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

#ifdef __cplusplus
#include <atomic>
#include <cstdlib>
#include <exception>

// Threads worth waking for a parallel region of `work_ns`: a rough estimate of the region's time
// on one thread, in nanoseconds, from the caller's cost model of its kernel. A worker that slept
// (libgomp spins ~3 ms after a region, then blocks) costs 0.05-0.1 ms to wake at best, and
// milliseconds when its core is busy with another process or, in a virtual machine, its vCPU was
// halted: on a shared 2-core VM an empty 2-thread region took a median 8-12 ms after 0.3 s idle,
// and a 1000 x 1000 boolean pairwise call 10-60 ms on two threads against 0.8-1.9 ms on one. So
// every thread must get at least fastml_min_thread_work_ns() of work: small problems run on the
// calling thread alone, larger ones on as many threads as that allows. Results never depend on
// the thread count, so this changes timings only.
//
// 1 ms, or FASTML_MIN_THREAD_WORK_NS from the environment, read once: 0 wakes every thread for
// any work (the tests set it, so that their small shapes run the parallel paths).
inline double fastml_min_thread_work_ns() {
  static const double value = [] {
    const char* text = std::getenv("FASTML_MIN_THREAD_WORK_NS");
    char* end = nullptr;
    const double v = text ? std::strtod(text, &end) : -1.0;
    return text && end != text && v >= 0.0 ? v : 1.0e6;
  }();
  return value;
}

inline int fastml_region_threads(double work_ns, int n_threads) {
  if (n_threads <= 1) return 1;
  const double min_work = fastml_min_thread_work_ns();
  if (min_work == 0.0) return n_threads;
  const double fit = work_ns / min_work;
  if (!(fit >= 2.0)) return 1;  // also for a NaN estimate
  return fit < static_cast<double>(n_threads) ? static_cast<int>(fit) : n_threads;
}

// The same for a region that follows another parallel region of the same loop within
// microseconds (the booster's partitions, gathers and histogram fills, node after node):
// libgomp's workers still spin then, so the wake cost that sets the minimum is not paid, and a
// tenth of it is enough. make_classification 1M x 28, 100 iterations, 31 leaves, quiet 2-core
// machine, alternating with scikit-learn's fit: 12.8-13.2 s against its 10.4-11.7 s with these
// regions on the full minimum (nodes under 71k rows filled on one thread, partitions under 667k
// rows serial), 10.7-11.4 s against 10.1-10.3 s on a quarter, 10.35-10.40 s against
// 10.74-10.75 s on a tenth.
inline int fastml_hot_region_threads(double work_ns, int n_threads) {
  return fastml_region_threads(10.0 * work_ns, n_threads);
}

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
    // The C++ runtime keeps a thread's exception state in thread-local storage that a library
    // loaded by dlopen (as Python loads libstdc++) allocates on the thread's first use of it:
    // if that first use were a bad_alloc thrown with memory exhausted, the allocation would fail
    // and glibc would abort ("cannot allocate memory for thread-local data"). Touching it here,
    // in every region, allocates it while memory is still there.
    (void)std::uncaught_exceptions();
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

// Starts every OpenMP thread and its C++ exception state (see FirstException::run) now: a module
// calls it when imported. Left to a fit that runs out of memory, libgomp's thread creation would
// end the process ("Thread creation failed") and glibc would abort ("cannot allocate memory for
// thread-local data") where a MemoryError is due.
inline void start_openmp_threads() {
#ifdef _OPENMP
#pragma omp parallel
  { (void)std::uncaught_exceptions(); }
#endif
}

}  // namespace fastml
#endif
