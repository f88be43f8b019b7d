// ed25519 identities (libsodium) and wallet files.
//
// A wallet is a folder `<home>/wallets/<name>/` (mode 0700) with two key files, `coldkey`
// (owns funds, creates subnets, stakes) and `hotkey` (the identity a miner or validator
// signs its messages with). Each key file is JSON holding the 32-byte seed and the public
// key, written atomically with mode 0600. A key file that group or others can read is
// refused: a leaked secret key cannot be revoked.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "core/status.h"

namespace tessera {

using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

class Keypair {
 public:
  static Keypair generate();
  static Keypair from_seed(std::span<const std::uint8_t, 32> seed);

  const PublicKey& public_key() const { return public_key_; }
  std::string public_hex() const;
  Signature sign(std::span<const std::uint8_t> message) const;
  Signature sign(std::string_view message) const;
  const std::array<std::uint8_t, 32>& seed() const { return seed_; }

 private:
  std::array<std::uint8_t, 32> seed_{};
  PublicKey public_key_{};
  std::array<std::uint8_t, 64> secret_key_{};
};

bool verify_signature(const PublicKey& key, std::span<const std::uint8_t> message,
                      const Signature& signature);
bool verify_signature(const PublicKey& key, std::string_view message, const Signature& signature);

Result<PublicKey> public_key_from_hex(std::string_view hex);

// Writes a key file (0600, atomic). Refuses to overwrite an existing file.
Status save_key_file(const std::filesystem::path& path, const Keypair& key);
// Reads a key file; refuses files readable or writable by group/others, names the file
// and its mode in the error, and checks that the stored public key matches the seed.
Result<Keypair> load_key_file(const std::filesystem::path& path);

struct Wallet {
  std::string name;
  Keypair coldkey;
  Keypair hotkey;
};

// `$TESSERA_HOME`, else `$HOME/.tessera`.
std::filesystem::path default_tessera_home();
std::filesystem::path wallet_dir(const std::filesystem::path& home, const std::string& name);

Result<Wallet> create_wallet(const std::filesystem::path& home, const std::string& name);
Result<Wallet> load_wallet(const std::filesystem::path& home, const std::string& name);

}  // namespace tessera
