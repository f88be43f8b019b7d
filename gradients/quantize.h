// Quantisation parameters of the wire format. The per-chunk quantisers themselves are
// kernels (kernels/quantize.h, CPU and CUDA with identical codes); the codec packs their
// codes into bit sections and validates what it reads back.
//
//   fp16  16-bit IEEE half per value, no scale
//   int8  symmetric, scale = max|v|/127, codes −127..127 (stored +127)
//   int4  symmetric, scale = max|v|/7,   codes −7..7 (stored +7)
//   int2  sign bit + magnitude bit: the |v| below the chunk's median rank form the low
//         bin, the rest the high bin; each bin is reconstructed at its mean |v| (two scales)
//   sign  sign bit, reconstructed at the chunk's mean |v| (one scale)
//
// Scales are bfloat16; means per bin minimise the squared error for a fixed bin
// assignment (docs/codec.md has the measurement against absmax scaling).
#pragma once

#include <cstdint>

#include "gradients/codec.h"

namespace tessera::gradients {

unsigned bits_per_value(Quant q);
unsigned scales_per_chunk(Quant q);

std::uint16_t float_to_bf16(float f);  // round to nearest even; NaN stays NaN
float bf16_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);

}  // namespace tessera::gradients
