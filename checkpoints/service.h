// CheckpointService (gRPC): the manifest of a stored checkpoint and a chunked, resumable
// download of its model file; and the pull client behind `tessera checkpoint pull`.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "checkpoints/store.h"
#include "core/run_spec.h"

namespace tessera::net {
class GrpcServer;
}

namespace tessera::checkpoints {

class CheckpointServer {
 public:
  // gRPC on `listen`; the raw data plane on `data_port` of the same host (0: any free
  // port — if none can be opened, pulls use gRPC; a port asked for must open).
  static Result<std::unique_ptr<CheckpointServer>> start(const CheckpointStore* store, const std::string& listen,
                                                         int data_port = 0);
  ~CheckpointServer();
  int port() const;
  // What peers dial: the listen host (a wildcard bind as loopback) and the bound port.
  std::string address() const;
  int data_port() const;  // the raw data plane (checkpoints/data_plane.h); 0 if it could not listen
  void stop();

 private:
  CheckpointServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string host_;
};

// How the model file travels: the raw data plane when the server offers it (else gRPC),
// or always the gRPC Download stream.
enum class PullTransport { kAuto, kGrpc };

struct PullOptions {
  std::string address;        // host:port of a CheckpointService
  std::string expected_hash;  // hex: what the chain announced; empty = the server's latest (unverified against a chain)
  std::filesystem::path out;  // receives model.safetensors and manifest.json
  PullTransport transport = PullTransport::kAuto;
  // Hex public key of the hotkey that announced the checkpoint: the manifest must be
  // signed by it. Empty: any valid signature (the result says so).
  std::string expected_signer;
  // Other CheckpointServices to try, in order, when `address` fails or is too slow.
  // Content addressing makes any source safe; a source is dropped as soon as it lies.
  std::vector<std::string> mirrors;
  // Asked once, only when `address` and every mirror failed (or there are none): further
  // sources to try (a follower's other serving neurons, which cost a metagraph read).
  std::function<std::vector<std::string>()> more_sources;
  // The whole pull, every source included, ends by this deadline; each source must also
  // average min_bytes_per_second once `grace` has passed.
  std::chrono::milliseconds deadline{std::chrono::minutes(30)};
  std::uint64_t min_bytes_per_second = 256u << 10;
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
  std::uint64_t max_model_bytes = 0;  // refuse larger models before downloading (0: no limit)
};

// The pull limits of a role following the run: the deadline is one window of the run
// (blocks_per_window × block_time_ms, at least 30 s) unless `deadline_s` > 0 gives it, so a
// slow source cannot hold a miner past the window it needs the checkpoint for; `mirrors`
// are tried after the announced source.
PullOptions role_pull_options(const RunSpec& spec, std::vector<std::string> mirrors, double deadline_s = 0);

struct PullResult {
  std::string hash;
  std::uint64_t bytes = 0;
  std::uint64_t resumed_from = 0;  // bytes already present from an interrupted pull
  double seconds = 0.0;
  std::string transport;  // "tcp" (data plane) or "grpc"
  std::string source;     // the address that delivered it
  std::string verified;   // what the checks tie the checkpoint to, in words
  Checkpoint checkpoint;  // the verified checkpoint, as written to `out`
};

// Checks the served manifest first — it hashes to its name and to `expected_hash`, its
// signature verifies (by `expected_signer` when given), its sizes fit — before anything
// is allocated or written. Then downloads into `<out>/model.safetensors.partial`
// (resuming from its size), verifies every tensor, and only then moves the files into
// place. A source that fails, lies or is too slow is left for the next mirror, resuming
// from the bytes already received. `progress(done, total)` is called per chunk.
Result<PullResult> pull_checkpoint(const PullOptions& options,
                                   const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

// The manifest a CheckpointService holds for `hash` (checked to hash to it, and signed by
// `expected_signer` when given).
Result<Manifest> fetch_manifest(const std::string& address, const std::string& hash, const std::string& expected_signer = {});
// The merged update leading to checkpoint `child` (update.h; unverified until applied),
// refused once it exceeds `max_bytes` (max_update_bytes of the model held).
Result<std::string> fetch_update(const std::string& address, const std::string& child, std::uint64_t max_bytes);
// A blob (an accepted payload), checked against its hash and refused once it exceeds
// `max_bytes` (the run spec's validator.max_payload_bytes).
Result<std::string> fetch_blob(const std::string& address, const std::string& hash, std::uint64_t max_bytes);

}  // namespace tessera::checkpoints
