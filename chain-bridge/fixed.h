// Fixed-point arithmetic with subtensor's semantics, for a bit-exact Yuma Consensus.
//
// I32F32 holds value·2^32 in a signed 64-bit integer. As in subtensor (the `fixed` crate
// as the epoch uses it): x·y = floor(raw_x·raw_y / 2^32), x/y = trunc(raw_x·2^32 / raw_y)
// with division by zero giving 0, sums saturate, integers convert exactly and floats
// round to nearest. These truncations are observable in the stored u16 outputs, so
// doubles cannot stand in (see ../shared/yuma/README.md).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace tessera::chain {

struct Fixed {
  std::int64_t raw = 0;

  static constexpr std::int64_t kOne = std::int64_t{1} << 32;
  static constexpr Fixed from_raw(std::int64_t r) { return Fixed{r}; }
  static constexpr Fixed from_int(std::int64_t v) { return Fixed{saturate(static_cast<__int128>(v) << 32)}; }
  static constexpr Fixed zero() { return Fixed{0}; }
  static constexpr Fixed one() { return Fixed{kOne}; }
  static constexpr Fixed max() { return Fixed{std::numeric_limits<std::int64_t>::max()}; }
  // Nearest I32F32 to a double (ties away from zero), saturating.
  static Fixed from_double(double d) {
    const long double scaled = std::round(static_cast<long double>(d) * 4294967296.0L);
    if (scaled >= 9.2233720368547758e18L) return max();
    if (scaled <= -9.2233720368547758e18L) return Fixed{std::numeric_limits<std::int64_t>::min()};
    return Fixed{static_cast<std::int64_t>(scaled)};
  }
  // As tests build inputs: I32F32::from_num(x as f32).
  static Fixed from_f32(double d) { return from_double(static_cast<double>(static_cast<float>(d))); }

  double to_double() const { return static_cast<double>(raw) / 4294967296.0; }
  // floor for non-negative values; negative values give 0 (as to_num::<u64> on ≥ 0 data).
  std::uint64_t floor_u64() const { return raw <= 0 ? 0 : static_cast<std::uint64_t>(raw) >> 32; }

  static constexpr std::int64_t saturate(__int128 v) {
    if (v > std::numeric_limits<std::int64_t>::max()) return std::numeric_limits<std::int64_t>::max();
    if (v < std::numeric_limits<std::int64_t>::min()) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(v);
  }

  friend constexpr Fixed operator+(Fixed a, Fixed b) { return Fixed{saturate(static_cast<__int128>(a.raw) + b.raw)}; }
  friend constexpr Fixed operator-(Fixed a, Fixed b) { return Fixed{saturate(static_cast<__int128>(a.raw) - b.raw)}; }
  friend constexpr Fixed operator*(Fixed a, Fixed b) {
    return Fixed{saturate((static_cast<__int128>(a.raw) * b.raw) >> 32)};  // arithmetic shift = floor
  }
  friend constexpr Fixed operator/(Fixed a, Fixed b) {
    if (b.raw == 0) return Fixed{0};
    return Fixed{saturate((static_cast<__int128>(a.raw) << 32) / b.raw)};  // C++ division truncates
  }
  Fixed& operator+=(Fixed o) { return *this = *this + o; }
  friend constexpr bool operator==(Fixed a, Fixed b) { return a.raw == b.raw; }
  friend constexpr auto operator<=>(Fixed a, Fixed b) { return a.raw <=> b.raw; }
};

// x·65535 floored and saturated to 0..65535 (subtensor's fixed_proportion_to_u16).
inline std::uint16_t to_u16_proportion(Fixed x) {
  const Fixed scaled = x * Fixed::from_int(65535);
  if (scaled.raw <= 0) return 0;
  const std::uint64_t v = scaled.floor_u64();
  return v > 65535 ? 65535 : static_cast<std::uint16_t>(v);
}

// u16 / 65535 as an I32F32 quotient.
inline Fixed from_u16_proportion(std::uint16_t v) { return Fixed::from_int(v) / Fixed::from_int(65535); }

// Round half away from zero to an integer, then saturate to u16.
inline std::uint16_t round_to_u16(Fixed x) {
  if (x.raw <= 0) return 0;
  const std::uint64_t r = (static_cast<std::uint64_t>(x.raw) + (std::uint64_t{1} << 31)) >> 32;
  return r > 65535 ? 65535 : static_cast<std::uint16_t>(r);
}

}  // namespace tessera::chain
