#include "gradients/elias_fano.h"

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

void elias_fano_encode(const std::uint32_t* positions, std::uint32_t k, std::uint32_t u, BitWriter* out) {
  const unsigned l = elias_fano_low_bits(k, u);
  for (std::uint32_t i = 0; i < k; ++i) out->write(positions[i], l);
  // High parts: for each position, (high − previous high) zeros then a one. The zeros
  // after the last one are written as padding so that the length is fixed.
  const std::uint64_t max_high = u == 0 ? 0 : (static_cast<std::uint64_t>(u) - 1) >> l;
  std::uint64_t prev = 0;
  for (std::uint32_t i = 0; i < k; ++i) {
    const std::uint64_t high = positions[i] >> l;
    for (std::uint64_t z = prev; z < high; ++z) out->write(0, 1);
    out->write(1, 1);
    prev = high;
  }
  for (std::uint64_t z = prev; z < max_high; ++z) out->write(0, 1);
}

Status elias_fano_decode(BitReader* in, std::uint32_t k, std::uint32_t u, std::uint32_t* positions) {
  const unsigned l = elias_fano_low_bits(k, u);
  const std::uint64_t max_high = u == 0 ? 0 : (static_cast<std::uint64_t>(u) - 1) >> l;
  for (std::uint32_t i = 0; i < k; ++i) {
    std::uint64_t low = 0;
    if (!in->read(l, &low)) return Corrupted("index stream truncated in the low bits");
    positions[i] = static_cast<std::uint32_t>(low);
  }
  std::uint64_t high = 0, zeros_read = 0;
  for (std::uint32_t i = 0; i < k;) {
    std::uint64_t bit = 0;
    if (!in->read(1, &bit)) return Corrupted("index stream truncated in the high bits");
    if (bit == 0) {
      ++high;
      if (++zeros_read > max_high) return Corrupted("index high part exceeds the chunk");
      continue;
    }
    const std::uint64_t pos = (high << l) | positions[i];
    if (pos >= u) return Corrupted("index " + std::to_string(pos) + " out of range for a chunk of " + std::to_string(u));
    if (i > 0 && pos <= positions[i - 1]) {
      return Corrupted("indices not strictly increasing (" + std::to_string(positions[i - 1]) + " then " +
                       std::to_string(pos) + ")");
    }
    positions[i] = static_cast<std::uint32_t>(pos);
    ++i;
  }
  for (; zeros_read < max_high; ++zeros_read) {
    std::uint64_t bit = 0;
    if (!in->read(1, &bit)) return Corrupted("index stream truncated in the padding");
    if (bit != 0) return Corrupted("index stream has more than k positions in a chunk");
  }
  return Status::Ok();
}

}  // namespace tessera::gradients
