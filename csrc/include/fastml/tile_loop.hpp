// The one chunked parallel loop of the distance cores: tasks (tiles, or blocks of queries) run in
// an OpenMP dynamic loop, each thread with its own workspace made once, and the first exception
// (a bad_alloc in a workspace or a result buffer) carried out of the region by FirstException.
//
// What a task computes and how its results are kept is the Reducer's business, as the hooks of
// scikit-learn's _base.pyx.tp or FAISS's result handlers: storing tiles, keeping heaps, growing
// per-query lists, counting or labelling within a radius. A Reducer provides
//   using Workspace = ...;                    // default-constructible, one per thread
//   void init(Workspace&) const;              // sizes it (may throw)
//   void task(index_t t, Workspace&);         // runs task t; tasks must write disjoint outputs
// Results that a task writes only to its own slots do not depend on the thread count.
#pragma once

#include <cstddef>

#include "fastml/openmp_helpers.h"

namespace fastml {

template <class Reducer>
void for_each_task(std::ptrdiff_t n_tasks, int n_threads, Reducer& reducer) {
  FirstException first;
#pragma omp parallel num_threads(n_threads)
  {
    typename Reducer::Workspace workspace;
    bool ready = false;
    first.run([&] {
      reducer.init(workspace);
      ready = true;
    });
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t t = 0; t < n_tasks; ++t) {
      if (ready) first.run([&] { reducer.task(t, workspace); });
    }
  }
  first.rethrow();
}

}  // namespace fastml
