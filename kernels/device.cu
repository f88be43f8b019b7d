#include <cuda_runtime.h>

#include "kernels/device.h"

namespace tessera::kernels {

bool compiled_with_cuda() { return true; }

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

int cuda_compute_capability(int device) {
  cudaDeviceProp prop{};
  if (device < 0 || device >= cuda_device_count() || cudaGetDeviceProperties(&prop, device) != cudaSuccess) return 0;
  return prop.major * 10 + prop.minor;
}

std::string describe_devices() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("cuda: compiled, 0 devices (") + cudaGetErrorString(err) + "); cpu only";
  }
  std::string out = "cuda: compiled, " + std::to_string(count) + " device(s)";
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) out += std::string("; ") + prop.name;
  }
  return out;
}

}  // namespace tessera::kernels
