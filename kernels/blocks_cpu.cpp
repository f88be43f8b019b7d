#include <cstring>

#include "kernels/blocks.h"

namespace tessera::kernels {

void gather_blocks_cpu(const float* matrix, std::size_t rows, std::size_t cols, std::size_t block_rows,
                       std::size_t block_cols, float* out) {
  const std::size_t per_row = cols / block_cols, chunks = (rows / block_rows) * per_row;
  const std::size_t row_bytes = sizeof(float) * block_cols;
  for (std::size_t c = 0; c < chunks; ++c) {
    const float* first = matrix + (c / per_row) * block_rows * cols + (c % per_row) * block_cols;
    for (std::size_t r = 0; r < block_rows; ++r) std::memcpy(out + r * block_cols, first + r * cols, row_bytes);
    out += block_rows * block_cols;
  }
}

}  // namespace tessera::kernels
