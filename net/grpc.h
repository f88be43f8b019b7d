// gRPC plumbing shared by the chain's ChainService and (later) the CheckpointService:
// starting and stopping a server with message-size limits, client channels that check
// reachability, deadlines, and the mapping of gRPC errors to Status.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::net {

struct GrpcServerOptions {
  std::string listen = "127.0.0.1:0";
  int max_message_bytes = 4 << 20;
};

class GrpcServer {
 public:
  // Starts serving `services` (not owned; they must outlive the server).
  static Result<std::unique_ptr<GrpcServer>> start(const GrpcServerOptions& options,
                                                   const std::vector<grpc::Service*>& services);
  ~GrpcServer();
  int port() const { return port_; }
  // Stops accepting calls; calls in flight get `grace` to finish, then are cancelled.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(500));

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// A channel to `address` with a receive limit; IoError naming the address when it does
// not connect within `timeout`. With `fail_fast`, a first attempt that fails (refused,
// unreachable) is the answer at once; without it the channel retries until the timeout
// (a client waiting for a server that is starting).
Result<std::shared_ptr<grpc::Channel>> connect_channel(const std::string& address, int max_message_bytes,
                                                       std::chrono::milliseconds timeout, bool fail_fast = false);

// Sets a deadline `after` from now on a client context.
void set_deadline(grpc::ClientContext* ctx, std::chrono::milliseconds after);

// gRPC status → Status: NOT_FOUND → NotFound, INVALID_ARGUMENT → InvalidArgument,
// UNAVAILABLE / DEADLINE_EXCEEDED → IoError ("unreachable"), others → Internal; `what`
// says which call failed.
Status from_grpc(const grpc::Status& status, const std::string& what);
// Status → gRPC status, for service implementations.
grpc::Status to_grpc(const Status& status);

}  // namespace tessera::net
