#include "checkpoints/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "core/blake3.h"
#include "core/file_io.h"
#include "core/hash.h"

namespace tessera::checkpoints {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kSignDomain{"tessera-checkpoint/1\0", 21};
// Format 2: tensor hashes are BLAKE3 (format 1 used BLAKE2b for them too).
constexpr const char* kFormat = "tessera-checkpoint/2";

std::string hex(std::span<const std::uint8_t> b) { return to_hex(b); }

nlohmann::ordered_json canonical_json(const Manifest& m) {
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["run_id"] = m.run_id;
  j["window"] = m.window;
  j["origin_window"] = m.origin_window;
  j["parent"] = m.parent;
  j["model"] = m.model;
  j["outer"] = m.outer;
  j["accepted"] = nlohmann::ordered_json::array();
  for (const auto& a : m.accepted) {
    j["accepted"].push_back({{"uid", a.uid}, {"hotkey", a.hotkey}, {"payload_hash", a.payload_hash}, {"score", a.score}});
  }
  j["tensors"] = nlohmann::ordered_json::array();
  for (const auto& t : m.tensors) j["tensors"].push_back({{"name", t.name}, {"shape", t.shape}, {"hash", t.hash}});
  return j;
}

// What the aggregator signs: the domain, then the content hash's 32 bytes (the hash is
// already computed; no second pass over the manifest).
std::string signing_bytes(const std::string& hash_hex) { return std::string(kSignDomain) + from_hex(hash_hex).value(); }
}  // namespace

void Manifest::sign(const Keypair& key) {
  signer = key.public_hex();
  signature = hex(key.sign(signing_bytes(content_hash())));
}

bool is_checkpoint_hash(const std::string& h) {
  return h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string tensor_hash(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous().cpu();
  const Hash256 h = blake3_256(std::string_view(reinterpret_cast<const char*>(c.data_ptr<float>()),
                                                 static_cast<std::size_t>(c.numel()) * 4));
  return hex(h);
}

std::string Manifest::canonical() const { return canonical_json(*this).dump(); }

std::string Manifest::content_hash() const { return hex(blake2b_256(canonical())); }

std::string Manifest::to_json() const {
  auto j = canonical_json(*this);
  j["signer"] = signer;
  j["signature"] = signature;
  return j.dump(2);
}

Result<Manifest> Manifest::from_json(const std::string& text) {
  Manifest m;
  try {
    const auto j = nlohmann::json::parse(text);
    const auto format = j.at("format").get<std::string>();
    if (format == "tessera-checkpoint/1") {
      return Corrupted("manifest: format tessera-checkpoint/1 (BLAKE2b tensor hashes) is no longer read; this "
                       "tessera writes and reads tessera-checkpoint/2 (BLAKE3 tensor hashes)");
    }
    if (format != kFormat) return Corrupted("manifest: unknown format '" + format + "'");
    m.run_id = j.at("run_id").get<std::string>();
    m.window = j.at("window").get<std::uint64_t>();
    m.origin_window = j.at("origin_window").get<std::uint64_t>();
    m.parent = j.at("parent").get<std::string>();
    m.model = j.at("model").get<std::string>();
    m.outer = j.at("outer").get<std::string>();
    for (const auto& a : j.at("accepted")) {
      m.accepted.push_back({a.at("uid").get<std::uint32_t>(), a.at("hotkey").get<std::string>(),
                            a.at("payload_hash").get<std::string>(), a.at("score").get<double>()});
    }
    for (const auto& t : j.at("tensors")) {
      m.tensors.push_back({t.at("name").get<std::string>(), t.at("shape").get<std::vector<std::int64_t>>(),
                           t.at("hash").get<std::string>()});
    }
    m.signer = j.at("signer").get<std::string>();
    m.signature = j.at("signature").get<std::string>();
  } catch (const std::exception& e) {
    return Corrupted(std::string("manifest: ") + e.what());
  }
  return m;
}

Result<CheckpointStore> CheckpointStore::open(const fs::path& root, Retention retention) {
  std::error_code ec;
  fs::create_directories(root / "objects", ec);
  if (!ec) fs::create_directories(root / "tmp", ec);
  if (ec) return IoError("cannot create checkpoint store " + root.string() + ": " + ec.message());
  // Half-written checkpoints of a crashed writer never reached objects/: drop them.
  for (const auto& e : fs::directory_iterator(root / "tmp")) fs::remove_all(e.path(), ec);
  CheckpointStore s;
  s.root_ = root;
  s.retention_ = retention;
  return s;
}

Status Manifest::set_tensors(const NamedTensors& model) {
  tensors.clear();
  for (const auto& [name, t] : model) {
    if (t.scalar_type() != torch::kFloat) return InvalidArgument("tensor " + name + " is not float32");
    tensors.push_back({name, t.sizes().vec(), tensor_hash(t)});
  }
  return Status::Ok();
}

Status CheckpointStore::put_blob(const std::string& hash, std::string_view bytes) {
  if (!is_checkpoint_hash(hash)) return InvalidArgument("'" + hash + "' is not a blob hash (64 hex digits)");
  if (to_hex(blake2b_256(bytes)) != hash) return InvalidArgument("blob bytes do not hash to " + hash.substr(0, 16) + "…");
  const fs::path path = root_ / "blobs" / hash;
  if (fs::exists(path)) return Status::Ok();
  std::error_code ec;
  fs::create_directories(root_ / "blobs", ec);
  if (ec) return IoError("cannot create " + (root_ / "blobs").string() + ": " + ec.message());
  return write_file_atomic(path, bytes, 0644);
}

Result<std::string> CheckpointStore::get_blob(const std::string& hash) const {
  if (!is_checkpoint_hash(hash)) return InvalidArgument("'" + hash + "' is not a blob hash (64 hex digits)");
  const fs::path path = root_ / "blobs" / hash;
  if (!fs::exists(path)) return NotFound("no blob " + hash.substr(0, 16) + "… in " + root_.string());
  TESSERA_ASSIGN_OR_RETURN(std::string data, read_file(path));
  if (to_hex(blake2b_256(data)) != hash) return Corrupted("blob " + path.string() + " does not match its hash");
  return data;
}

Status CheckpointStore::put_update(const std::string& child, std::string_view bytes) {
  if (!is_checkpoint_hash(child)) return InvalidArgument("'" + child + "' is not a checkpoint hash");
  std::error_code ec;
  fs::create_directories(root_ / "updates", ec);
  if (ec) return IoError("cannot create " + (root_ / "updates").string() + ": " + ec.message());
  return write_file_atomic(root_ / "updates" / (child + ".pb"), bytes, 0644);
}

Result<std::string> CheckpointStore::get_update(const std::string& child) const {
  if (!is_checkpoint_hash(child)) return InvalidArgument("'" + child + "' is not a checkpoint hash");
  const fs::path path = root_ / "updates" / (child + ".pb");
  if (!fs::exists(path)) return NotFound("no update to " + child.substr(0, 16) + "…");
  return read_file(path);
}

Result<std::string> CheckpointStore::put(const NamedTensors& tensors, Manifest m, const Keypair& signer) {
  TESSERA_RETURN_IF_ERROR(m.set_tensors(tensors));
  const std::string hash = m.content_hash();
  m.sign(signer);
  const fs::path final_dir = root_ / "objects" / hash;
  if (!fs::exists(final_dir)) {
    static std::atomic<std::uint64_t> counter{0};
    const fs::path staging = root_ / "tmp" / (hash + "." + std::to_string(::getpid()) + "." + std::to_string(counter++));
    std::error_code ec;
    fs::create_directories(staging, ec);
    if (ec) return IoError("cannot create " + staging.string() + ": " + ec.message());
    TESSERA_RETURN_IF_ERROR(write_safetensors(staging / "model.safetensors", tensors, {{"checkpoint", hash}}));
    TESSERA_RETURN_IF_ERROR(write_file_atomic(staging / "manifest.json", m.to_json(), 0644));
    TESSERA_RETURN_IF_ERROR(fsync_directory(staging));
    fs::rename(staging, final_dir, ec);
    if (ec) {
      fs::remove_all(staging, ec);
      if (!fs::exists(final_dir)) return IoError("cannot move checkpoint into " + final_dir.string());
    }
    TESSERA_RETURN_IF_ERROR(fsync_directory(root_ / "objects"));
  }
  TESSERA_RETURN_IF_ERROR(write_file_atomic(root_ / "latest", hash + "\n", 0644));
  TESSERA_RETURN_IF_ERROR(apply_retention());
  return hash;
}

Result<Checkpoint> CheckpointStore::get(const std::string& hash) const {
  if (!is_checkpoint_hash(hash)) return InvalidArgument("'" + hash + "' is not a checkpoint hash (64 hex digits)");
  const fs::path dir = root_ / "objects" / hash;
  if (!fs::exists(dir)) return NotFound("no checkpoint " + hash.substr(0, 16) + "… in " + root_.string());
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(dir / "manifest.json"));
  TESSERA_ASSIGN_OR_RETURN(Manifest m, Manifest::from_json(text));
  TESSERA_ASSIGN_OR_RETURN(SafetensorsFile file, read_safetensors(dir / "model.safetensors"));
  TESSERA_RETURN_IF_ERROR(verify_checkpoint(m, hash, file.tensors));
  return Checkpoint{std::move(m), std::move(file.tensors), hash};
}

namespace {
std::string checkpoint_at(const std::string& hash) { return "checkpoint " + hash.substr(0, 16) + "…: "; }
}  // namespace

Status verify_checkpoint(const Manifest& m, const std::string& hash, const NamedTensors& tensors,
                         const std::vector<std::string>* tensor_hashes, const std::string& expected_signer) {
  TESSERA_RETURN_IF_ERROR(verify_manifest(m, hash, expected_signer));
  return verify_tensors(m, hash, tensors, tensor_hashes);
}

Status verify_manifest(const Manifest& m, const std::string& hash, const std::string& expected_signer) {
  const std::string at = checkpoint_at(hash);
  if (m.content_hash() != hash) return Corrupted(at + "manifest does not hash to its name");
  if (!expected_signer.empty() && m.signer != expected_signer) {
    return PermissionDenied(at + "signed by " + m.signer.substr(0, 16) + "…, but the chain says " +
                            expected_signer.substr(0, 16) + "… announced it");
  }
  TESSERA_ASSIGN_OR_RETURN(PublicKey signer, public_key_from_hex(m.signer));
  TESSERA_ASSIGN_OR_RETURN(std::string sig_raw, from_hex(m.signature));
  if (sig_raw.size() != 64) return Corrupted(at + "bad signature length");
  Signature sig;
  std::copy(sig_raw.begin(), sig_raw.end(), sig.begin());
  if (!verify_signature(signer, signing_bytes(hash), sig)) {
    return Corrupted(at + "signature does not verify");
  }
  return Status::Ok();
}

Status verify_tensors(const Manifest& m, const std::string& hash, const NamedTensors& tensors,
                      const std::vector<std::string>* tensor_hashes) {
  const std::string at = checkpoint_at(hash);
  if (tensors.size() != m.tensors.size()) {
    return Corrupted(at + "manifest lists " + std::to_string(m.tensors.size()) + " tensors, the file holds " +
                     std::to_string(tensors.size()));
  }
  for (std::size_t i = 0; i < m.tensors.size(); ++i) {
    const auto& want = m.tensors[i];
    const auto& [name, t] = tensors[i];
    if (name != want.name || t.sizes().vec() != want.shape) return Corrupted(at + "tensor " + want.name + " missing or reshaped");
    const std::string got = tensor_hashes && i < tensor_hashes->size() ? (*tensor_hashes)[i] : tensor_hash(t);
    if (got != want.hash) return Corrupted(at + "tensor " + name + " does not match its hash");
  }
  return Status::Ok();
}

Result<std::string> CheckpointStore::latest() const {
  if (!fs::exists(root_ / "latest")) return NotFound("checkpoint store " + root_.string() + " is empty");
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(root_ / "latest"));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!is_checkpoint_hash(text)) return Corrupted(root_.string() + "/latest does not hold a checkpoint hash");
  return text;
}

std::vector<std::string> CheckpointStore::list() const {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(root_ / "objects")) {
    const std::string name = e.path().filename().string();
    if (is_checkpoint_hash(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status CheckpointStore::apply_retention() {
  // (window, hash) of every stored checkpoint, newest first.
  std::vector<std::pair<std::uint64_t, std::string>> all;
  std::map<std::string, std::vector<std::string>> blobs_of;  // checkpoint → payload hashes it lists
  for (const auto& h : list()) {
    auto text = read_file(root_ / "objects" / h / "manifest.json");
    if (!text.ok()) continue;
    auto m = Manifest::from_json(*text);
    if (!m.ok()) continue;
    all.emplace_back(m->window, h);
    for (const auto& a : m->accepted) blobs_of[h].push_back(a.payload_hash);
  }
  std::sort(all.begin(), all.end(), std::greater<>());
  auto latest_hash = latest();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& [window, h] = all[i];
    const bool keep = i < retention_.keep_last || (retention_.keep_every > 0 && window % retention_.keep_every == 0) ||
                      (latest_hash.ok() && *latest_hash == h);
    if (keep) continue;
    blobs_of.erase(h);
    // Rename out of objects/ first, so a crash never leaves a half-deleted checkpoint there.
    const fs::path doomed = root_ / "tmp" / (h + ".delete");
    std::error_code ec;
    fs::rename(root_ / "objects" / h, doomed, ec);
    if (!ec) fs::remove_all(doomed, ec);
  }
  if (fs::exists(root_ / "updates")) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_ / "updates", ec)) {
      const std::string child = entry.path().stem().string();
      if (!fs::exists(root_ / "objects" / child)) fs::remove(entry.path(), ec);
    }
  }
  if (fs::exists(root_ / "blobs")) {
    std::set<std::string> live;
    for (const auto& [h, blobs] : blobs_of) live.insert(blobs.begin(), blobs.end());
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_ / "blobs", ec)) {
      const std::string name = entry.path().filename().string();
      if (is_checkpoint_hash(name) && !live.count(name)) fs::remove(entry.path(), ec);
    }
  }
  return fsync_directory(root_ / "objects");
}

}  // namespace tessera::checkpoints
