// Content-addressed checkpoint store (DESIGN.md §4). A checkpoint is a folder
// `<root>/objects/<hash>/` holding `model.safetensors` and `manifest.json`; `<hash>` is the
// BLAKE2b-256 (hex) of the manifest's canonical bytes, and the manifest lists every
// tensor's shape and BLAKE2b-256, so the hash covers the whole model. `<root>/latest`
// names the newest checkpoint.
//
// Writes are crash-safe: the folder is built under `<root>/tmp/`, every file fsynced,
// then renamed into `objects/` and the directory fsynced; `latest` is replaced
// atomically. After a crash at any moment `objects/` holds only complete checkpoints
// (leftovers in `tmp/` are removed on open). Reads verify the content hash, every tensor
// hash and the signature, and name what does not match.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoints/manifest.h"
#include "checkpoints/safetensors.h"
#include "core/identity.h"
#include "core/status.h"

namespace tessera::checkpoints {

struct Checkpoint {
  Manifest manifest;
  NamedTensors tensors;
  std::string hash;
};

struct Retention {
  std::size_t keep_last = 8;    // the newest N by window
  std::uint64_t keep_every = 0;  // and every checkpoint whose window is a multiple of M (0: none)
};

// One writer process at a time: open() takes an exclusive lock on `<root>/writer.lock`
// (flock, released when the last copy of the store object goes or the process dies) and
// only then clears `tmp/`; a second writer is refused naming the store. Readers that
// must not write (`checkpoint serve`) use open_read_only(), which takes no lock and
// refuses every write.
class CheckpointStore {
 public:
  static Result<CheckpointStore> open(const std::filesystem::path& root, Retention retention = {});
  static Result<CheckpointStore> open_read_only(const std::filesystem::path& root);

  // Fills the tensor entries, signs with `signer`, writes, updates `latest`, applies the
  // retention; returns the content hash. Storing an existing hash is a no-op.
  Result<std::string> put(const NamedTensors& tensors, Manifest manifest, const Keypair& signer);
  // Loads and verifies a checkpoint.
  Result<Checkpoint> get(const std::string& hash) const;
  Result<std::string> latest() const;  // NotFound when empty
  // Blobs: accepted submission payloads kept beside the checkpoints that merged them,
  // named by their hex BLAKE2b-256 (checked on write and on read). Retention removes the
  // blobs no retained manifest lists.
  Status put_blob(const std::string& hash, std::string_view bytes);
  Result<std::string> get_blob(const std::string& hash) const;
  // The merged update leading to checkpoint `child` (update.h); removed with it.
  Status put_update(const std::string& child, std::string_view bytes);
  Result<std::string> get_update(const std::string& child) const;
  // Where a stored blob / update lies (NotFound when absent), for streaming it out.
  Result<std::filesystem::path> blob_path(const std::string& hash) const;
  Result<std::filesystem::path> update_path(const std::string& child) const;
  std::vector<std::string> list() const;  // stored hashes
  const std::filesystem::path& root() const { return root_; }

 private:
  Status apply_retention();
  Status writable() const;
  std::filesystem::path root_;
  Retention retention_;
  std::shared_ptr<const int> writer_lock_;  // the locked fd; null when read-only
};

std::string tensor_hash(const torch::Tensor& t);  // BLAKE3 of the float32 bytes, hex

// A checkpoint on disk, for local use (export, generation): `path` is either a folder
// that `checkpoint pull` wrote (manifest.json + model.safetensors) or a checkpoint store
// (its latest checkpoint). Checked only against itself — the tensors against the
// manifest, the manifest against its own hash and signature — since no chain names it
// here; `Checkpoint::hash` is that self-computed hash.
Result<Checkpoint> read_checkpoint_folder(const std::filesystem::path& path);
// Writes `checkpoint` as such a folder (model.safetensors, then manifest.json; each atomic).
Status write_checkpoint_folder(const std::filesystem::path& dir, const Checkpoint& checkpoint);

// Checks that `manifest` hashes to `hash`, that its signature verifies — made by
// `expected_signer` (hex public key) when one is given: the hotkey that announced the
// checkpoint on chain — and that `tensors` are exactly the manifest's (names, order,
// shapes, hashes); the error names the first thing that differs. The content hash leaves
// the signer out, so without `expected_signer` the signature only shows that someone
// signed, not who made the checkpoint.
// `tensor_hashes` (optional): the tensors' hashes already computed, in file order (a
// download hashes while it receives); otherwise each tensor is hashed here.
Status verify_checkpoint(const Manifest& manifest, const std::string& hash, const NamedTensors& tensors,
                         const std::vector<std::string>* tensor_hashes = nullptr, const std::string& expected_signer = {});
// The second half of verify_checkpoint (the first, verify_manifest, is in manifest.h):
// the tensors are the manifest's.
Status verify_tensors(const Manifest& manifest, const std::string& hash, const NamedTensors& tensors,
                      const std::vector<std::string>* tensor_hashes = nullptr);

}  // namespace tessera::checkpoints
