// The hashes substrate uses for storage keys and signing payloads: xxHash64 in 64/128/256
// bit variants (libxxhash; seeds 0,1,2,3 per 8-byte lane) and BLAKE2b-128/256 (libsodium).
#pragma once

#include <span>
#include <string_view>

#include "chain-bridge/substrate/scale.h"

namespace tessera::substrate {

enum class StorageHasher : std::uint8_t {
  kBlake2_128 = 0,
  kBlake2_256 = 1,
  kBlake2_128Concat = 2,
  kTwox128 = 3,
  kTwox256 = 4,
  kTwox64Concat = 5,
  kIdentity = 6,
};
const char* hasher_name(StorageHasher h);

Bytes twox(std::span<const std::uint8_t> data, int bits);  // 64, 128 or 256
Bytes twox(std::string_view data, int bits);
Bytes blake2(std::span<const std::uint8_t> data, int bits);  // 128, 256 or 512
Bytes blake2(std::string_view data, int bits);
// The hasher applied to an encoded key, as a storage map key part ("concat" hashers
// append the key itself).
Bytes apply_hasher(StorageHasher h, std::span<const std::uint8_t> encoded_key);
// twox128(pallet) ++ twox128(entry): the key of a plain value, the prefix of a map.
Bytes storage_prefix(std::string_view pallet, std::string_view entry);

}  // namespace tessera::substrate
