#include "gradients/bitstream.h"

#include <bit>
#include <cstring>

static_assert(std::endian::native == std::endian::little, "the bit reader assumes a little-endian host");

namespace tessera::gradients {

void BitWriter::flush_word(std::uint64_t value, unsigned bits) {
  // A full 64-bit word: append it at once and keep the bits that did not fit.
  char word[8];
  for (int i = 0; i < 8; ++i) word[i] = static_cast<char>((acc_ >> (8 * i)) & 0xff);
  bytes_.append(word, 8);
  const unsigned used = 64 - acc_bits_;
  acc_ = used < 64 ? value >> used : 0;
  acc_bits_ = acc_bits_ + bits - 64;
}

std::string BitWriter::finish() {
  while (acc_bits_ > 0) {
    bytes_.push_back(static_cast<char>(acc_ & 0xff));
    acc_ >>= 8;
    acc_bits_ = acc_bits_ > 8 ? acc_bits_ - 8 : 0;
  }
  acc_ = 0;
  return std::move(bytes_);
}

unsigned BitReader::peek(std::uint64_t* value) const {
  const std::uint64_t left = size_bits() - pos_;
  const unsigned n = left < 57 ? static_cast<unsigned>(left) : 57u;
  const std::size_t byte = pos_ / 8;
  std::uint64_t word = 0;
  if (byte + 8 <= bytes_.size()) {
    std::memcpy(&word, bytes_.data() + byte, 8);  // little-endian hosts (checked at build)
  } else {
    for (std::size_t i = byte; i < bytes_.size(); ++i) {
      word |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes_[i])) << (8 * (i - byte));
    }
  }
  word >>= pos_ % 8;
  *value = n == 0 ? 0 : (word & ((1ULL << n) - 1));
  return n;
}

bool BitReader::read(unsigned bits, std::uint64_t* value) {
  if (pos_ + bits > size_bits()) return false;
  std::uint64_t word = 0;
  peek(&word);
  *value = bits == 0 ? 0 : (word & ((1ULL << bits) - 1));
  pos_ += bits;
  return true;
}

bool BitReader::rest_is_zero() {
  while (remaining() > 0) {
    std::uint64_t word = 0;
    const unsigned n = peek(&word);
    if (word != 0) return false;
    pos_ += n;
  }
  return true;
}

}  // namespace tessera::gradients
