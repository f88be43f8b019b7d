// A portable, reproducible PRNG (xoshiro256**, seeded through SplitMix64) with unbiased
// bounded draws. Unlike std::uniform_int_distribution its output is specified, so page
// assignments and sampled batches are identical on every machine and compiler.
#pragma once

#include <cstdint>
#include <string_view>

namespace tessera {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  // Seeds from BLAKE2b-256 of (domain, a, b, c): independent streams per purpose.
  static Rng derive(std::string_view domain, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0);

  std::uint64_t next_u64();
  // Uniform in [0, bound), bound > 0 (Lemire's multiply-and-reject, no modulo bias).
  std::uint64_t uniform(std::uint64_t bound);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform_double();

 private:
  std::uint64_t s_[4];
};

}  // namespace tessera
