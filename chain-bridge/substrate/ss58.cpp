#include "chain-bridge/substrate/ss58.h"

#include <algorithm>
#include <cstring>

#include "chain-bridge/substrate/hashing.h"
#include "chain-bridge/substrate/scale.h"

namespace tessera::substrate {
namespace {

constexpr char kAlphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

std::string base58_encode(const Bytes& in) {
  std::size_t zeros = 0;
  while (zeros < in.size() && in[zeros] == 0) ++zeros;
  std::vector<std::uint8_t> digits;  // base 58, little-endian
  for (std::size_t i = zeros; i < in.size(); ++i) {
    unsigned carry = in[i];
    for (auto& d : digits) {
      carry += static_cast<unsigned>(d) << 8;
      d = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<std::uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kAlphabet[*it]);
  return out;
}

Result<Bytes> base58_decode(std::string_view text) {
  if (text.size() > 64) return InvalidArgument("not an SS58 address: " + std::to_string(text.size()) + " characters");
  std::size_t zeros = 0;
  while (zeros < text.size() && text[zeros] == '1') ++zeros;
  Bytes bytes;  // base 256, little-endian
  for (std::size_t i = zeros; i < text.size(); ++i) {
    const char* p = std::strchr(kAlphabet, text[i]);
    if (p == nullptr || text[i] == '\0')
      return InvalidArgument("not an SS58 address: '" + std::string(1, text[i]) + "' is not a base58 character");
    unsigned carry = static_cast<unsigned>(p - kAlphabet);
    for (auto& b : bytes) {
      carry += static_cast<unsigned>(b) * 58;
      b = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<std::uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  Bytes out(zeros, 0);
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

Bytes checksum(const Bytes& body) {
  Encoder pre;
  pre.raw(std::string_view("SS58PRE")).raw(body);
  Bytes h = blake2(pre.data(), 512);
  return Bytes(h.begin(), h.begin() + 2);
}

}  // namespace

std::string ss58_encode(const PublicKey& key, std::uint16_t prefix) {
  Encoder body;
  body.u8(static_cast<std::uint8_t>(prefix & 0x3f)).raw(key);
  Bytes sum = checksum(body.data());
  return base58_encode(body.raw(sum).take());
}

Result<PublicKey> ss58_decode(std::string_view address, int expected_prefix) {
  TESSERA_ASSIGN_OR_RETURN(auto raw, base58_decode(address));
  constexpr std::size_t prefix_len = 1;
  if (!raw.empty() && raw[0] >= 64)
    return InvalidArgument("SS58 address '" + std::string(address) + "' uses a two-byte network prefix (not Bittensor's)");
  if (raw.size() != prefix_len + 32 + 2)
    return InvalidArgument("SS58 address '" + std::string(address) + "' does not hold a 32-byte public key");
  int prefix = raw[0];
  Bytes body(raw.begin(), raw.end() - 2);
  Bytes sum = checksum(body);
  if (sum[0] != raw[raw.size() - 2] || sum[1] != raw[raw.size() - 1])
    return InvalidArgument("SS58 address '" + std::string(address) + "' has a wrong checksum (mistyped?)");
  if (expected_prefix >= 0 && prefix != expected_prefix)
    return InvalidArgument("SS58 address '" + std::string(address) + "' is for network prefix " + std::to_string(prefix) +
                           ", not " + std::to_string(expected_prefix) + " (Bittensor)");
  PublicKey key{};
  std::copy(body.begin() + static_cast<std::ptrdiff_t>(prefix_len), body.end(), key.begin());
  return key;
}

Result<PublicKey> parse_public_key(std::string_view text) {
  std::string_view hex = text;
  if (hex.starts_with("0x")) hex.remove_prefix(2);
  if (hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
    return public_key_from_hex(hex);
  auto key = ss58_decode(text);
  if (!key.ok()) {
    std::string message = "'";
    message.append(text).append("' is neither a 64-digit hex public key nor an SS58 address: ").append(key.status().message());
    return InvalidArgument(message);
  }
  return key;
}

}  // namespace tessera::substrate
