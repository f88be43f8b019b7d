// The submission channel (DESIGN.md §4, docs/protocol.md). A validator binds a ZeroMQ
// ROUTER with CURVE encryption; miners connect a DEALER with the validator's public key.
// A submission is two messages:
//   commitment [SignedHeader]           header version 2, naming this validator; checked:
//       size cap, parse, version and recipient, subnet and registration of (netuid, uid,
//       hotkey) — map lookups, so that a flood from unregistered keys costs no signature
//       work — then the ed25519 signature, window (with grace), nonce replay (the last
//       accepted nonce per hotkey survives restarts in `nonce_file`), one commitment per
//       hotkey per window. Its receipt carries the commitment's sequence number.
//   delivery   [SignedHeader, payload]  the committed header bytes (a hash lookup, no
//       signature work), window, payload size and hash, queue space (messages and bytes).
// Copy priority is commitment order: a miner commits to every validator before any of
// them gets its payload, so whoever copies the payload commits later. Because a header
// names its validator, it cannot be forwarded to another one. Accepted deliveries go into
// a bounded queue (REJECT_BUSY when full); everything is answered with a signed receipt
// or a reject code with a readable reason, and counted. A one-frame VerdictRequest is
// answered with the validator's signed verdict of that window (audits).
//
// Transport bounds (docs/protocol.md "Memory"): frames above the caps are dropped by
// libzmq before they are buffered (ZMQ_MAXMSGSIZE), each peer may have `peer_hwm`
// messages in flight, at most `max_connections` peers are connected (the rest are
// refused at the handshake), handshakes must finish within `handshake_timeout_ms`, and
// dead peers are dropped by TCP keepalive.
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
  std::uint64_t commitment_seq = 0;  // order of its commitment at this validator (copy priority)
  // Another uid whose commitment of the same payload (by hash) came first at this
  // validator in this window, whether or not its delivery ever comes: this is then a copy
  // of that uid's work (docs/protocol.md, "Copy priority"). Unset when this commitment
  // was the payload's first.
  std::optional<std::uint32_t> earlier_committer;
};

// What the receive queue holds now (backpressure).
struct QueueLoad {
  std::size_t messages = 0;
  std::size_t bytes = 0;
};

struct ServerOptions {
  std::string bind = "tcp://127.0.0.1:0";  // port 0: pick one (see SubmissionServer::endpoint)
  std::uint32_t netuid = 0;
  std::size_t max_header_bytes = 4096;
  std::size_t max_payload_bytes = 16u << 20;
  std::size_t queue_capacity = 256;
  std::size_t max_queued_bytes = std::size_t{1} << 30;  // payload bytes held in the queue
  std::uint32_t max_per_hotkey_per_window = 1;          // commitments (only the first is judged)
  int max_connections = 320;  // above the subnet's 256 uids, plus auditors
  int peer_hwm = 2;  // messages buffered per peer before libzmq stops reading it (a miner has one in flight)
  int handshake_timeout_ms = 5000;
  // Dead peers: TCP keepalive probes after this long idle, then every interval; three
  // unanswered drop the peer (no ZMTP heartbeats: docs/protocol.md "Memory").
  int keepalive_idle_s = 10;
  int keepalive_interval_s = 5;
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
  std::uint64_t commitments = 0;
  std::uint64_t refused_connections = 0;  // over max_connections, refused at the handshake
  int connections = 0;                    // admitted peers connected now
  std::map<int, std::uint64_t> rejected;  // by proto::RejectCode
};

// The checks of one received message, without sockets (the server and the fuzz target
// use it). Keeps the replay, rate-limit and commitment state; `load` is what the receive
// queue holds now, for the backpressure check. Thread-compatible (the server serialises).
class SubmissionChecker {
 public:
  SubmissionChecker(ServerOptions options, Keypair identity) : options_(std::move(options)), identity_(identity) {}
  // Reads options.nonce_file when there is one; a file that does not parse is an error
  // naming it (starting without it would reopen every replay).
  Status load_nonces();
  // One frame: a commitment; two: a delivery (fills `out` when accepted).
  proto::Reply check(const std::vector<std::string>& frames, const QueueLoad& load, Submission* out);

 private:
  struct Commitment {
    std::uint64_t seq = 0;
    std::uint64_t window = 0;
  };
  std::optional<proto::Reply> payload_too_large(std::uint64_t size) const;
  std::optional<proto::Reply> window_closed(const proto::SubmissionHeader& h) const;
  std::optional<proto::Reply> parse_header(const std::string& frame, proto::SignedHeader* signed_header,
                                           proto::SubmissionHeader* h) const;
  proto::Reply commit(const std::string& frame);
  proto::Reply deliver(const std::string& frame, const std::string& payload, const QueueLoad& load, Submission* out);
  // A signed receipt for the header whose BLAKE2b-256 is `header_hash`.
  proto::Reply receipt(const std::string& header_hash, std::size_t queue_position, std::uint64_t seq,
                       bool commitment) const;
  Status save_nonces(const std::map<std::string, std::uint64_t>& nonces) const;
  ServerOptions options_;
  Keypair identity_;
  std::map<std::string, std::uint64_t> last_nonce_;                            // by hotkey
  std::map<std::pair<std::string, std::uint64_t>, std::uint32_t> per_window_;  // (hotkey, window) → count
  std::map<std::string, Commitment> commitments_;  // by BLAKE2b-256 of the header bytes; awaiting delivery
  // (window, payload hash) → the uid that committed it first: one entry per accepted
  // commitment at most (so bounded by the rate limit), forgotten with its window.
  std::map<std::pair<std::uint64_t, std::string>, std::uint32_t> first_committer_;
  std::uint64_t commitment_seq_ = 0;
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
  // Returns once the message being checked, if any, is answered and its submission
  // queued. A delivery is checked against the block ServerOptions::current_block gave
  // when its check began; a caller that moved that block past a window's close and then
  // settles finds every delivery accepted for the window in the queue, and none is
  // accepted for it afterwards (the validator's close, docs/protocol.md).
  void settle();
  ServerStats stats() const;
  std::size_t queued() const;

 private:
  SubmissionServer() = default;
  void run();
  void answer_zap();
  void update_connections();
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
  std::mutex check_mu_;  // held from a message's check until its submission is queued (settle)
  std::condition_variable cv_;
  std::deque<Submission> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t admitted_ = 0;  // handshakes ZAP admitted
  ServerStats stats_;
  void* zap_ = nullptr;  // REP end of the ZAP handler (connection cap)
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
  // Fills hotkey, version, payload_hash/payload_size (and the timestamp when unset), and
  // signs: frame 1 of both messages. `header.validator()` must name the recipient.
  static std::string prepare(proto::SubmissionHeader header, const std::string& payload, const Keypair& hotkey);
  // The two messages of a submission, sent separately (a miner commits to every
  // validator before delivering to any).
  Result<proto::Reply> commit(const std::string& signed_header, std::chrono::milliseconds timeout);
  Result<proto::Reply> deliver(const std::string& signed_header, const std::string& payload,
                               std::chrono::milliseconds timeout);
  // prepare, commit and deliver in one go (tests, benches): the delivery's reply, or the
  // commitment's when it was refused.
  Result<proto::Reply> submit(proto::SubmissionHeader header, const std::string& payload, const Keypair& hotkey,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  SubmissionClient() = default;
  void* context_ = nullptr;
  void* socket_ = nullptr;
};

const char* reject_name(proto::RejectCode code);

}  // namespace tessera::net
