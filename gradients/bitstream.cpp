#include "gradients/bitstream.h"

namespace tessera::gradients {

void BitWriter::write(std::uint64_t value, unsigned bits) {
  if (bits == 0) return;
  value &= (bits == 64) ? ~0ULL : ((1ULL << bits) - 1);
  acc_ |= value << acc_bits_;
  acc_bits_ += bits;
  bits_written_ += bits;
  while (acc_bits_ >= 8) {
    bytes_.push_back(static_cast<char>(acc_ & 0xff));
    acc_ >>= 8;
    acc_bits_ -= 8;
  }
}

std::string BitWriter::finish() {
  if (acc_bits_ > 0) {
    bytes_.push_back(static_cast<char>(acc_ & 0xff));
    acc_ = 0;
    acc_bits_ = 0;
  }
  return std::move(bytes_);
}

bool BitReader::read(unsigned bits, std::uint64_t* value) {
  if (pos_ + bits > size_bits()) return false;
  std::uint64_t out = 0;
  for (unsigned got = 0; got < bits;) {
    const std::uint64_t byte = static_cast<std::uint8_t>(bytes_[pos_ / 8]);
    const unsigned offset = pos_ % 8;
    const unsigned take = std::min(8 - offset, bits - got);
    out |= ((byte >> offset) & ((1u << take) - 1)) << got;
    got += take;
    pos_ += take;
  }
  *value = out;
  return true;
}

}  // namespace tessera::gradients
