// Per-chunk value quantisation, the numeric core of the codec (gradients/ packs the
// codes into bits and validates what it reads). Values of chunk c are values[offsets[c]
// .. offsets[c] + ks[c]). Scales are bfloat16 (their bits in `scales`, S per chunk) and
// codes are computed against the bf16-rounded scale, so every implementation and the
// decoder reconstruct identical floats.
//
//   fp16  code = IEEE half bits, no scale (S = 0)
//   int8  S = 1, scale = max|v|/127, code = round(v/scale) + 127 ∈ [0, 254]
//   int4  S = 1, scale = max|v|/7,   code = round(v/scale) + 7   ∈ [0, 14]
//   int2  S = 2, bit 0 = sign, bit 1 = high bin; the floor(k/2) smallest |v| (ties to
//         the lower position) form the low bin; each bin's scale is its mean |v|
//   sign  S = 1, bit 0 = sign, scale = mean |v|
//
// Sums run in position order in double, so CPU and CUDA agree bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::kernels {

enum class QuantKind : int { kFp16 = 1, kInt8 = 2, kInt4 = 3, kInt2 = 4, kSign = 5 };

unsigned quant_scales_per_chunk(QuantKind kind);
unsigned quant_bits_per_value(QuantKind kind);
// Largest valid code (codes above it are corrupt input).
unsigned quant_max_code(QuantKind kind);

void quantize_chunks_cpu(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                         const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales, float* recon);
// Codes must be valid (<= quant_max_code) and scales finite and non-negative.
void dequantize_chunks_cpu(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales,
                           std::size_t chunks, const std::uint32_t* ks, const std::size_t* offsets, float* out);

// Same semantics on device memory; false when no CUDA device is usable.
bool quantize_chunks_cuda(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                          const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales, float* recon);
bool dequantize_chunks_cuda(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales,
                            std::size_t chunks, const std::uint32_t* ks, const std::size_t* offsets, float* out);

}  // namespace tessera::kernels
