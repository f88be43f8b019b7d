#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/quantize_impl.h"

namespace tessera::kernels {

unsigned quant_scales_per_chunk(QuantKind kind) { return detail::scales_for(kind); }

unsigned quant_bits_per_value(QuantKind kind) {
  switch (kind) {
    case QuantKind::kFp16: return 16;
    case QuantKind::kInt8: return 8;
    case QuantKind::kInt4: return 4;
    case QuantKind::kInt2: return 2;
    case QuantKind::kSign: return 1;
  }
  return 0;
}

unsigned quant_max_code(QuantKind kind) {
  switch (kind) {
    case QuantKind::kFp16: return 0xffff;
    case QuantKind::kInt8: return 254;
    case QuantKind::kInt4: return 14;
    case QuantKind::kInt2: return 3;
    case QuantKind::kSign: return 1;
  }
  return 0;
}

void quantize_chunks_cpu(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                         const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales, float* recon) {
  const unsigned s = quant_scales_per_chunk(kind);
  thread_local std::vector<unsigned char> high;  // scratch reused across calls
  thread_local std::vector<float> mags;
  for (std::size_t c = 0; c < chunks; ++c) {
    const float* v = values + offsets[c];
    const std::uint32_t k = ks[c];
    if (kind == QuantKind::kInt2) {
      // The median-rank split: the floor(k/2) smallest (|v|, position) form the low bin.
      // Larger chunks in O(k): t = the largest magnitude in the bin; everything below t is
      // low, and of the values equal to t the lowest positions fill the bin.
      high.assign(k, 1);
      const std::uint32_t low_count = k / 2;
      mags.resize(k);
      for (std::uint32_t i = 0; i < k; ++i) mags[i] = detail::abs_f(v[i]);
      if (low_count > 0 && k <= 64) {
        // Small chunks (the default keeps 32): the rank of each value among (|v|, position)
        // by counting, branch-free: cheaper than a selection for so few values.
        for (std::uint32_t i = 0; i < k; ++i) {
          const float m = mags[i];
          std::uint32_t rank = 0;
          for (std::uint32_t j = 0; j < k; ++j) {
            rank += static_cast<std::uint32_t>((mags[j] < m) | ((mags[j] == m) & (j < i)));
          }
          high[i] = static_cast<unsigned char>(rank >= low_count);
        }
      } else if (low_count > 0) {
        std::nth_element(mags.begin(), mags.begin() + (low_count - 1), mags.end());
        const float t = mags[low_count - 1];
        std::uint32_t below = 0;
        for (std::uint32_t i = 0; i < k; ++i) below += detail::abs_f(v[i]) < t ? 1 : 0;
        std::uint32_t equal_left = low_count - below;
        for (std::uint32_t i = 0; i < k; ++i) {  // branch-free: half the values go each way
          const float m = detail::abs_f(v[i]);
          const std::uint32_t take_equal = (m == t) & (equal_left > 0);
          high[i] = static_cast<unsigned char>(!((m < t) | take_equal));
          equal_left -= take_equal;
        }
      }
    }
    detail::quantize_one(kind, v, k, high.data(), codes + offsets[c], scales + c * s, recon + offsets[c]);
  }
}

void dequantize_chunks_cpu(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales,
                           std::size_t chunks, const std::uint32_t* ks, const std::size_t* offsets, float* out) {
  const unsigned s = quant_scales_per_chunk(kind);
  for (std::size_t c = 0; c < chunks; ++c) {
    detail::dequantize_one(kind, codes + offsets[c], scales + c * s, ks[c], out + offsets[c]);
  }
}

}  // namespace tessera::kernels
