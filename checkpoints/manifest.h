// The checkpoint manifest (DESIGN.md §4): what a checkpoint holds, its content hash (the
// name the chain announces) and the signature binding it to the hotkey that announced
// it. Kept apart from the store and from torch so that the parser a checkpoint server
// feeds can be fuzzed on its own (tests/fuzz/fuzz_checkpoint.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/identity.h"
#include "core/status.h"

namespace at {
class Tensor;
}

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
  // The L2 norm validators judge and the aggregator clips the next window's deltas
  // against: the median norm of the deltas merged into this checkpoint, moved at most 2×
  // from the parent's (gradients/norm.h). 0: none yet (left out of the JSON, so that
  // checkpoints made before it keep their hashes).
  double norm_reference = 0.0;
  // When miners train parts of the model (ModelSpec::sharded()): the same reference per
  // shard, for each shard's part of a delta (0: none yet for that shard), and
  // norm_reference stays 0. Empty otherwise (and left out of the JSON).
  std::vector<double> shard_norm_references;
  // The references are per unit of the learning rate's warm-up (window_warmup_rate,
  // core/schedule.h): window w's deltas are judged and clipped against the stored
  // reference × window w's rate, and the next reference is taken from the merged norms
  // divided by it, so that the warm-up's rising rate neither clips honest deltas nor
  // makes them outliers. Set in a run's initial checkpoint and inherited, so that a run
  // begun before it keeps its rules and its checkpoints still verify. False: left out of
  // the JSON.
  bool references_per_warmup_rate = false;
  std::string signer;     // hex ed25519 public key of the aggregator
  std::string signature;  // hex, over "tessera-checkpoint/1\0" || content hash bytes

  // Fills `tensors` (names, shapes, hashes) from the model; float32 only (store.cpp:
  // the only part of the manifest that needs torch).
  Status set_tensors(const std::vector<std::pair<std::string, at::Tensor>>& model);
  // Deterministic JSON of every field but signer and signature.
  std::string canonical() const;
  std::string content_hash() const;  // hex BLAKE2b-256 of canonical()
  // Sets signer and signature: `key` signs the content hash (what the chain announces).
  void sign(const Keypair& key);
  std::string to_json() const;       // canonical fields + signer + signature
  static Result<Manifest> from_json(const std::string& text);
};

// The references a window's deltas are judged and merged against, one per parameter
// group: per shard (`groups` of them) when the manifest carries shard references or
// `groups` > 1, else the one whole-delta reference. Missing entries are 0 (none yet).
std::vector<double> norm_references(const Manifest& manifest, int groups);
// Stores `references` (one per group) in the field norm_references reads.
void set_norm_references(Manifest* manifest, const std::vector<double>& references);
// What the deltas trained on `manifest`'s checkpoint (window manifest.window, with
// `inner_steps` steps a window and a warm-up of `warmup_steps`) are judged and clipped
// against: norm_references, times that window's warm-up rate when the references are per
// unit of it (Manifest::references_per_warmup_rate).
std::vector<double> window_references(const Manifest& manifest, int groups, int inner_steps, long warmup_steps);
// The unit the manifest's references are stored in for that window: its warm-up rate,
// or 1 for references of the earlier rules.
double reference_unit(const Manifest& manifest, int inner_steps, long warmup_steps);

// 64 lower-case hex digits: the form of every checkpoint hash.
bool is_checkpoint_hash(const std::string& h);
// "checkpoint <first 16 hex digits>…: ", the prefix of every verification error.
std::string checkpoint_at(const std::string& hash);

// Checks that `manifest` hashes to `hash` and that its signature verifies — made by
// `expected_signer` (hex public key) when one is given: the hotkey that announced the
// checkpoint on chain. The content hash leaves the signer out, so without
// `expected_signer` the signature only shows that someone signed, not who made the
// checkpoint. The error names what does not match.
Status verify_manifest(const Manifest& manifest, const std::string& hash, const std::string& expected_signer = {});

}  // namespace tessera::checkpoints
