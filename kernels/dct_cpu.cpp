#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/dct.h"

namespace tessera::kernels {

const float* dct_matrix(int n) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<float[]>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[n];
  if (!slot) {
    slot = std::make_unique<float[]>(static_cast<std::size_t>(n) * n);
    for (int k = 0; k < n; ++k) {
      const double a = k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
      for (int i = 0; i < n; ++i) slot[k * n + i] = static_cast<float>(a * std::cos(M_PI * (2.0 * i + 1.0) * k / (2.0 * n)));
    }
  }
  return slot.get();
}

namespace {

// out[r][:] = Σ_j coef[r][j] · in[j][:] for r < out_rows, skipping zero coefficients;
// rows of `in` listed as zero in `in_zero` are skipped too. in/out have `cols` columns.
// Built for the baseline ISA only, without contraction: decoding a DCT payload is part of
// `checkpoint verify`, so every CPU must round it the same way.
template <int COLS>
void combine_rows(const float* coef, int coef_stride, const float* in, float* out, int out_rows, int in_rows,
                  int cols_dynamic, const unsigned char* in_zero) {
  const int cols = COLS > 0 ? COLS : cols_dynamic;
  float acc[kMaxDctSide];
  for (int r = 0; r < out_rows; ++r) {
    for (int c = 0; c < cols; ++c) acc[c] = 0.0f;
    const float* cr = coef + r * coef_stride;
    for (int j = 0; j < in_rows; ++j) {
      const float a = cr[j];
      if (a == 0.0f || (in_zero != nullptr && in_zero[j])) continue;
      const float* row = in + j * cols;
      for (int c = 0; c < cols; ++c) acc[c] += a * row[c];
    }
    std::memcpy(out + r * cols, acc, sizeof(float) * static_cast<std::size_t>(cols));
  }
}

void combine(const float* coef, int coef_stride, const float* in, float* out, int out_rows, int in_rows, int cols,
             const unsigned char* in_zero) {
  if (cols == 64) combine_rows<64>(coef, coef_stride, in, out, out_rows, in_rows, cols, in_zero);
  else combine_rows<0>(coef, coef_stride, in, out, out_rows, in_rows, cols, in_zero);
}

std::vector<float> transposed(const float* m, int n) {
  std::vector<float> t(static_cast<std::size_t>(n) * n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) t[j * n + i] = m[i * n + j];
  }
  return t;
}

}  // namespace

bool dct_blocks_cpu(float* blocks, std::size_t n_blocks, int rows, int cols, bool inverse) {
  if (rows < 1 || cols < 1 || rows > kMaxDctSide || cols > kMaxDctSide) return false;  // combine_rows' acc[] bound
  const float* cr = dct_matrix(rows);
  const float* cc = dct_matrix(cols);
  // Forward: B·C_cᵀ then C_r·(…); inverse: B·C_c then C_rᵀ·(…).
  const std::vector<float> right = inverse ? std::vector<float>(cc, cc + cols * cols) : transposed(cc, cols);
  const std::vector<float> left = inverse ? transposed(cr, rows) : std::vector<float>(cr, cr + rows * rows);
  std::vector<float> tmp(static_cast<std::size_t>(rows) * cols);
  std::vector<unsigned char> zero_row(static_cast<std::size_t>(rows));
  for (std::size_t b = 0; b < n_blocks; ++b) {
    float* block = blocks + b * static_cast<std::size_t>(rows) * cols;
    for (int r = 0; r < rows; ++r) {
      bool zero = true;
      for (int c = 0; c < cols && zero; ++c) zero = block[r * cols + c] == 0.0f;
      zero_row[static_cast<std::size_t>(r)] = zero ? 1 : 0;
    }
    // tmp = block · right (rows of the block are the coefficients; zero rows stay zero).
    combine(block, cols, right.data(), tmp.data(), rows, cols, cols, nullptr);
    // block = left · tmp, skipping tmp's zero rows.
    combine(left.data(), rows, tmp.data(), block, rows, rows, cols, zero_row.data());
  }
  return true;
}

}  // namespace tessera::kernels
