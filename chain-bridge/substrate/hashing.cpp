#include "chain-bridge/substrate/hashing.h"

#include <sodium.h>
#include <xxhash.h>

namespace tessera::substrate {

const char* hasher_name(StorageHasher h) {
  switch (h) {
    case StorageHasher::kBlake2_128: return "Blake2_128";
    case StorageHasher::kBlake2_256: return "Blake2_256";
    case StorageHasher::kBlake2_128Concat: return "Blake2_128Concat";
    case StorageHasher::kTwox128: return "Twox128";
    case StorageHasher::kTwox256: return "Twox256";
    case StorageHasher::kTwox64Concat: return "Twox64Concat";
    case StorageHasher::kIdentity: return "Identity";
  }
  return "?";
}

Bytes twox(std::span<const std::uint8_t> data, int bits) {
  Bytes out;
  for (unsigned long long seed = 0; seed < static_cast<unsigned>(bits / 64); ++seed) {
    XXH64_hash_t h = XXH64(data.data(), data.size(), seed);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(h >> (8 * i)));
  }
  return out;
}
Bytes twox(std::string_view data, int bits) {
  return twox(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), bits);
}

Bytes blake2(std::span<const std::uint8_t> data, int bits) {
  Bytes out(static_cast<std::size_t>(bits / 8));
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  return out;
}
Bytes blake2(std::string_view data, int bits) {
  return blake2(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), bits);
}

Bytes apply_hasher(StorageHasher h, std::span<const std::uint8_t> key) {
  Bytes out;
  switch (h) {
    case StorageHasher::kBlake2_128: return blake2(key, 128);
    case StorageHasher::kBlake2_256: return blake2(key, 256);
    case StorageHasher::kBlake2_128Concat: out = blake2(key, 128); break;
    case StorageHasher::kTwox128: return twox(key, 128);
    case StorageHasher::kTwox256: return twox(key, 256);
    case StorageHasher::kTwox64Concat: out = twox(key, 64); break;
    case StorageHasher::kIdentity: break;
  }
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

Bytes storage_prefix(std::string_view pallet, std::string_view entry) {
  Bytes out = twox(pallet, 128);
  Bytes second = twox(entry, 128);
  out.insert(out.end(), second.begin(), second.end());
  return out;
}

}  // namespace tessera::substrate
