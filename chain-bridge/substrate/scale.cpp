#include "chain-bridge/substrate/scale.h"

#include <algorithm>
#include <cstring>

#include "core/hash.h"

namespace tessera::substrate {

std::string hex_of(std::span<const std::uint8_t> bytes, bool prefix) { return (prefix ? "0x" : "") + to_hex(bytes); }

Result<Bytes> bytes_from_hex(std::string_view hex) {
  if (hex.starts_with("0x") || hex.starts_with("0X")) hex.remove_prefix(2);
  TESSERA_ASSIGN_OR_RETURN(auto raw, from_hex(hex));
  return Bytes(raw.begin(), raw.end());
}

std::string u128_to_string(u128 value) {
  if (value == 0) return "0";
  std::string s;
  while (value > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  std::reverse(s.begin(), s.end());
  return s;
}

Result<u128> u128_from_string(std::string_view text) {
  if (text.empty() || text.size() > 39) return InvalidArgument("not an unsigned 128-bit integer: '" + std::string(text) + "'");
  u128 v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return InvalidArgument("not an unsigned 128-bit integer: '" + std::string(text) + "'");
    u128 next = v * 10 + static_cast<unsigned>(c - '0');
    if (next / 10 != v) return InvalidArgument("integer out of 128-bit range: '" + std::string(text) + "'");
    v = next;
  }
  return v;
}

Encoder& Encoder::u8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}
Encoder& Encoder::u16(std::uint16_t v) { return fixed_le(v, 2); }
Encoder& Encoder::u32(std::uint32_t v) { return fixed_le(v, 4); }
Encoder& Encoder::u64(std::uint64_t v) { return fixed_le(v, 8); }
Encoder& Encoder::u128v(u128 v) { return fixed_le(v, 16); }
Encoder& Encoder::fixed_le(u128 v, int width) {
  for (int i = 0; i < width; ++i) out_.push_back(i < 16 ? static_cast<std::uint8_t>(v >> (8 * i)) : 0);
  return *this;
}

Encoder& Encoder::compact(u128 v) {
  if (v < (1u << 6)) return u8(static_cast<std::uint8_t>(v << 2));
  if (v < (1u << 14)) return u16(static_cast<std::uint16_t>((v << 2) | 1));
  if (v < (1u << 30)) return u32(static_cast<std::uint32_t>((v << 2) | 2));
  int n = 0;
  for (u128 t = v; t != 0; t >>= 8) ++n;  // 4..16 bytes
  u8(static_cast<std::uint8_t>(((n - 4) << 2) | 3));
  return fixed_le(v, n);
}

Encoder& Encoder::raw(std::span<const std::uint8_t> bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  return *this;
}
Encoder& Encoder::raw(std::string_view bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  return *this;
}
Encoder& Encoder::bytes(std::span<const std::uint8_t> b) { return compact(b.size()).raw(b); }
Encoder& Encoder::str(std::string_view s) { return compact(s.size()).raw(s); }

Status Decoder::short_read(std::size_t need, std::string_view what) const {
  return Corrupted("SCALE: " + std::string(what) + " needs " + std::to_string(need) + " bytes at offset " +
                   std::to_string(pos_) + ", " + std::to_string(remaining()) + " left");
}

Result<std::span<const std::uint8_t>> Decoder::raw(std::size_t n, std::string_view what) {
  if (n > remaining()) return short_read(n, what);
  auto out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<u128> Decoder::fixed_le(int width, std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(auto b, raw(static_cast<std::size_t>(width), what));
  u128 v = 0;
  for (int i = std::min(width, 16) - 1; i >= 0; --i) v = (v << 8) | b[static_cast<std::size_t>(i)];
  return v;
}

template <typename T>
Result<T> Decoder::uint_le(std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(auto v, fixed_le(static_cast<int>(sizeof(T)), what));
  return static_cast<T>(v);
}
Result<std::uint8_t> Decoder::u8(std::string_view what) { return uint_le<std::uint8_t>(what); }
Result<std::uint16_t> Decoder::u16(std::string_view what) { return uint_le<std::uint16_t>(what); }
Result<std::uint32_t> Decoder::u32(std::string_view what) { return uint_le<std::uint32_t>(what); }
Result<std::uint64_t> Decoder::u64(std::string_view what) { return uint_le<std::uint64_t>(what); }
Result<bool> Decoder::boolean(std::string_view what) {
  std::size_t at = pos_;
  TESSERA_ASSIGN_OR_RETURN(auto v, u8(what));
  if (v > 1) return Corrupted("SCALE: " + std::string(what) + " is not a bool (byte " + std::to_string(v) + " at offset " + std::to_string(at) + ")");
  return v == 1;
}

Result<u128> Decoder::compact(std::string_view what) {
  std::size_t at = pos_;
  TESSERA_ASSIGN_OR_RETURN(auto first, u8(what));
  switch (first & 3) {
    case 0:
      return static_cast<u128>(first >> 2);
    case 1: {
      TESSERA_ASSIGN_OR_RETURN(auto next, u8(what));
      u128 v = ((static_cast<unsigned>(next) << 8) | first) >> 2;
      if (v < 64) return Corrupted("SCALE: " + std::string(what) + " is a non-canonical compact at offset " + std::to_string(at));
      return v;
    }
    case 2: {
      pos_ = at;
      TESSERA_ASSIGN_OR_RETURN(auto w, u32(what));
      u128 v = w >> 2;
      if (v < (1u << 14)) return Corrupted("SCALE: " + std::string(what) + " is a non-canonical compact at offset " + std::to_string(at));
      return v;
    }
    default: {
      int n = (first >> 2) + 4;
      if (n > 16) return Corrupted("SCALE: " + std::string(what) + " is a compact wider than 128 bits at offset " + std::to_string(at));
      TESSERA_ASSIGN_OR_RETURN(auto v, fixed_le(n, what));
      if (v < (static_cast<u128>(1) << 30) || (n > 4 && (v >> (8 * (n - 1))) == 0))
        return Corrupted("SCALE: " + std::string(what) + " is a non-canonical compact at offset " + std::to_string(at));
      return v;
    }
  }
}

Result<std::uint32_t> Decoder::compact_u32(std::string_view what) {
  std::size_t at = pos_;
  TESSERA_ASSIGN_OR_RETURN(auto v, compact(what));
  if (v > 0xffffffffu) return Corrupted("SCALE: " + std::string(what) + " exceeds 32 bits at offset " + std::to_string(at));
  return static_cast<std::uint32_t>(v);
}

Result<std::uint32_t> Decoder::length(std::string_view what, std::size_t min_element_bytes) {
  std::size_t at = pos_;
  TESSERA_ASSIGN_OR_RETURN(auto n, compact_u32(what));
  if (min_element_bytes > 0 && n > remaining() / min_element_bytes)
    return Corrupted("SCALE: " + std::string(what) + " claims " + std::to_string(n) + " elements at offset " +
                     std::to_string(at) + ", more than the " + std::to_string(remaining()) + " bytes left can hold");
  return n;
}

Result<Bytes> Decoder::bytes(std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(auto n, length(what));
  TESSERA_ASSIGN_OR_RETURN(auto b, raw(n, what));
  return Bytes(b.begin(), b.end());
}

Result<std::string> Decoder::str(std::string_view what) {
  TESSERA_ASSIGN_OR_RETURN(auto n, length(what));
  TESSERA_ASSIGN_OR_RETURN(auto b, raw(n, what));
  return std::string(b.begin(), b.end());
}

Status Decoder::expect_end(std::string_view what) const {
  if (!at_end())
    return Corrupted("SCALE: " + std::to_string(remaining()) + " trailing bytes after " + std::string(what));
  return Status::Ok();
}

}  // namespace tessera::substrate
