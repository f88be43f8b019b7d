#include "checkpoints/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "core/blake3.h"
#include "core/file_io.h"
#include "core/hash.h"

namespace tessera::checkpoints {

namespace fs = std::filesystem;

std::string tensor_hash(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous().cpu();
  const Hash256 h = blake3_256(std::string_view(reinterpret_cast<const char*>(c.data_ptr<float>()),
                                                 static_cast<std::size_t>(c.numel()) * 4));
  return to_hex(h);
}

Result<CheckpointStore> CheckpointStore::open(const fs::path& root, Retention retention) {
  std::error_code ec;
  fs::create_directories(root / "objects", ec);
  if (!ec) fs::create_directories(root / "tmp", ec);
  if (ec) return IoError("cannot create checkpoint store " + root.string() + ": " + ec.message());
  const fs::path lock_path = root / "writer.lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return FailedPrecondition("checkpoint store " + root.string() +
                                " is open for writing by another process (or another store object); one writer at a time");
    }
    return IoError("cannot lock " + lock_path.string() + ": " + std::strerror(err));
  }
  CheckpointStore s;
  s.root_ = root;
  s.retention_ = retention;
  s.writer_lock_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  // Half-written checkpoints of a crashed writer never reached objects/; the lock says no
  // writer is alive to finish them: drop them.
  for (const auto& e : fs::directory_iterator(root / "tmp")) fs::remove_all(e.path(), ec);
  return s;
}

Result<CheckpointStore> CheckpointStore::open_read_only(const fs::path& root) {
  if (!fs::is_directory(root / "objects")) return NotFound(root.string() + " is not a checkpoint store (no objects/)");
  CheckpointStore s;
  s.root_ = root;
  return s;
}

Status CheckpointStore::writable() const {
  if (!writer_lock_) return FailedPrecondition("checkpoint store " + root_.string() + " is open read-only");
  return Status::Ok();
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
  TESSERA_RETURN_IF_ERROR(writable());
  if (!is_checkpoint_hash(hash)) return InvalidArgument("'" + hash + "' is not a blob hash (64 hex digits)");
  if (to_hex(blake2b_256(bytes)) != hash) return InvalidArgument("blob bytes do not hash to " + hash.substr(0, 16) + "…");
  const fs::path path = root_ / "blobs" / hash;
  if (fs::exists(path)) return Status::Ok();
  std::error_code ec;
  fs::create_directories(root_ / "blobs", ec);
  if (ec) return IoError("cannot create " + (root_ / "blobs").string() + ": " + ec.message());
  return write_file_atomic(path, bytes, 0644);
}

Result<fs::path> CheckpointStore::blob_path(const std::string& hash) const {
  if (!is_checkpoint_hash(hash)) return InvalidArgument("'" + hash + "' is not a blob hash (64 hex digits)");
  fs::path path = root_ / "blobs" / hash;
  if (!fs::exists(path)) return NotFound("no blob " + hash.substr(0, 16) + "… in " + root_.string());
  return path;
}

Result<fs::path> CheckpointStore::update_path(const std::string& child) const {
  if (!is_checkpoint_hash(child)) return InvalidArgument("'" + child + "' is not a checkpoint hash");
  fs::path path = root_ / "updates" / (child + ".pb");
  if (!fs::exists(path)) return NotFound("no update to " + child.substr(0, 16) + "…");
  return path;
}

Result<std::string> CheckpointStore::get_blob(const std::string& hash) const {
  TESSERA_ASSIGN_OR_RETURN(const fs::path path, blob_path(hash));
  TESSERA_ASSIGN_OR_RETURN(std::string data, read_file(path));
  if (to_hex(blake2b_256(data)) != hash) return Corrupted("blob " + path.string() + " does not match its hash");
  return data;
}

Status CheckpointStore::put_update(const std::string& child, std::string_view bytes) {
  TESSERA_RETURN_IF_ERROR(writable());
  if (!is_checkpoint_hash(child)) return InvalidArgument("'" + child + "' is not a checkpoint hash");
  std::error_code ec;
  fs::create_directories(root_ / "updates", ec);
  if (ec) return IoError("cannot create " + (root_ / "updates").string() + ": " + ec.message());
  return write_file_atomic(root_ / "updates" / (child + ".pb"), bytes, 0644);
}

Result<std::string> CheckpointStore::get_update(const std::string& child) const {
  TESSERA_ASSIGN_OR_RETURN(const fs::path path, update_path(child));
  return read_file(path);
}

Result<std::string> CheckpointStore::put(const NamedTensors& tensors, Manifest m, const Keypair& signer) {
  TESSERA_RETURN_IF_ERROR(writable());
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
    TESSERA_RETURN_IF_ERROR(write_checkpoint_folder(staging, Checkpoint{m, tensors, hash}));
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

Result<Checkpoint> read_checkpoint_folder(const fs::path& path) {
  if (fs::is_directory(path / "objects")) {
    TESSERA_ASSIGN_OR_RETURN(auto store, CheckpointStore::open_read_only(path));
    TESSERA_ASSIGN_OR_RETURN(std::string hash, store.latest());
    return store.get(hash);
  }
  if (!fs::exists(path / "manifest.json") || !fs::exists(path / "model.safetensors")) {
    return NotFound(path.string() + " holds no checkpoint (neither manifest.json + model.safetensors nor a store)");
  }
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(path / "manifest.json"));
  TESSERA_ASSIGN_OR_RETURN(Manifest m, Manifest::from_json(text));
  TESSERA_ASSIGN_OR_RETURN(SafetensorsFile file, read_safetensors(path / "model.safetensors"));
  const std::string hash = m.content_hash();
  TESSERA_RETURN_IF_ERROR(verify_checkpoint(m, hash, file.tensors));
  return Checkpoint{std::move(m), std::move(file.tensors), hash};
}

Status write_checkpoint_folder(const fs::path& dir, const Checkpoint& checkpoint) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
  TESSERA_RETURN_IF_ERROR(write_safetensors(dir / "model.safetensors", checkpoint.tensors, {{"checkpoint", checkpoint.hash}}));
  return write_file_atomic(dir / "manifest.json", checkpoint.manifest.to_json(), 0644);
}

Status verify_checkpoint(const Manifest& m, const std::string& hash, const NamedTensors& tensors,
                         const std::vector<std::string>* tensor_hashes, const std::string& expected_signer) {
  TESSERA_RETURN_IF_ERROR(verify_manifest(m, hash, expected_signer));
  return verify_tensors(m, hash, tensors, tensor_hashes);
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
