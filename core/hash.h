// BLAKE2b-256 (libsodium crypto_generichash, 32-byte output, no key): the one content
// hash of the project — blocks, checkpoints, payloads, commit-reveal.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tessera {

using Hash256 = std::array<std::uint8_t, 32>;

Hash256 blake2b_256(std::span<const std::uint8_t> data);
Hash256 blake2b_256(std::string_view data);

// Incremental hashing for streams and multi-part canonical encodings.
class Blake2b256 {
 public:
  Blake2b256();
  Blake2b256& update(std::span<const std::uint8_t> data);
  Blake2b256& update(std::string_view data);
  Blake2b256& update_u64(std::uint64_t value);  // little-endian, fixed width
  Hash256 finish();

 private:
  alignas(64) unsigned char state_[384];
  bool finished_ = false;
};

std::string to_hex(std::span<const std::uint8_t> bytes);
// Hex of raw bytes held in a string (keys and hashes travel as 32-byte strings in protobuf).
std::string to_hex(std::string_view raw);
Result<std::string> from_hex(std::string_view hex);  // raw bytes in a std::string
// A 32-byte hash or public key, or a 64-byte signature, as a raw byte string.
template <std::size_t N>
std::string raw_bytes(const std::array<std::uint8_t, N>& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace tessera
