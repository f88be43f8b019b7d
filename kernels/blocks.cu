#include <cuda_runtime.h>

#include "kernels/blocks.h"
#include "kernels/device.h"

namespace tessera::kernels {

namespace {
// One thread block per matrix block.
__global__ void gather_blocks_kernel(const float* matrix, std::size_t cols, std::size_t block_rows,
                                     std::size_t block_cols, float* out) {
  const std::size_t c = blockIdx.x, per_row = cols / block_cols, len = block_rows * block_cols;
  const float* first = matrix + (c / per_row) * block_rows * cols + (c % per_row) * block_cols;
  for (std::size_t i = threadIdx.x; i < len; i += blockDim.x) out[c * len + i] = first[(i / block_cols) * cols + i % block_cols];
}
}  // namespace

bool gather_blocks_cuda(const float* matrix, std::size_t rows, std::size_t cols, std::size_t block_rows,
                        std::size_t block_cols, float* out) {
  if (cuda_device_count() == 0 || block_rows == 0 || block_cols == 0) return false;
  const std::size_t chunks = (rows / block_rows) * (cols / block_cols);
  if (chunks == 0) return true;
  gather_blocks_kernel<<<static_cast<unsigned>(chunks), 256>>>(matrix, cols, block_rows, block_cols, out);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}

}  // namespace tessera::kernels
