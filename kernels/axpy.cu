#include <cuda_runtime.h>

#include "kernels/axpy.h"
#include "kernels/device.h"

namespace tessera::kernels {

namespace {
__global__ void axpy_kernel(std::size_t n, float a, const float* x, float* y) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(blockDim.x) * gridDim.x) {
    y[i] += a * x[i];
  }
}
}  // namespace

bool axpy_cuda(std::size_t n, float a, const float* x_device, float* y_device) {
  if (cuda_device_count() == 0) return false;
  if (n == 0) return true;
  const int threads = 256;
  const std::size_t want = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 4096 ? want : 4096);
  axpy_kernel<<<blocks, threads>>>(n, a, x_device, y_device);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

}  // namespace tessera::kernels
