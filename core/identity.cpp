#include "core/identity.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/hash.h"
#include "core/sodium_init.h"

namespace tessera {

namespace fs = std::filesystem;

Keypair Keypair::generate() {
  ensure_sodium();
  std::array<std::uint8_t, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  Keypair key = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

Keypair Keypair::from_seed(std::span<const std::uint8_t, 32> seed) {
  ensure_sodium();
  Keypair key;
  std::copy(seed.begin(), seed.end(), key.seed_.begin());
  crypto_sign_seed_keypair(key.public_key_.data(), key.secret_key_.data(), key.seed_.data());
  return key;
}

std::string Keypair::public_hex() const { return to_hex(public_key_); }

Signature Keypair::sign(std::span<const std::uint8_t> message) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key_.data());
  return sig;
}

Signature Keypair::sign(std::string_view message) const {
  return sign(std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
}

bool verify_signature(const PublicKey& key, std::span<const std::uint8_t> message,
                      const Signature& signature) {
  ensure_sodium();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     key.data()) == 0;
}

bool verify_signature(const PublicKey& key, std::string_view message, const Signature& signature) {
  return verify_signature(
      key, std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()),
      signature);
}

Result<PublicKey> public_key_from_hex(std::string_view hex) {
  TESSERA_ASSIGN_OR_RETURN(std::string raw, from_hex(hex));
  if (raw.size() != 32) {
    return InvalidArgument("public key must be 32 bytes (64 hex digits), got " +
                           std::to_string(raw.size()) + " bytes");
  }
  PublicKey key{};
  std::copy(raw.begin(), raw.end(), key.begin());
  return key;
}

Status save_key_file(const fs::path& path, const Keypair& key) {
  if (fs::exists(path)) return AlreadyExists("key file already exists: " + path.string());
  nlohmann::json doc = {
      {"type", "ed25519"},
      {"public_key", key.public_hex()},
      {"secret_seed", to_hex(key.seed())},
  };
  return write_file_atomic(path, doc.dump(2) + "\n", 0600);
}

Result<Keypair> load_key_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NotFound("no key file at " + path.string());
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return PermissionDenied("key file " + path.string() + " has mode " + mode +
                            ", readable or writable by others; refusing to use it "
                            "(run: chmod 600 " + path.string() + ")");
  }
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(path));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Corrupted("key file " + path.string() + " is not valid JSON");
  if (doc.value("type", "") != "ed25519") return Corrupted("key file " + path.string() + ": type must be \"ed25519\"");
  if (!doc.contains("secret_seed") || !doc["secret_seed"].is_string() ||
      !doc.contains("public_key") || !doc["public_key"].is_string()) {
    return Corrupted("key file " + path.string() + ": missing secret_seed or public_key");
  }
  auto seed = from_hex(doc["secret_seed"].get<std::string>());
  if (!seed.ok() || seed->size() != 32) return Corrupted("key file " + path.string() + ": secret_seed must be 64 hex digits");
  std::array<std::uint8_t, 32> seed_bytes{};
  std::copy(seed->begin(), seed->end(), seed_bytes.begin());
  Keypair key = Keypair::from_seed(seed_bytes);
  sodium_memzero(seed_bytes.data(), seed_bytes.size());
  if (key.public_hex() != doc["public_key"].get<std::string>()) {
    return Corrupted("key file " + path.string() + ": public_key does not match secret_seed");
  }
  return key;
}

fs::path default_tessera_home() {
  if (const char* home = std::getenv("TESSERA_HOME"); home && *home) return home;
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".tessera";
  return fs::current_path() / ".tessera";
}

fs::path wallet_dir(const fs::path& home, const std::string& name) {
  return home / "wallets" / name;
}

namespace {
Status check_wallet_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return InvalidArgument("wallet name must be 1..64 characters");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return InvalidArgument("wallet name '" + name + "' may only contain letters, digits, '-', '_' and '.'");
    }
  }
  if (name == "." || name == "..") return InvalidArgument("wallet name '" + name + "' is reserved");
  return Status::Ok();
}
}  // namespace

Result<Wallet> create_wallet(const fs::path& home, const std::string& name) {
  TESSERA_RETURN_IF_ERROR(check_wallet_name(name));
  const fs::path dir = wallet_dir(home, name);
  if (fs::exists(dir / "coldkey") || fs::exists(dir / "hotkey")) {
    return AlreadyExists("wallet '" + name + "' already exists at " + dir.string());
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return IoError("chmod " + dir.string() + ": " + ec.message());
  Wallet wallet{name, Keypair::generate(), Keypair::generate()};
  TESSERA_RETURN_IF_ERROR(save_key_file(dir / "coldkey", wallet.coldkey));
  TESSERA_RETURN_IF_ERROR(save_key_file(dir / "hotkey", wallet.hotkey));
  return wallet;
}

Result<Wallet> load_wallet(const fs::path& home, const std::string& name) {
  TESSERA_RETURN_IF_ERROR(check_wallet_name(name));
  const fs::path dir = wallet_dir(home, name);
  if (!fs::exists(dir)) {
    return NotFound("no wallet '" + name + "' in " + (home / "wallets").string() +
                    " (create one with: tessera wallet create --name " + name + ")");
  }
  TESSERA_ASSIGN_OR_RETURN(Keypair cold, load_key_file(dir / "coldkey"));
  TESSERA_ASSIGN_OR_RETURN(Keypair hot, load_key_file(dir / "hotkey"));
  return Wallet{name, std::move(cold), std::move(hot)};
}

}  // namespace tessera
