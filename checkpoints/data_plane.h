// The checkpoint data plane: model files streamed over a plain TCP connection with
// sendfile(), beside the gRPC CheckpointService that serves manifests, blobs, updates and
// a chunked gRPC download, because the gRPC stream (HTTP/2 framing, protobuf copies) moves
// a fraction of what the same socket carries raw (docs/checkpoints.md). The pull uses this
// path when the server offers it (ManifestReply.data_port) and falls back to gRPC otherwise. Integrity does not depend on the transport: the pull verifies
// every tensor against the manifest, whose hash the chain announced.
//
// Protocol, one download per connection:
//   request  (80 bytes): "TSD1", 64 hex digits of the checkpoint hash, offset (u64 LE),
//                        4 zero bytes
//   reply    (16 bytes): "TSD1", status (u32 LE, 0 = ok), length (u64 LE)
//            then `length` bytes: the model file from `offset` (ok) or an error message.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/status.h"

namespace tessera::checkpoints {

class DataServer {
 public:
  // Serves `<objects>/<hash>/model.safetensors` on `port` of `host` (the host part of the
  // gRPC listen address; "0.0.0.0" or "[::]" for every interface). Port 0: any free port.
  static Result<std::unique_ptr<DataServer>> start(const std::filesystem::path& objects, const std::string& host,
                                                   int port = 0, int max_connections = 16);
  ~DataServer();
  DataServer(const DataServer&) = delete;
  DataServer& operator=(const DataServer&) = delete;

  int port() const { return port_; }
  // Stops accepting, cuts open transfers and waits for their threads.
  void stop();

  struct Stats {
    std::uint64_t served = 0;    // downloads sent in full
    std::uint64_t rejected = 0;  // malformed requests, unknown checkpoints, bad offsets, busy
    std::uint64_t broken = 0;    // transfers cut by the peer or a timeout
    std::uint64_t open = 0;      // connections accepted and not yet finished
  };
  Stats stats() const;

 private:
  DataServer() = default;
  void accept_loop();
  void serve(int fd);

  std::filesystem::path objects_;
  int listener_ = -1;
  int port_ = 0;
  int max_connections_ = 16;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::set<int> open_;  // sockets of transfers in progress
  std::atomic<std::uint64_t> served_{0}, rejected_{0}, broken_{0};
};

// Connects to a DataServer at host:port and requests `hash` from `offset`. The reply must
// announce exactly `expect` bytes. Returns the socket (the caller reads the bytes, then
// closes it); errors name what the server said or what went wrong. Reads time out after
// `stall` without data.
Result<int> open_download(const std::string& host, int port, const std::string& hash, std::uint64_t offset,
                          std::uint64_t expect, std::chrono::seconds stall = std::chrono::seconds(60));

// The host part of "host:port" or "[v6]:port", without brackets.
std::string host_of(const std::string& address);

}  // namespace tessera::checkpoints
