// The submission channel (DESIGN.md §4, docs/protocol.md). A validator binds a ZeroMQ
// ROUTER with CURVE encryption; miners connect a DEALER with the validator's public key
// and send [SignedHeader, payload]. Every check runs before the payload is decoded:
// frame count, header and payload size caps (ZMQ_MAXMSGSIZE drops frames more than 1 MiB
// over the caps before they are buffered), header parse, subnet and registration of
// (netuid, uid, hotkey) — a map lookup, so that a flood from unregistered keys costs no
// signature work — then the ed25519 signature, window (with grace), nonce replay (the
// last accepted nonce per hotkey survives restarts in `nonce_file`), payload size and
// hash, per-hotkey rate limit, and queue space. Accepted submissions go into a bounded queue
// (backpressure: REJECT_BUSY when full) and are answered with a signed receipt; each
// reject is answered with its code and a readable reason, and counted. A one-frame
// VerdictRequest is answered with the validator's signed verdict of that window (audits).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/identity.h"
#include "core/schedule.h"
#include "core/status.h"
#include "proto/net.pb.h"

namespace tessera::net {

// A CURVE key pair (raw 32-byte keys).
struct CurveKeys {
  std::string public_key, secret_key;
  static Result<CurveKeys> generate();
};

struct Submission {
  proto::SubmissionHeader header;
  std::string signed_header;  // frame 1 as received (for verdicts and audits)
  std::string payload;
  std::uint64_t received_ms = 0;
};

struct ServerOptions {
  std::string bind = "tcp://127.0.0.1:0";  // port 0: pick one (see SubmissionServer::endpoint)
  std::uint32_t netuid = 0;
  std::size_t max_header_bytes = 4096;
  std::size_t max_payload_bytes = 16u << 20;
  std::size_t queue_capacity = 256;
  std::uint32_t max_per_hotkey_per_window = 4;
  WindowSchedule schedule;
  std::uint64_t grace_blocks = 2;
  // The chain view: the uid a hotkey holds on the subnet (nullopt: not registered), and
  // the current block.
  std::function<std::optional<std::uint32_t>(const std::string& hotkey)> uid_of;
  std::function<std::uint64_t()> current_block;
  // Where the last accepted nonce of each hotkey is kept (written atomically on every
  // accept, read at start), so that a restarted validator does not accept a replay.
  // Empty: memory only (tests, the sim).
  std::filesystem::path nonce_file;
  // Audits: the serialised SignedVerdict of a window (nullopt: none kept). Unset: verdict
  // requests are refused like any one-frame message.
  std::function<std::optional<std::string>(std::uint64_t window)> verdict_of;
};

struct ServerStats {
  std::uint64_t received = 0, accepted = 0;
  // Connections that ended, whoever ended them (the transport dropping a peer for an
  // oversized frame, a broken connection, or the peer closing), and CURVE handshakes that
  // failed.
  std::uint64_t disconnects = 0, failed_handshakes = 0;
  std::uint64_t verdicts_served = 0;  // audit requests answered with a verdict
  std::map<int, std::uint64_t> rejected;  // by proto::RejectCode
};

// The checks of one received message, without sockets (the server and the fuzz target
// use it). Keeps the replay and rate-limit state; `queue_size` is the receive queue's
// current length, for the backpressure check. Thread-compatible (the server serialises).
class SubmissionChecker {
 public:
  SubmissionChecker(ServerOptions options, Keypair identity) : options_(std::move(options)), identity_(identity) {}
  // Reads options.nonce_file when there is one; a file that does not parse is an error
  // naming it (starting without it would reopen every replay).
  Status load_nonces();
  proto::Reply check(const std::vector<std::string>& frames, std::size_t queue_size, Submission* out);

 private:
  Status save_nonces(const std::map<std::string, std::uint64_t>& nonces) const;
  ServerOptions options_;
  Keypair identity_;
  std::map<std::string, std::uint64_t> last_nonce_;                            // by hotkey
  std::map<std::pair<std::string, std::uint64_t>, std::uint32_t> per_window_;  // (hotkey, window) → count
};

class SubmissionServer {
 public:
  // Binds and starts the receive thread. `identity` signs receipts.
  static Result<std::unique_ptr<SubmissionServer>> start(const ServerOptions& options, const Keypair& identity,
                                                         const CurveKeys& curve);
  ~SubmissionServer();
  void stop();

  std::string endpoint() const { return endpoint_; }  // actual bound address
  // Next accepted submission, in arrival order (nullopt after the timeout).
  std::optional<Submission> pop(std::chrono::milliseconds timeout);
  ServerStats stats() const;
  std::size_t queued() const;

 private:
  SubmissionServer() = default;
  void run();
  proto::Reply answer_verdict(std::uint64_t window);

  ServerOptions options_;
  std::unique_ptr<SubmissionChecker> checker_;
  void* context_ = nullptr;
  void* socket_ = nullptr;
  void* monitor_ = nullptr;  // PAIR end of the socket monitor
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Submission> queue_;
  ServerStats stats_;
};

// Builds frame 1: the serialised header signed by `hotkey`.
std::string sign_header(const proto::SubmissionHeader& header, const Keypair& hotkey);
// Verifies a receipt's signature against the validator's hotkey.
bool verify_receipt(const proto::Reply& reply, const PublicKey& validator);

class SubmissionClient {
 public:
  // Connects a DEALER to `endpoint`, authenticating the server by its CURVE public key.
  static Result<std::unique_ptr<SubmissionClient>> connect(const std::string& endpoint,
                                                           const std::string& server_public_key);
  ~SubmissionClient();
  // Sends raw frames (tests use this to send malformed input) and waits for the reply.
  Result<proto::Reply> send_frames(const std::vector<std::string>& frames, std::chrono::milliseconds timeout);
  // The validator's signed verdict of `window` (serialised SignedVerdict; NotFound when it
  // keeps none). Check it with open_verdict (verification/validator.h).
  Result<std::string> fetch_verdict(std::uint64_t window, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Fills payload_hash/payload_size, signs and sends.
  Result<proto::Reply> submit(proto::SubmissionHeader header, const std::string& payload, const Keypair& hotkey,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  SubmissionClient() = default;
  void* context_ = nullptr;
  void* socket_ = nullptr;
};

const char* reject_name(proto::RejectCode code);

}  // namespace tessera::net
