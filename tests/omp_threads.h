// Runs a test body under a given OpenMP thread count (tests of the CPU twins and host algorithms).
#pragma once

#include <omp.h>

namespace zs_test {

// Runs `body` with the OpenMP thread count set to `threads`, restoring it afterwards.
template <class F>
void with_threads(int threads, F&& body) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  body();
  omp_set_num_threads(saved);
}

}  // namespace zs_test
