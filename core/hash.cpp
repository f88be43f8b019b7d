#include "core/hash.h"

#include <sodium.h>

#include <cstring>

#include "core/sodium_init.h"

namespace tessera {

static_assert(sizeof(crypto_generichash_state) <= 384, "state buffer too small");

Hash256 blake2b_256(std::span<const std::uint8_t> data) {
  ensure_sodium();
  Hash256 out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  return out;
}

Hash256 blake2b_256(std::string_view data) {
  return blake2b_256(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Blake2b256::Blake2b256() {
  ensure_sodium();
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_), nullptr, 0, 32);
}

Blake2b256& Blake2b256::update(std::span<const std::uint8_t> data) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_), data.data(),
                            data.size());
  return *this;
}

Blake2b256& Blake2b256::update(std::string_view data) {
  return update(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Blake2b256& Blake2b256::update_u64(std::uint64_t value) {
  std::uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
  return update(std::span<const std::uint8_t>(bytes, 8));
}

Hash256 Blake2b256::finish() {
  Hash256 out{};
  if (!finished_) {
    crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_), out.data(),
                             out.size());
    finished_ = true;
  }
  return out;
}

std::string to_hex(std::string_view raw) {
  return to_hex(std::span(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

Result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("hex string has odd length " + std::to_string(hex.size()));
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("invalid hex character at position " + std::to_string(2 * i));
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace tessera
