#include "gradients/quantize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace tessera::gradients {

unsigned bits_per_value(Quant q) {
  switch (q) {
    case Quant::kFp16: return 16;
    case Quant::kInt8: return 8;
    case Quant::kInt4: return 4;
    case Quant::kInt2: return 2;
    case Quant::kSign: return 1;
  }
  return 0;
}

unsigned scales_per_chunk(Quant q) {
  switch (q) {
    case Quant::kFp16: return 0;
    case Quant::kInt2: return 2;
    default: return 1;
  }
}

std::uint16_t float_to_bf16(float f) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if (std::isnan(f)) return static_cast<std::uint16_t>((bits >> 16) | 0x40);
  const std::uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

float bf16_to_float(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

std::uint16_t float_to_half(float f) { return c10::Half(f).x; }
float half_to_float(std::uint16_t h) { return static_cast<float>(c10::Half(h, c10::Half::from_bits())); }

namespace {
// The scale actually used: rounded through bf16 so both sides agree.
float stored_scale(float s, BitWriter* scales_out) {
  const std::uint16_t b = float_to_bf16(s);
  scales_out->write(b, 16);
  return bf16_to_float(b);
}

Status read_scale(BitReader* in, float* scale) {
  std::uint64_t raw = 0;
  if (!in->read(16, &raw)) return Corrupted("scale section truncated");
  const float s = bf16_to_float(static_cast<std::uint16_t>(raw));
  if (!std::isfinite(s)) return Corrupted("non-finite scale");
  if (s < 0) return Corrupted("negative scale " + std::to_string(s));
  *scale = s;
  return Status::Ok();
}
}  // namespace

void quantize_chunk(Quant q, const float* v, std::uint32_t k, BitWriter* values_out, BitWriter* scales_out,
                    float* recon) {
  switch (q) {
    case Quant::kFp16:
      for (std::uint32_t i = 0; i < k; ++i) {
        const std::uint16_t h = float_to_half(v[i]);
        values_out->write(h, 16);
        recon[i] = half_to_float(h);
      }
      return;
    case Quant::kInt8:
    case Quant::kInt4: {
      const int qmax = q == Quant::kInt8 ? 127 : 7;
      const unsigned bits = bits_per_value(q);
      float absmax = 0;
      for (std::uint32_t i = 0; i < k; ++i) absmax = std::max(absmax, std::fabs(v[i]));
      const float scale = stored_scale(absmax / static_cast<float>(qmax), scales_out);
      for (std::uint32_t i = 0; i < k; ++i) {
        int code = scale > 0 ? static_cast<int>(std::lround(v[i] / scale)) : 0;
        code = std::clamp(code, -qmax, qmax);
        values_out->write(static_cast<std::uint64_t>(code + qmax), bits);
        recon[i] = static_cast<float>(code) * scale;
      }
      return;
    }
    case Quant::kInt2: {
      // Rank split: the floor(k/2) smallest magnitudes form the low bin (ties by position).
      std::vector<std::uint32_t> order(k);
      for (std::uint32_t i = 0; i < k; ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [v](std::uint32_t a, std::uint32_t b) {
        const float fa = std::fabs(v[a]), fb = std::fabs(v[b]);
        return fa < fb || (fa == fb && a < b);
      });
      std::vector<std::uint8_t> high(k, 1);
      const std::uint32_t low_count = k / 2;
      double low_sum = 0, high_sum = 0;
      for (std::uint32_t r = 0; r < k; ++r) {
        const float m = std::fabs(v[order[r]]);
        if (r < low_count) {
          high[order[r]] = 0;
          low_sum += m;
        } else {
          high_sum += m;
        }
      }
      const float low_scale = stored_scale(low_count ? static_cast<float>(low_sum / low_count) : 0.0f, scales_out);
      const float high_scale =
          stored_scale(k - low_count ? static_cast<float>(high_sum / (k - low_count)) : 0.0f, scales_out);
      for (std::uint32_t i = 0; i < k; ++i) {
        const unsigned negative = std::signbit(v[i]) ? 1 : 0;
        values_out->write(negative | (static_cast<unsigned>(high[i]) << 1), 2);
        const float mag = high[i] ? high_scale : low_scale;
        recon[i] = negative ? -mag : mag;
      }
      return;
    }
    case Quant::kSign: {
      double sum = 0;
      for (std::uint32_t i = 0; i < k; ++i) sum += std::fabs(v[i]);
      const float scale = stored_scale(k ? static_cast<float>(sum / k) : 0.0f, scales_out);
      for (std::uint32_t i = 0; i < k; ++i) {
        const unsigned negative = std::signbit(v[i]) ? 1 : 0;
        values_out->write(negative, 1);
        recon[i] = negative ? -scale : scale;
      }
      return;
    }
  }
}

Status dequantize_chunk(Quant q, std::uint32_t k, BitReader* values_in, BitReader* scales_in, float* out) {
  std::uint64_t code = 0;
  switch (q) {
    case Quant::kFp16:
      for (std::uint32_t i = 0; i < k; ++i) {
        if (!values_in->read(16, &code)) return Corrupted("value section truncated");
        out[i] = half_to_float(static_cast<std::uint16_t>(code));
        if (!std::isfinite(out[i])) return Corrupted("non-finite fp16 value");
      }
      return Status::Ok();
    case Quant::kInt8:
    case Quant::kInt4: {
      const int qmax = q == Quant::kInt8 ? 127 : 7;
      float scale = 0;
      TESSERA_RETURN_IF_ERROR(read_scale(scales_in, &scale));
      for (std::uint32_t i = 0; i < k; ++i) {
        if (!values_in->read(bits_per_value(q), &code)) return Corrupted("value section truncated");
        if (code > static_cast<std::uint64_t>(2 * qmax)) {
          return Corrupted(std::string(quant_name(q)) + " code " + std::to_string(code) + " out of range");
        }
        out[i] = static_cast<float>(static_cast<int>(code) - qmax) * scale;
      }
      return Status::Ok();
    }
    case Quant::kInt2: {
      float low = 0, high = 0;
      TESSERA_RETURN_IF_ERROR(read_scale(scales_in, &low));
      TESSERA_RETURN_IF_ERROR(read_scale(scales_in, &high));
      for (std::uint32_t i = 0; i < k; ++i) {
        if (!values_in->read(2, &code)) return Corrupted("value section truncated");
        const float mag = (code & 2) ? high : low;
        out[i] = (code & 1) ? -mag : mag;
      }
      return Status::Ok();
    }
    case Quant::kSign: {
      float scale = 0;
      TESSERA_RETURN_IF_ERROR(read_scale(scales_in, &scale));
      for (std::uint32_t i = 0; i < k; ++i) {
        if (!values_in->read(1, &code)) return Corrupted("value section truncated");
        out[i] = code ? -scale : scale;
      }
      return Status::Ok();
    }
  }
  return InvalidArgument("unknown quantisation");
}

}  // namespace tessera::gradients
