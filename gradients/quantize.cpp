#include "gradients/quantize.h"

#include "kernels/numeric.h"
#include "kernels/quantize.h"

namespace tessera::gradients {

namespace {
kernels::QuantKind kind(Quant q) { return static_cast<kernels::QuantKind>(static_cast<int>(q)); }
}  // namespace

unsigned bits_per_value(Quant q) { return kernels::quant_bits_per_value(kind(q)); }
unsigned scales_per_chunk(Quant q) { return kernels::quant_scales_per_chunk(kind(q)); }

std::uint16_t float_to_bf16(float f) { return kernels::f32_to_bf16(f); }
float bf16_to_float(std::uint16_t h) { return kernels::bf16_to_f32(h); }
std::uint16_t float_to_half(float f) { return kernels::f32_to_f16(f); }
float half_to_float(std::uint16_t h) { return kernels::f16_to_f32(h); }

}  // namespace tessera::gradients
