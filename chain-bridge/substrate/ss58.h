// SS58 addresses: base58(prefix ++ public key ++ first 2 bytes of
// BLAKE2b-512("SS58PRE" ++ prefix ++ public key)). Bittensor uses prefix 42; only the
// one-byte prefixes (0..63) are supported.
#pragma once

#include <string>
#include <string_view>

#include "core/identity.h"
#include "core/status.h"

namespace tessera::substrate {

inline constexpr std::uint16_t kBittensorSs58Prefix = 42;

std::string ss58_encode(const PublicKey& key, std::uint16_t prefix = kBittensorSs58Prefix);
// Decodes and checks the checksum and the prefix (any prefix when `expected_prefix` < 0).
Result<PublicKey> ss58_decode(std::string_view address, int expected_prefix = kBittensorSs58Prefix);
// A key as a user may type it: an SS58 address or 64 hex digits (with or without "0x").
Result<PublicKey> parse_public_key(std::string_view text);

}  // namespace tessera::substrate
