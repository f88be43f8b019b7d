// JSON-RPC 2.0 over WebSocket (Boost.Beast), for substrate nodes.
//
// One connection, used from one thread at a time (calls are serialised by a mutex).
// Every wait has a deadline; a message over `max_message_bytes` closes the connection
// instead of growing a buffer; notifications are queued per subscription, at most
// `max_queued_notifications` in all (the oldest is dropped and counted). A broken
// connection is re-opened on the next call, with exponential backoff; subscriptions do
// not survive it (their next() says so) and their owners subscribe again.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace tessera::substrate {

struct RpcOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
  std::size_t max_message_bytes = 32u << 20;
  std::size_t max_queued_notifications = 1024;
  int reconnect_attempts = 5;  // per call, after the first failure
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{5'000};
};

struct RpcCounters {
  std::uint64_t requests = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t dropped_notifications = 0;
  std::uint64_t malformed_messages = 0;
};

class RpcClient {
 public:
  // "ws://host:port[/path]". The connection is opened (and checked) here.
  static Result<std::unique_ptr<RpcClient>> connect(const std::string& url, RpcOptions options = {});
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // The call's result, or its JSON-RPC error as FailedPrecondition ("author_submitExtrinsic:
  // 1010: Invalid Transaction: …"). `retry` re-sends after a reconnect when the connection
  // broke before the answer came: only for calls that are safe to repeat.
  Result<nlohmann::json> call(const std::string& method, const nlohmann::json& params, bool retry = true);
  // Starts a subscription and returns its id; never retried.
  Result<std::string> subscribe(const std::string& method, const nlohmann::json& params);
  // The next notification of a subscription (its "result"), waiting up to `timeout`.
  Result<nlohmann::json> next(const std::string& subscription, std::chrono::milliseconds timeout);
  Status unsubscribe(const std::string& method, const std::string& subscription);

  const std::string& url() const;
  RpcCounters counters() const;

 private:
  struct Impl;
  explicit RpcClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::substrate
