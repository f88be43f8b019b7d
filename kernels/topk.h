// Top-k by magnitude per chunk. A buffer of n floats is split into chunks of
// `chunk_len` (the last may be shorter); chunk c keeps k_c = ks[c] values (k_c <= its
// length and <= kMaxTopk). Output per chunk: positions (chunk-local, strictly increasing) and the values
// at them, written at offsets[c] = Σ_{j<c} k_j. Ties in magnitude go to the lower
// position, so the result is deterministic. When `all_finite` is given it is set to
// whether every value of `data` was finite (a chunk holding an infinity or NaN yields
// in-range but meaningless output, to be discarded by the caller: the CPU reference
// rejects per chunk, the CUDA version rejects every chunk once the flag is false).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::kernels {

inline constexpr std::uint32_t kMaxTopk = 4096;

void topk_chunks_cpu(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                     const std::size_t* offsets, std::uint32_t* positions, float* values, bool* all_finite = nullptr);
bool topk_chunks_cuda(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                      const std::size_t* offsets, std::uint32_t* positions, float* values, bool* all_finite = nullptr);

// The same selection over the blocks of a row-major rows × cols matrix, in place: block
// c is the (c / (cols / block_cols))-th band of block_rows rows and the
// (c % (cols / block_cols))-th band of block_cols columns, and a position inside it is
// r · block_cols + j — exactly what topk_chunks gives on the blocks gathered one after
// the other. block_rows and block_cols divide rows and cols.
void topk_blocks_cpu(const float* data, std::size_t rows, std::size_t cols, std::size_t block_rows,
                     std::size_t block_cols, const std::uint32_t* ks, const std::size_t* offsets,
                     std::uint32_t* positions, float* values, bool* all_finite = nullptr);
bool topk_blocks_cuda(const float* data, std::size_t rows, std::size_t cols, std::size_t block_rows,
                      std::size_t block_cols, const std::uint32_t* ks, const std::size_t* offsets,
                      std::uint32_t* positions, float* values, bool* all_finite = nullptr);

}  // namespace tessera::kernels
