// Elias–Fano coding of k strictly increasing positions in [0, u): each position splits
// into l = floor(log2(u/k)) low bits, stored verbatim, and a high part stored in unary
// as gaps (k ones and at most (u−1)>>l zeros). The code length is fixed by (k, u):
// k·l + k + ((u−1) >> l) bits — e.g. 287 bits for k = 32 of u = 4096, against 384 bits for
// plain 12-bit packing.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "gradients/bitstream.h"

namespace tessera::gradients {

unsigned elias_fano_low_bits(std::uint32_t k, std::uint32_t u);
std::uint64_t elias_fano_bits(std::uint32_t k, std::uint32_t u);

// `positions` must hold k strictly increasing values < u (the encoder guarantees it).
void elias_fano_encode(const std::uint32_t* positions, std::uint32_t k, std::uint32_t u, BitWriter* out);

// Decodes exactly k positions; rejects streams that run out, positions that are not
// strictly increasing or reach u, and a high part longer than its fixed length.
Status elias_fano_decode(BitReader* in, std::uint32_t k, std::uint32_t u, std::uint32_t* positions);

}  // namespace tessera::gradients
