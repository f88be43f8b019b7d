// Sparse apply with an undo log: p[idx[i]] += alpha·v[i], saving the value each slot had
// before the first write to it, and the exact restore. `idx` must not repeat (the codec
// guarantees strictly increasing positions), so the restore is bit-exact.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::kernels {

void scatter_apply_cpu(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                       float* saved);
void scatter_restore_cpu(float* params, const std::int64_t* idx, const float* saved, std::size_t n);
bool scatter_apply_cuda(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                        float* saved);
bool scatter_restore_cuda(float* params, const std::int64_t* idx, const float* saved, std::size_t n);

}  // namespace tessera::kernels
