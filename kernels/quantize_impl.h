// One chunk of quantize/dequantize, shared verbatim by the CPU loop and the CUDA kernel
// (one thread per chunk) so that both produce the same codes. Internal to kernels/.
#pragma once

#include <math.h>

#include "kernels/numeric.h"
#include "kernels/quantize.h"

namespace tessera::kernels::detail {

// Scales per chunk (fp16: none, int2: low and high bin, else one); quant_scales_per_chunk
// on the host and the CUDA kernels both use this.
TESSERA_HD unsigned scales_for(QuantKind kind) {
  return kind == QuantKind::kFp16 ? 0u : (kind == QuantKind::kInt2 ? 2u : 1u);
}

TESSERA_HD float abs_f(float v) { return fabsf(v); }
TESSERA_HD bool negative_f(float v) { return (float_bits(v) >> 31) != 0; }
TESSERA_HD float stored(float s, std::uint16_t* out) {
  *out = f32_to_bf16(s);
  return bf16_to_f32(*out);
}
TESSERA_HD int round_half_away(float x) { return static_cast<int>(roundf(x)); }

// Rank of element i among |v| ascending, ties to the lower position (O(k) per element).
TESSERA_HD std::uint32_t magnitude_rank(const float* v, std::uint32_t k, std::uint32_t i) {
  const float m = abs_f(v[i]);
  std::uint32_t rank = 0;
  for (std::uint32_t j = 0; j < k; ++j) {
    const float o = abs_f(v[j]);
    rank += (o < m || (o == m && j < i)) ? 1u : 0u;
  }
  return rank;
}

// `high` is scratch of k bytes (CPU: may be precomputed by a faster rank method).
TESSERA_HD void quantize_one(QuantKind kind, const float* v, std::uint32_t k, const unsigned char* high,
                             std::uint16_t* codes, std::uint16_t* scales, float* recon) {
  switch (kind) {
    case QuantKind::kFp16:
      for (std::uint32_t i = 0; i < k; ++i) {
        codes[i] = f32_to_f16(v[i]);
        recon[i] = f16_to_f32(codes[i]);
      }
      return;
    case QuantKind::kInt8:
    case QuantKind::kInt4: {
      const int qmax = kind == QuantKind::kInt8 ? 127 : 7;
      float absmax = 0.0f;
      for (std::uint32_t i = 0; i < k; ++i) absmax = fmaxf(absmax, abs_f(v[i]));
      const float scale = stored(absmax / static_cast<float>(qmax), &scales[0]);
      for (std::uint32_t i = 0; i < k; ++i) {
        int code = scale > 0.0f ? round_half_away(v[i] / scale) : 0;
        code = code < -qmax ? -qmax : (code > qmax ? qmax : code);
        codes[i] = static_cast<std::uint16_t>(code + qmax);
        recon[i] = static_cast<float>(code) * scale;
      }
      return;
    }
    case QuantKind::kInt2: {
      const std::uint32_t low_count = k / 2;
      double low_sum = 0.0, high_sum = 0.0;
      for (std::uint32_t i = 0; i < k; ++i) {  // adding +0.0 leaves a sum of magnitudes unchanged
        const double a = abs_f(v[i]);
        high_sum += high[i] ? a : 0.0;
        low_sum += high[i] ? 0.0 : a;
      }
      const float low = stored(low_count ? static_cast<float>(low_sum / low_count) : 0.0f, &scales[0]);
      const float hi = stored(k - low_count ? static_cast<float>(high_sum / (k - low_count)) : 0.0f, &scales[1]);
      for (std::uint32_t i = 0; i < k; ++i) {
        const unsigned neg = negative_f(v[i]) ? 1u : 0u;
        codes[i] = static_cast<std::uint16_t>(neg | (high[i] ? 2u : 0u));
        const float mag = high[i] ? hi : low;
        recon[i] = neg ? -mag : mag;
      }
      return;
    }
    case QuantKind::kSign: {
      double sum = 0.0;
      for (std::uint32_t i = 0; i < k; ++i) sum += abs_f(v[i]);
      const float scale = stored(k ? static_cast<float>(sum / k) : 0.0f, &scales[0]);
      for (std::uint32_t i = 0; i < k; ++i) {
        codes[i] = negative_f(v[i]) ? 1 : 0;
        recon[i] = codes[i] ? -scale : scale;
      }
      return;
    }
  }
}

TESSERA_HD void dequantize_one(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales,
                               std::uint32_t k, float* out) {
  switch (kind) {
    case QuantKind::kFp16:
      for (std::uint32_t i = 0; i < k; ++i) out[i] = f16_to_f32(codes[i]);
      return;
    case QuantKind::kInt8:
    case QuantKind::kInt4: {
      const int qmax = kind == QuantKind::kInt8 ? 127 : 7;
      const float scale = bf16_to_f32(scales[0]);
      for (std::uint32_t i = 0; i < k; ++i) out[i] = static_cast<float>(static_cast<int>(codes[i]) - qmax) * scale;
      return;
    }
    case QuantKind::kInt2: {
      const float low = bf16_to_f32(scales[0]), hi = bf16_to_f32(scales[1]);
      for (std::uint32_t i = 0; i < k; ++i) {
        const float mag = (codes[i] & 2u) ? hi : low;
        out[i] = (codes[i] & 1u) ? -mag : mag;
      }
      return;
    }
    case QuantKind::kSign: {
      const float scale = bf16_to_f32(scales[0]);
      for (std::uint32_t i = 0; i < k; ++i) out[i] = (codes[i] & 1u) ? -scale : scale;
      return;
    }
  }
}

}  // namespace tessera::kernels::detail
