#include "kernels/axpy.h"

namespace tessera::kernels {

void axpy_cpu(std::size_t n, float a, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) if (n > (1u << 16))
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace tessera::kernels
