// OpenMP queries that compile with or without OpenMP, for the Cython modules and the C++ cores.
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
