// SCALE, the byte encoding of every substrate chain: little-endian fixed-width integers,
// compact (variable-length) integers, length-prefixed bytes and sequences, options.
//
// The decoder is for hostile input: every read checks the bytes left, lengths are checked
// against the bytes left before anything is allocated, and each error names what was
// being read and where.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tessera::substrate {

using Bytes = std::vector<std::uint8_t>;
using u128 = unsigned __int128;

std::string hex_of(std::span<const std::uint8_t> bytes, bool prefix = true);  // "0x…"
Result<Bytes> bytes_from_hex(std::string_view hex);                             // "0x" optional
std::string u128_to_string(u128 value);
Result<u128> u128_from_string(std::string_view text);

class Encoder {
 public:
  Encoder& u8(std::uint8_t v);
  Encoder& u16(std::uint16_t v);
  Encoder& u32(std::uint32_t v);
  Encoder& u64(std::uint64_t v);
  Encoder& u128v(u128 v);
  Encoder& fixed_le(u128 v, int width);  // the low `width` bytes, little-endian
  Encoder& compact(u128 v);
  Encoder& boolean(bool v) { return u8(v ? 1 : 0); }
  Encoder& raw(std::span<const std::uint8_t> bytes);
  Encoder& raw(std::string_view bytes);
  Encoder& bytes(std::span<const std::uint8_t> bytes);  // compact length + bytes
  Encoder& str(std::string_view s);                    // same as bytes
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Decoder {
 public:
  explicit Decoder(std::span<const std::uint8_t> data) : data_(data) {}
  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }

  Result<std::uint8_t> u8(std::string_view what);
  Result<std::uint16_t> u16(std::string_view what);
  Result<std::uint32_t> u32(std::string_view what);
  Result<std::uint64_t> u64(std::string_view what);
  Result<u128> fixed_le(int width, std::string_view what);
  Result<u128> compact(std::string_view what);
  // A compact that must fit in 32 bits (lengths, type ids).
  Result<std::uint32_t> compact_u32(std::string_view what);
  Result<bool> boolean(std::string_view what);
  Result<std::span<const std::uint8_t>> raw(std::size_t n, std::string_view what);
  Result<Bytes> bytes(std::string_view what);  // compact length + bytes
  Result<std::string> str(std::string_view what);
  // A sequence length, checked against the bytes left assuming each element takes at
  // least `min_element_bytes` (so a hostile length cannot make a caller reserve memory).
  Result<std::uint32_t> length(std::string_view what, std::size_t min_element_bytes = 1);
  Status expect_end(std::string_view what) const;

 private:
  template <typename T>
  Result<T> uint_le(std::string_view what);
  Status short_read(std::size_t need, std::string_view what) const;
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

}  // namespace tessera::substrate
