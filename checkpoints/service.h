// CheckpointService (gRPC): the manifest of a stored checkpoint and a chunked, resumable
// download of its model file; and the pull client behind `tessera checkpoint pull`.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "checkpoints/store.h"

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
  int data_port() const;  // the raw data plane (checkpoints/data_plane.h); 0 if it could not listen
  void stop();

 private:
  CheckpointServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How the model file travels: the raw data plane when the server offers it (else gRPC),
// or always the gRPC Download stream.
enum class PullTransport { kAuto, kGrpc };

struct PullOptions {
  std::string address;        // host:port of a CheckpointService
  std::string expected_hash;  // hex: what the chain announced; empty = the server's latest (unverified against a chain)
  std::filesystem::path out;  // receives model.safetensors and manifest.json
  PullTransport transport = PullTransport::kAuto;
};

struct PullResult {
  std::string hash;
  std::uint64_t bytes = 0;
  std::uint64_t resumed_from = 0;  // bytes already present from an interrupted pull
  double seconds = 0.0;
  std::string transport;  // "tcp" (data plane) or "grpc"
  Checkpoint checkpoint;  // the verified checkpoint, as written to `out`
};

// Downloads into `<out>/model.safetensors.partial` (resuming from its size), verifies the
// manifest hash against `expected_hash`, the aggregator's signature and every tensor, and
// only then moves the files into place. `progress(done, total)` is called per chunk.
Result<PullResult> pull_checkpoint(const PullOptions& options,
                                   const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

// The manifest a CheckpointService holds for `hash` (checked to hash to it), and the
// merged update leading to checkpoint `child` (update.h; unverified until applied).
Result<Manifest> fetch_manifest(const std::string& address, const std::string& hash);
Result<std::string> fetch_update(const std::string& address, const std::string& child);

// Fetches a blob (an accepted payload) from a CheckpointService and checks its hash.
Result<std::string> fetch_blob(const std::string& address, const std::string& hash);

}  // namespace tessera::checkpoints
