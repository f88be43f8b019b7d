// Orthonormal 2-D DCT-II over row-major blocks, in place: each rows×cols block B becomes
// C_r·B·C_cᵀ (forward) or C_rᵀ·B·C_c (inverse), where C_n[k][i] = a_k·cos(π(2i+1)k/2n),
// a_0 = √(1/n), a_k = √(2/n). rows, cols ∈ [1, 64].
//
// The CPU path skips zero rows and zero coefficients, so the inverse of a sparse block
// (the codec's decoder: k of 4096 coefficients set) costs O(k·cols + m·rows·cols) for m
// non-zero rows instead of O(rows·cols·(rows+cols)).
#pragma once

#include <cstddef>

namespace tessera::kernels {

constexpr int kMaxDctSide = 64;

// The float32 DCT matrix C_n (row k = basis vector k), computed in double and rounded;
// cached for the process, shared by every implementation.
const float* dct_matrix(int n);

// False (and nothing written) when rows or cols is outside [1, kMaxDctSide].
bool dct_blocks_cpu(float* blocks, std::size_t n_blocks, int rows, int cols, bool inverse);
bool dct_blocks_cuda(float* blocks, std::size_t n_blocks, int rows, int cols, bool inverse);

}  // namespace tessera::kernels
