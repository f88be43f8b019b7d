// Little-endian, LSB-first bit packing for the codec's sections.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::gradients {

class BitWriter {
 public:
  // bits <= 57. Inline: the codec writes a few bits at a time.
  void write(std::uint64_t value, unsigned bits) {
    if (bits == 0) return;
    value &= bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    acc_ |= value << acc_bits_;
    bits_written_ += bits;
    if (acc_bits_ + bits < 64) {
      acc_bits_ += bits;
      return;
    }
    flush_word(value, bits);
  }
  void reserve(std::size_t bytes) { bytes_.reserve(bytes); }
  void write_unary_one() { write(1, 1); }
  // Pads to a byte boundary with zero bits and returns the bytes.
  std::string finish();
  std::uint64_t bit_count() const { return bits_written_; }

 private:
  void flush_word(std::uint64_t value, unsigned bits);
  std::string bytes_;
  std::uint64_t acc_ = 0;
  unsigned acc_bits_ = 0;
  std::uint64_t bits_written_ = 0;
};

class BitReader {
 public:
  explicit BitReader(std::string_view bytes) : bytes_(bytes) {}
  // Reads `bits` (<= 57) bits; returns false when fewer remain.
  bool read(unsigned bits, std::uint64_t* value);
  // The next min(57, remaining) bits without consuming them; returns how many.
  unsigned peek(std::uint64_t* value) const;
  void skip(std::uint64_t bits) { pos_ += bits; }
  std::uint64_t remaining() const { return size_bits() - pos_; }
  // True when every bit left is zero (consumes them).
  bool rest_is_zero();
  std::uint64_t position() const { return pos_; }
  std::uint64_t size_bits() const { return bytes_.size() * 8; }

 private:
  std::string_view bytes_;
  std::uint64_t pos_ = 0;
};

// Bytes needed for `bits` bits.
inline std::uint64_t bytes_for_bits(std::uint64_t bits) { return (bits + 7) / 8; }

}  // namespace tessera::gradients
