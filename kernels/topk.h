// Top-k by magnitude per chunk. A buffer of n floats is split into chunks of
// `chunk_len` (the last may be shorter); chunk c keeps k_c = ks[c] values (k_c <= its
// length). Output per chunk: positions (chunk-local, strictly increasing) and the values
// at them, written at offsets[c] = Σ_{j<c} k_j. Ties in magnitude go to the lower
// position, so the result is deterministic.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::kernels {

void topk_chunks_cpu(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                     const std::size_t* offsets, std::uint32_t* positions, float* values);
bool topk_chunks_cuda(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                      const std::size_t* offsets, std::uint32_t* positions, float* values);

}  // namespace tessera::kernels
