// When a CPU kernel spreads a loop over OpenMP threads. Entering a parallel region costs
// system calls even when its `if` clause is false, so small loops (and one-thread runs)
// stay on the calling thread without touching OpenMP. Internal to kernels/ (sources built
// with -fopenmp).
#pragma once

#include <omp.h>

#include <cstddef>

namespace tessera::kernels::detail {

inline bool worth_threads(std::size_t n, std::size_t min_n) { return n > min_n && omp_get_max_threads() > 1; }

// body(i) for i in [0, n): OpenMP static schedule when worth_threads(n, min_n).
template <class Body>
void parallel_for(std::size_t n, std::size_t min_n, const Body& body) {
  if (!worth_threads(n, min_n)) {
    for (std::size_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) body(i);
}

}  // namespace tessera::kernels::detail
