// Host ↔ device copies for the CUDA kernel tests (compiled only with CUDA; the tests
// skip at run time without a device).
#pragma once

#ifdef TESSERA_HAVE_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tessera::kernels {

// A device copy of `host` (at least one element allocated); free with cudaFree.
template <typename T>
T* to_device(const std::vector<T>& host) {
  T* d = nullptr;
  cudaMalloc(&d, std::max<std::size_t>(1, host.size()) * sizeof(T));
  cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  return d;
}

template <typename T>
std::vector<T> to_host(const T* d, std::size_t n) {
  std::vector<T> host(n);
  cudaMemcpy(host.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
  return host;
}

}  // namespace tessera::kernels
#endif
