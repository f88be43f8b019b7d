#include "kernels/axpy.h"
#include "kernels/parallel.h"

namespace tessera::kernels {

void axpy_cpu(std::size_t n, float a, const float* x, float* y) {
  if (!detail::worth_threads(n, std::size_t{1} << 16)) {
    for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace tessera::kernels
