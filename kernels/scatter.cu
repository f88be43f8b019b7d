#include <cuda_runtime.h>

#include "kernels/device.h"
#include "kernels/scatter.h"

namespace tessera::kernels {

namespace {
__global__ void scatter_apply_kernel(float* params, const std::int64_t* idx, const float* values, std::size_t n,
                                     float alpha, float* saved) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(blockDim.x) * gridDim.x) {
    float old = params[idx[i]];
    if (saved) saved[i] = old;
    params[idx[i]] = old + alpha * values[i];
  }
}
__global__ void scatter_restore_kernel(float* params, const std::int64_t* idx, const float* saved, std::size_t n) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(blockDim.x) * gridDim.x) {
    params[idx[i]] = saved[i];
  }
}
int blocks_for(std::size_t n) {
  const std::size_t want = (n + 255) / 256;
  return static_cast<int>(want < 4096 ? (want == 0 ? 1 : want) : 4096);
}
}  // namespace

bool scatter_apply_cuda(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                        float* saved) {
  if (cuda_device_count() == 0) return false;
  scatter_apply_kernel<<<blocks_for(n), 256>>>(params, idx, values, n, alpha, saved);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

bool scatter_restore_cuda(float* params, const std::int64_t* idx, const float* saved, std::size_t n) {
  if (cuda_device_count() == 0) return false;
  scatter_restore_kernel<<<blocks_for(n), 256>>>(params, idx, saved, n);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

}  // namespace tessera::kernels
