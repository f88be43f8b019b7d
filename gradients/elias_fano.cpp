#include "gradients/elias_fano.h"

#include <algorithm>
#include <bit>

namespace tessera::gradients {

unsigned elias_fano_low_bits(std::uint32_t k, std::uint32_t u) {
  if (k == 0 || u <= k) return 0;
  unsigned l = 0;
  while ((static_cast<std::uint64_t>(k) << (l + 1)) <= u) ++l;
  return l;
}

std::uint64_t elias_fano_bits(std::uint32_t k, std::uint32_t u) {
  const unsigned l = elias_fano_low_bits(k, u);
  const std::uint64_t max_high = u == 0 ? 0 : (static_cast<std::uint64_t>(u) - 1) >> l;
  return static_cast<std::uint64_t>(k) * l + k + max_high;
}

namespace {
void write_zeros(BitWriter* out, std::uint64_t n) {
  for (; n >= 57; n -= 57) out->write(0, 57);
  out->write(0, static_cast<unsigned>(n));
}
}  // namespace

void elias_fano_encode(const std::uint32_t* positions, std::uint32_t k, std::uint32_t u, BitWriter* out) {
  const unsigned l = elias_fano_low_bits(k, u);
  for (std::uint32_t i = 0; i < k; ++i) out->write(positions[i], l);
  // High parts: for each position, (high − previous high) zeros then a one. The zeros
  // after the last one are written as padding so that the length is fixed.
  const std::uint64_t max_high = u == 0 ? 0 : (static_cast<std::uint64_t>(u) - 1) >> l;
  std::uint64_t prev = 0;
  for (std::uint32_t i = 0; i < k; ++i) {
    const std::uint64_t high = positions[i] >> l;
    const std::uint64_t gap = high - prev;
    if (gap < 57) {
      out->write(std::uint64_t{1} << gap, static_cast<unsigned>(gap + 1));  // the zeros and the one at once
    } else {
      write_zeros(out, gap);
      out->write(1, 1);
    }
    prev = high;
  }
  write_zeros(out, max_high - prev);
}

Status elias_fano_decode(BitReader* in, std::uint32_t k, std::uint32_t u, std::uint32_t* positions) {
  const unsigned l = elias_fano_low_bits(k, u);
  const std::uint64_t max_high = u == 0 ? 0 : (static_cast<std::uint64_t>(u) - 1) >> l;
  for (std::uint32_t i = 0; i < k; ++i) {
    std::uint64_t low = 0;
    if (!in->read(l, &low)) return Corrupted("index stream truncated in the low bits");
    positions[i] = static_cast<std::uint32_t>(low);
  }
  // High parts: runs of zeros ended by a one, read 57 bits at a time.
  std::uint64_t high = 0;
  for (std::uint32_t i = 0; i < k;) {
    std::uint64_t word = 0;
    const unsigned avail = in->peek(&word);
    if (avail == 0) return Corrupted("index stream truncated in the high bits");
    if (word == 0) {
      high += avail;
      if (high > max_high) return Corrupted("index high part exceeds the chunk");
      in->skip(avail);
      continue;
    }
    const unsigned zeros = static_cast<unsigned>(std::countr_zero(word));
    high += zeros;
    if (high > max_high) return Corrupted("index high part exceeds the chunk");
    in->skip(zeros + 1);
    const std::uint64_t pos = (high << l) | positions[i];
    if (pos >= u) return Corrupted("index " + std::to_string(pos) + " out of range for a chunk of " + std::to_string(u));
    if (i > 0 && pos <= positions[i - 1]) {
      return Corrupted("indices not strictly increasing (" + std::to_string(positions[i - 1]) + " then " +
                       std::to_string(pos) + ")");
    }
    positions[i] = static_cast<std::uint32_t>(pos);
    ++i;
  }
  // The zeros after the last one, up to max_high.
  for (std::uint64_t left = max_high - high; left > 0;) {
    std::uint64_t word = 0;
    const unsigned avail = in->peek(&word);
    if (avail == 0) return Corrupted("index stream truncated in the padding");
    const unsigned take = static_cast<unsigned>(std::min<std::uint64_t>(left, avail));
    if (take < 64 && (word & ((1ULL << take) - 1)) != 0) return Corrupted("index stream has more than k positions in a chunk");
    in->skip(take);
    left -= take;
  }
  return Status::Ok();
}

}  // namespace tessera::gradients
