// Gathering the blocks of a row-major rows × cols matrix into a chunk-major buffer: block
// c is the (c / (cols / block_cols))-th band of block_rows rows and the
// (c % (cols / block_cols))-th band of block_cols columns, written row by row at
// out + c · block_rows · block_cols. block_rows and block_cols divide rows and cols. The
// codec gathers 2-D tensors this way before a per-block transform.
#pragma once

#include <cstddef>

namespace tessera::kernels {

void gather_blocks_cpu(const float* matrix, std::size_t rows, std::size_t cols, std::size_t block_rows,
                       std::size_t block_cols, float* out);
// Device pointers; false when no CUDA device is usable or the launch failed.
bool gather_blocks_cuda(const float* matrix, std::size_t rows, std::size_t cols, std::size_t block_rows,
                        std::size_t block_cols, float* out);

}  // namespace tessera::kernels
