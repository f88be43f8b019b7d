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
#include <optional>
#include <string>
#include <vector>

#include "checkpoints/safetensors.h"
#include "core/identity.h"
#include "core/status.h"

namespace tessera::checkpoints {

struct AcceptedEntry {
  std::uint32_t uid = 0;
  std::string hotkey;        // hex
  std::string payload_hash;  // hex
  double score = 0.0;
};

struct TensorEntry {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string hash;  // hex BLAKE2b-256 of the float32 little-endian bytes
};

struct Manifest {
  std::string run_id;
  std::uint64_t window = 0;
  std::uint64_t origin_window = 0;  // window of the run's first checkpoint (the schedules count from it)
  std::string parent;  // hex hash of the previous checkpoint ("" for the initial one)
  std::vector<AcceptedEntry> accepted;
  std::string model;  // model description / preset
  std::string outer;  // outer optimizer and its hyperparameters
  std::vector<TensorEntry> tensors;
  std::string signer;     // hex ed25519 public key of the aggregator
  std::string signature;  // hex, over "tessera-checkpoint/1\0" || content hash bytes

  // Fills `tensors` (names, shapes, hashes) from the model; float32 only.
  Status set_tensors(const NamedTensors& model);
  // Deterministic JSON of every field but signer and signature.
  std::string canonical() const;
  std::string content_hash() const;  // hex BLAKE2b-256 of canonical()
  // Sets signer and signature: `key` signs the content hash (what the chain announces).
  void sign(const Keypair& key);
  std::string to_json() const;       // canonical fields + signer + signature
  static Result<Manifest> from_json(const std::string& text);
};

struct Checkpoint {
  Manifest manifest;
  NamedTensors tensors;
  std::string hash;
};

struct Retention {
  std::size_t keep_last = 8;    // the newest N by window
  std::uint64_t keep_every = 0;  // and every checkpoint whose window is a multiple of M (0: none)
};

class CheckpointStore {
 public:
  static Result<CheckpointStore> open(const std::filesystem::path& root, Retention retention = {});

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
  std::vector<std::string> list() const;  // stored hashes
  const std::filesystem::path& root() const { return root_; }

 private:
  Status apply_retention();
  std::filesystem::path root_;
  Retention retention_;
};

std::string tensor_hash(const torch::Tensor& t);  // BLAKE3 of the float32 bytes, hex
// 64 lower-case hex digits: the form of every checkpoint hash.
bool is_checkpoint_hash(const std::string& h);

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
// The two halves of verify_checkpoint: the manifest hashes to `hash` and its signature
// verifies (by `expected_signer` when given); the tensors are the manifest's.
Status verify_manifest(const Manifest& manifest, const std::string& hash, const std::string& expected_signer = {});
Status verify_tensors(const Manifest& manifest, const std::string& hash, const NamedTensors& tensors,
                      const std::vector<std::string>* tensor_hashes = nullptr);

}  // namespace tessera::checkpoints
