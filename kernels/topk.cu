// One thread block per chunk: iterative selection of the k largest magnitudes with a
// block-wide arg-max (ties to the lower position), then the chosen positions are sorted.
// k is small (default 32), so k reductions over a chunk of <= 4096 stay cheap and the
// result matches topk_chunks_cpu exactly.
#include <cuda_runtime.h>

#include "kernels/device.h"
#include "kernels/topk.h"

namespace tessera::kernels {

namespace {
constexpr int kThreads = 256;

__global__ void topk_kernel(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                            const std::size_t* offsets, std::uint32_t* positions, float* values) {
  const std::size_t c = blockIdx.x;
  const float* chunk = data + c * chunk_len;
  const std::size_t len = min(chunk_len, n - c * chunk_len);
  const std::uint32_t k = ks[c];
  std::uint32_t* out_pos = positions + offsets[c];
  __shared__ float best_mag[kThreads];
  __shared__ std::uint32_t best_pos[kThreads];
  __shared__ std::uint32_t chosen[4096];
  for (std::uint32_t round = 0; round < k; ++round) {
    float mag = -1.0f;
    std::uint32_t pos = 0xffffffffu;
    for (std::size_t i = threadIdx.x; i < len; i += blockDim.x) {
      bool taken = false;
      for (std::uint32_t r = 0; r < round; ++r) taken |= (chosen[r] == i);
      if (taken) continue;
      const float m = fabsf(chunk[i]);
      if (m > mag || (m == mag && i < pos)) {
        mag = m;
        pos = static_cast<std::uint32_t>(i);
      }
    }
    best_mag[threadIdx.x] = mag;
    best_pos[threadIdx.x] = pos;
    __syncthreads();
    for (int stride = kThreads / 2; stride > 0; stride /= 2) {
      if (threadIdx.x < stride) {
        const float om = best_mag[threadIdx.x + stride];
        const std::uint32_t op = best_pos[threadIdx.x + stride];
        if (om > best_mag[threadIdx.x] || (om == best_mag[threadIdx.x] && op < best_pos[threadIdx.x])) {
          best_mag[threadIdx.x] = om;
          best_pos[threadIdx.x] = op;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) chosen[round] = best_pos[0];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    for (std::uint32_t i = 1; i < k; ++i) {  // insertion sort of k positions
      std::uint32_t v = chosen[i];
      std::uint32_t j = i;
      while (j > 0 && chosen[j - 1] > v) {
        chosen[j] = chosen[j - 1];
        --j;
      }
      chosen[j] = v;
    }
    for (std::uint32_t i = 0; i < k; ++i) {
      out_pos[i] = chosen[i];
      values[offsets[c] + i] = chunk[chosen[i]];
    }
  }
}
}  // namespace

bool topk_chunks_cuda(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                      const std::size_t* offsets, std::uint32_t* positions, float* values) {
  if (cuda_device_count() == 0 || chunk_len > 4096) return false;
  const std::size_t chunks = (n + chunk_len - 1) / chunk_len;
  if (chunks == 0) return true;
  topk_kernel<<<static_cast<unsigned>(chunks), kThreads>>>(data, n, chunk_len, ks, offsets, positions, values);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

}  // namespace tessera::kernels
