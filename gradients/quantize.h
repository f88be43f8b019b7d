// Per-chunk value quantisation. Scales are stored as bfloat16 and the encoder quantises
// against the rounded scale, so encoder and decoder reconstruct identical floats.
//
//   fp16  16-bit IEEE half per value, no scale
//   int8  symmetric, scale = max|v|/127, codes −127..127
//   int4  symmetric, scale = max|v|/7,   codes −7..7
//   int2  sign bit + magnitude bit: the |v| below the chunk's median rank form the low
//         bin, the rest the high bin; each bin is reconstructed at its mean |v| (two scales)
//   sign  sign bit, reconstructed at the chunk's mean |v| (one scale)
//
// Means per bin minimise the squared error for a fixed bin assignment; docs/codec.md
// has the measurement against absmax scaling.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "gradients/bitstream.h"
#include "gradients/codec.h"

namespace tessera::gradients {

unsigned bits_per_value(Quant q);
unsigned scales_per_chunk(Quant q);

std::uint16_t float_to_bf16(float f);  // round to nearest even; NaN stays NaN
float bf16_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);

// Quantises k values of one chunk: appends codes to `values_out`, bf16 scales to
// `scales_out`, and writes the reconstruction of each value to `recon`.
void quantize_chunk(Quant q, const float* v, std::uint32_t k, BitWriter* values_out, BitWriter* scales_out,
                    float* recon);

// Reads back one chunk; rejects invalid codes and non-finite or negative scales/values.
Status dequantize_chunk(Quant q, std::uint32_t k, BitReader* values_in, BitReader* scales_in, float* out);

}  // namespace tessera::gradients
