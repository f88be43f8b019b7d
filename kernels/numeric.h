// Bit-exact float32 ↔ bfloat16 / IEEE half conversions (round to nearest even), written
// once for host and device so the CPU and CUDA codec kernels produce identical codes.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define TESSERA_HD __host__ __device__ inline
#else
#define TESSERA_HD inline
#endif

namespace tessera::kernels {

TESSERA_HD std::uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

TESSERA_HD float bits_float(std::uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// bfloat16: the top 16 bits, rounded to nearest even; NaN stays a (quiet) NaN.
TESSERA_HD std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t bits = float_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

TESSERA_HD float bf16_to_f32(std::uint16_t h) { return bits_float(static_cast<std::uint32_t>(h) << 16); }

// IEEE binary16, round to nearest even, overflow to infinity, subnormals kept.
TESSERA_HD std::uint16_t f32_to_f16(float f) {
  const std::uint32_t x = float_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // ≥ 65520 → inf
  if (a >= 0x38800000u) {                                                    // normal half
    const std::uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u;
    return static_cast<std::uint16_t>(sign | (r >> 13));
  }
  const std::uint32_t e = a >> 23;
  if (e < 102) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal
  const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126 - e;  // 14..24
  std::uint32_t q = m >> shift;
  const std::uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<std::uint16_t>(sign | q);
}

TESSERA_HD float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return bits_float(sign | 0x7f800000u | (m << 13));  // inf / NaN
  if (e != 0) return bits_float(sign | ((e + 112u) << 23) | (m << 13));
  if (m == 0) return bits_float(sign);
  // Subnormal: m · 2^-24, exact in float32.
  const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
  return sign ? -v : v;
}

// Division of many numerators by one divisor d >= 1 as a multiply and shift (a 64-bit
// division costs tens of cycles). With m = ceil(2^40 / d), n · m / 2^40 exceeds n / d by
// less than n / 2^40, which stays below 1 / d — so the floor is exact — while n · d <
// 2^40; `limit` (numerators are below it) decides once whether that holds, else it
// divides. Host only.
class Divider {
 public:
  Divider(std::uint64_t d, std::uint64_t limit)
      : d_(d), m_(((std::uint64_t{1} << 40) + d - 1) / d), fast_(limit <= (std::uint64_t{1} << 40) / d) {}
  std::uint64_t operator()(std::uint64_t n) const {
    return fast_ ? static_cast<std::uint64_t>((static_cast<unsigned __int128>(n) * m_) >> 40) : n / d_;
  }

 private:
  std::uint64_t d_, m_;
  bool fast_;
};

}  // namespace tessera::kernels
