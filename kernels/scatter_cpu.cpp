#include "kernels/parallel.h"
#include "kernels/scatter.h"

namespace tessera::kernels {

void scatter_apply_cpu(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                       float* saved) {
  detail::parallel_for(n, std::size_t{1} << 15, [&](std::size_t i) {
    float& slot = params[idx[i]];
    if (saved) saved[i] = slot;
    slot += alpha * values[i];
  });
}

void scatter_restore_cpu(float* params, const std::int64_t* idx, const float* saved, std::size_t n) {
  detail::parallel_for(n, std::size_t{1} << 15, [&](std::size_t i) { params[idx[i]] = saved[i]; });
}

}  // namespace tessera::kernels
