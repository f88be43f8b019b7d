// One thread per chunk running the same per-chunk code as the CPU path
// (quantize_impl.h); the int2 median-rank split is computed by rank counting, which
// gives the same bins as the CPU's nth_element.
#include <cuda_runtime.h>

#include "kernels/device.h"
#include "kernels/quantize_impl.h"

namespace tessera::kernels {

namespace {

__global__ void quantize_kernel(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                                const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales,
                                float* recon, unsigned char* high_scratch) {
  const std::size_t c = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (c >= chunks) return;
  const float* v = values + offsets[c];
  const std::uint32_t k = ks[c];
  unsigned char* high = high_scratch + offsets[c];
  if (kind == QuantKind::kInt2) {
    for (std::uint32_t i = 0; i < k; ++i) high[i] = detail::magnitude_rank(v, k, i) >= k / 2 ? 1 : 0;
  }
  const unsigned s = detail::scales_for(kind);
  detail::quantize_one(kind, v, k, high, codes + offsets[c], scales + c * s, recon + offsets[c]);
}

__global__ void dequantize_kernel(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales,
                                  std::size_t chunks, const std::uint32_t* ks, const std::size_t* offsets,
                                  float* out) {
  const std::size_t c = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (c >= chunks) return;
  const unsigned s = detail::scales_for(kind);
  detail::dequantize_one(kind, codes + offsets[c], scales + c * s, ks[c], out + offsets[c]);
}

unsigned grid_for(std::size_t chunks) { return static_cast<unsigned>((chunks + 127) / 128); }
}  // namespace

bool quantize_chunks_cuda(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                          const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales, float* recon) {
  if (cuda_device_count() == 0) return false;
  if (chunks == 0) return true;
  // Scratch for the int2 bins: as many bytes as values (offsets are a prefix sum).
  std::size_t last_offset = 0;
  std::uint32_t last_k = 0;
  if (cudaMemcpy(&last_offset, offsets + chunks - 1, sizeof(std::size_t), cudaMemcpyDeviceToHost) != cudaSuccess ||
      cudaMemcpy(&last_k, ks + chunks - 1, sizeof(std::uint32_t), cudaMemcpyDeviceToHost) != cudaSuccess) {
    return false;
  }
  unsigned char* high = nullptr;
  if (cudaMalloc(&high, last_offset + last_k + 1) != cudaSuccess) return false;
  quantize_kernel<<<grid_for(chunks), 128>>>(kind, values, chunks, ks, offsets, codes, scales, recon, high);
  const bool ok = cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
  cudaFree(high);
  return ok;
}

bool dequantize_chunks_cuda(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales,
                            std::size_t chunks, const std::uint32_t* ks, const std::size_t* offsets, float* out) {
  if (cuda_device_count() == 0) return false;
  if (chunks == 0) return true;
  dequantize_kernel<<<grid_for(chunks), 128>>>(kind, codes, scales, chunks, ks, offsets, out);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

}  // namespace tessera::kernels
