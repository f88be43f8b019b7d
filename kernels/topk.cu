// One thread block per chunk: iterative selection of the k largest magnitudes with a
// block-wide arg-max (ties to the lower position), then the chosen positions are sorted.
// k is small (default 32, at most kMaxTopk), so k reductions over a chunk stay cheap and the
// result matches topk_chunks_cpu exactly. A chunk holding an infinity or NaN gets the
// CPU reference's reject output (positions 0..k-1, zero values) and never selects: NaN
// compares false with everything, so the arg-max could otherwise find no position.
#include <cuda_runtime.h>

#include "kernels/blocks.h"
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
  __shared__ std::uint32_t chosen[kMaxTopk];
  __shared__ int non_finite;
  if (threadIdx.x == 0) non_finite = 0;
  __syncthreads();
  for (std::size_t i = threadIdx.x; i < len; i += blockDim.x) {
    if (!isfinite(chunk[i])) non_finite = 1;  // benign race: every writer stores 1
  }
  __syncthreads();
  if (non_finite) {
    for (std::uint32_t i = threadIdx.x; i < k; i += blockDim.x) {
      out_pos[i] = i;
      values[offsets[c] + i] = 0.0f;
    }
    return;
  }
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

namespace {
__global__ void nonfinite_kernel(const float* data, std::size_t n, int* flag) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    if (!isfinite(data[i])) atomicOr(flag, 1);
  }
}

// Sets *all_finite from a device-side scan of data[0, n).
bool check_finite(const float* data, std::size_t n, bool* all_finite) {
  if (all_finite == nullptr) return true;
  int* flag = nullptr;
  if (cudaMalloc(&flag, sizeof(int)) != cudaSuccess) return false;
  int host = 0;
  bool ok = cudaMemset(flag, 0, sizeof(int)) == cudaSuccess;
  if (ok && n > 0) nonfinite_kernel<<<128, kThreads>>>(data, n, flag);
  ok = ok && cudaGetLastError() == cudaSuccess && cudaMemcpy(&host, flag, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess;
  cudaFree(flag);
  *all_finite = host == 0;
  return ok;
}

// Positions 0..k-1 and zero values for every chunk (the CPU reference's reject output).
__global__ void reject_kernel(std::size_t chunks, const std::uint32_t* ks, const std::size_t* offsets,
                              std::uint32_t* positions, float* values) {
  const std::size_t c = blockIdx.x;
  if (c >= chunks) return;
  for (std::uint32_t i = threadIdx.x; i < ks[c]; i += blockDim.x) {
    positions[offsets[c] + i] = i;
    values[offsets[c] + i] = 0.0f;
  }
}

}  // namespace

bool topk_chunks_cuda(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                      const std::size_t* offsets, std::uint32_t* positions, float* values, bool* all_finite) {
  if (cuda_device_count() == 0 || chunk_len == 0) return false;
  const std::size_t chunks = (n + chunk_len - 1) / chunk_len;
  if (!check_finite(data, n, all_finite)) return false;
  if (chunks == 0) return true;
  if (all_finite != nullptr && !*all_finite) {
    // The caller discards everything once a value is not finite: no selection runs, and
    // every chunk gets the reject output, so nothing out of range is ever written.
    reject_kernel<<<static_cast<unsigned>(chunks), kThreads>>>(chunks, ks, offsets, positions, values);
    return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
  }
  topk_kernel<<<static_cast<unsigned>(chunks), kThreads>>>(data, n, chunk_len, ks, offsets, positions, values);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

bool topk_blocks_cuda(const float* data, std::size_t rows, std::size_t cols, std::size_t block_rows,
                      std::size_t block_cols, const std::uint32_t* ks, const std::size_t* offsets,
                      std::uint32_t* positions, float* values, bool* all_finite) {
  const std::size_t len = block_rows * block_cols, chunks = (rows / block_rows) * (cols / block_cols);
  if (cuda_device_count() == 0 || len == 0) return false;
  if (chunks == 0) return check_finite(data, 0, all_finite);
  float* gathered = nullptr;
  if (cudaMalloc(&gathered, sizeof(float) * rows * cols) != cudaSuccess) return false;
  const bool ok = gather_blocks_cuda(data, rows, cols, block_rows, block_cols, gathered) &&
                  topk_chunks_cuda(gathered, rows * cols, len, ks, offsets, positions, values, all_finite);
  cudaFree(gathered);
  return ok;
}

}  // namespace tessera::kernels
