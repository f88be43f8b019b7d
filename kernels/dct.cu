// One thread block per DCT block: the block and the intermediate product live in shared
// memory; each thread computes output elements with the same summation order as the CPU
// reference (which may still differ in the last bits through FMA contraction).
#include <cuda_runtime.h>

#include <map>
#include <mutex>

#include "kernels/dct.h"
#include "kernels/device.h"

namespace tessera::kernels {

namespace {
__global__ void dct_kernel(float* blocks, int rows, int cols, const float* cr, const float* cc, bool inverse) {
  extern __shared__ float shared[];
  float* x = shared;                // rows × cols
  float* t = shared + rows * cols;  // rows × cols
  float* block = blocks + static_cast<std::size_t>(blockIdx.x) * rows * cols;
  const int n = rows * cols;
  for (int i = threadIdx.x; i < n; i += blockDim.x) x[i] = block[i];
  __syncthreads();
  // t[r][l] = Σ_j x[r][j] · R[j][l], R = C_cᵀ (forward) or C_c (inverse).
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int r = i / cols, l = i % cols;
    float acc = 0.0f;
    for (int j = 0; j < cols; ++j) {
      const float rj = inverse ? cc[j * cols + l] : cc[l * cols + j];
      acc += x[r * cols + j] * rj;
    }
    t[i] = acc;
  }
  __syncthreads();
  // out[k][l] = Σ_r L[k][r] · t[r][l], L = C_r (forward) or C_rᵀ (inverse).
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int k = i / cols, l = i % cols;
    float acc = 0.0f;
    for (int r = 0; r < rows; ++r) {
      const float lk = inverse ? cr[r * rows + k] : cr[k * rows + r];
      acc += lk * t[r * cols + l];
    }
    block[i] = acc;
  }
}

// Device copies of the DCT matrices, uploaded once per size.
const float* device_matrix(int n) {
  static std::mutex mu;
  static std::map<int, float*> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  float* d = nullptr;
  if (cudaMalloc(&d, sizeof(float) * n * n) != cudaSuccess) return nullptr;
  if (cudaMemcpy(d, dct_matrix(n), sizeof(float) * n * n, cudaMemcpyHostToDevice) != cudaSuccess) {
    cudaFree(d);
    return nullptr;
  }
  cache.emplace(n, d);
  return d;
}
}  // namespace

bool dct_blocks_cuda(float* blocks, std::size_t n_blocks, int rows, int cols, bool inverse) {
  if (cuda_device_count() == 0 || rows < 1 || cols < 1 || rows > kMaxDctSide || cols > kMaxDctSide) return false;
  if (n_blocks == 0) return true;
  const float* cr = device_matrix(rows);
  const float* cc = device_matrix(cols);
  if (cr == nullptr || cc == nullptr) return false;
  const std::size_t shared = sizeof(float) * 2 * rows * cols;
  dct_kernel<<<static_cast<unsigned>(n_blocks), 256, shared>>>(blocks, rows, cols, cr, cc, inverse);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

}  // namespace tessera::kernels
