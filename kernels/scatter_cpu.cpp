#include "kernels/scatter.h"

namespace tessera::kernels {

void scatter_apply_cpu(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                       float* saved) {
#pragma omp parallel for schedule(static) if (n > (1u << 15))
  for (std::size_t i = 0; i < n; ++i) {
    float& slot = params[idx[i]];
    if (saved) saved[i] = slot;
    slot += alpha * values[i];
  }
}

void scatter_restore_cpu(float* params, const std::int64_t* idx, const float* saved, std::size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 15))
  for (std::size_t i = 0; i < n; ++i) params[idx[i]] = saved[i];
}

}  // namespace tessera::kernels
