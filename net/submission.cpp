#include "net/submission.h"

#include <zmq.h>

#include <cstring>

#include "core/file_io.h"
#include "core/hash.h"

namespace tessera::net {

namespace {

constexpr std::string_view kHeaderDomain{"tessera-submission/1\0", 21};
constexpr std::string_view kVerdictKind{"tessera-verdict/1"};
constexpr std::string_view kReceiptDomain{"tessera-receipt/1\0", 18};

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string raw_hash(std::string_view data) { return raw_bytes(blake2b_256(data)); }

Status zmq_error(const std::string& what) { return IoError(what + ": " + zmq_strerror(zmq_errno())); }

// Receives every frame of one message (up to `max_frames`, the rest is drained).
bool receive_message(void* socket, std::vector<std::string>* frames, std::size_t max_frames, bool* too_many) {
  frames->clear();
  *too_many = false;
  int more = 1;
  while (more) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, 0) < 0) {
      zmq_msg_close(&msg);
      return false;
    }
    if (frames->size() < max_frames) {
      frames->emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    } else {
      *too_many = true;
    }
    more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
  }
  return true;
}

bool send_frames(void* socket, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const int flags = i + 1 < frames.size() ? ZMQ_SNDMORE : 0;
    if (zmq_send(socket, frames[i].data(), frames[i].size(), flags) < 0) return false;
  }
  return true;
}

proto::Reply reject(proto::RejectCode code, std::string reason) {
  proto::Reply r;
  r.set_accepted(false);
  r.set_code(code);
  r.set_reason(std::move(reason));
  return r;
}

}  // namespace

const char* reject_name(proto::RejectCode code) {
  return proto::RejectCode_Name(code).c_str();
}

Result<CurveKeys> CurveKeys::generate() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) return zmq_error("generating a CURVE key pair (libzmq without CURVE?)");
  CurveKeys k;
  k.public_key.resize(32);
  k.secret_key.resize(32);
  zmq_z85_decode(reinterpret_cast<std::uint8_t*>(k.public_key.data()), pub);
  zmq_z85_decode(reinterpret_cast<std::uint8_t*>(k.secret_key.data()), sec);
  return k;
}

std::string sign_header(const proto::SubmissionHeader& header, const Keypair& hotkey) {
  proto::SignedHeader signed_header;
  header.SerializeToString(signed_header.mutable_header());
  const Signature sig = hotkey.sign(std::string(kHeaderDomain) + signed_header.header());
  signed_header.set_signature(raw_bytes(sig));
  return signed_header.SerializeAsString();
}

bool verify_receipt(const proto::Reply& reply, const PublicKey& validator) {
  if (!reply.accepted() || reply.receipt_signature().size() != 64) return false;
  Signature sig;
  std::memcpy(sig.data(), reply.receipt_signature().data(), 64);
  return verify_signature(validator, std::string(kReceiptDomain) + reply.receipt(), sig);
}

// ---- server ----------------------------------------------------------------------------

Result<std::unique_ptr<SubmissionServer>> SubmissionServer::start(const ServerOptions& options, const Keypair& identity,
                                                                  const CurveKeys& curve) {
  if (!options.uid_of || !options.current_block) return InvalidArgument("submission server needs uid_of and current_block");
  std::unique_ptr<SubmissionServer> s(new SubmissionServer());
  s->options_ = options;
  s->checker_ = std::make_unique<SubmissionChecker>(options, identity);
  TESSERA_RETURN_IF_ERROR(s->checker_->load_nonces());
  s->context_ = zmq_ctx_new();
  s->socket_ = zmq_socket(s->context_, ZMQ_ROUTER);
  const int one = 1, linger = 0;
  // Frames far above the caps (more than 1 MiB over) are dropped by libzmq before they are
  // buffered, and the peer is disconnected; frames a little over get a clean reject.
  const std::int64_t max_msg =
      static_cast<std::int64_t>(std::max(options.max_payload_bytes, options.max_header_bytes) + (1u << 20));
  const int hwm = static_cast<int>(std::max<std::size_t>(64, options.queue_capacity * 2));
  if (zmq_setsockopt(s->socket_, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_CURVE_SECRETKEY, curve.secret_key.data(), 32) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_LINGER, &linger, sizeof linger) != 0) {
    return zmq_error("configuring the submission socket");
  }
  if (zmq_bind(s->socket_, options.bind.c_str()) != 0) return zmq_error("binding " + options.bind);
  char endpoint[256];
  std::size_t len = sizeof endpoint;
  zmq_getsockopt(s->socket_, ZMQ_LAST_ENDPOINT, endpoint, &len);
  s->endpoint_ = endpoint;
  // Transport events (drops, failed handshakes) are counted through a socket monitor.
  const std::string monitor_address = "inproc://submission-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(s.get()));
  if (zmq_socket_monitor(s->socket_, monitor_address.c_str(),
                         ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
    return zmq_error("monitoring the submission socket");
  }
  s->monitor_ = zmq_socket(s->context_, ZMQ_PAIR);
  zmq_setsockopt(s->monitor_, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_connect(s->monitor_, monitor_address.c_str()) != 0) return zmq_error("connecting the socket monitor");
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

SubmissionServer::~SubmissionServer() { stop(); }

void SubmissionServer::stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  if (monitor_) zmq_close(monitor_);
  if (socket_) zmq_close(socket_);
  if (context_) zmq_ctx_term(context_);
  socket_ = context_ = monitor_ = nullptr;
  cv_.notify_all();
}

void SubmissionServer::run() {
  std::vector<std::string> frames;
  while (!stopping_) {
    zmq_pollitem_t items[2] = {{socket_, 0, ZMQ_POLLIN, 0}, {monitor_, 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 2, 100) <= 0) continue;
    if (items[1].revents & ZMQ_POLLIN) {
      // Monitor messages: [u16 event, u32 value][endpoint].
      std::vector<std::string> event;
      bool extra = false;
      if (receive_message(monitor_, &event, 2, &extra) && !event.empty() && event[0].size() >= 2) {
        const auto id = static_cast<std::uint16_t>(static_cast<std::uint8_t>(event[0][0]) |
                                                   (static_cast<std::uint8_t>(event[0][1]) << 8));
        std::lock_guard<std::mutex> lock(mu_);
        if (id == ZMQ_EVENT_DISCONNECTED) ++stats_.disconnects;
        else ++stats_.failed_handshakes;
      }
    }
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    bool too_many = false;
    // identity + header + payload; a fourth frame means a wrong frame count.
    if (!receive_message(socket_, &frames, 4, &too_many)) continue;
    if (frames.empty()) continue;
    const std::string identity = frames.front();
    std::vector<std::string> body(frames.begin() + 1, frames.end());
    if (too_many) body.emplace_back();  // force the frame-count reject
    if (body.size() == 1 && options_.verdict_of) {
      proto::VerdictRequest request;
      if (request.ParseFromString(body[0]) && request.kind() == kVerdictKind) {
        send_frames(socket_, {identity, answer_verdict(request.window()).SerializeAsString()});
        continue;
      }
    }
    Submission sub;
    std::size_t queued_now = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queued_now = queue_.size();
    }
    proto::Reply reply = checker_->check(body, queued_now, &sub);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.received;
      if (reply.accepted()) {
        ++stats_.accepted;
        queue_.push_back(std::move(sub));
      } else {
        ++stats_.rejected[reply.code()];
      }
    }
    if (reply.accepted()) cv_.notify_one();
    send_frames(socket_, {identity, reply.SerializeAsString()});
  }
}

proto::Reply SubmissionServer::answer_verdict(std::uint64_t window) {
  proto::Reply reply;
  auto verdict = options_.verdict_of(window);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.received;
  if (!verdict) {
    reply.set_code(proto::REJECT_NO_VERDICT);
    reply.set_reason("no verdict of window " + std::to_string(window) + " is kept here (the newest 32 are)");
    ++stats_.rejected[proto::REJECT_NO_VERDICT];
    return reply;
  }
  reply.set_accepted(true);
  reply.set_signed_verdict(std::move(*verdict));
  ++stats_.verdicts_served;
  return reply;
}

Status SubmissionChecker::load_nonces() {
  if (options_.nonce_file.empty() || !std::filesystem::exists(options_.nonce_file)) return Status::Ok();
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(options_.nonce_file));
  // One line per hotkey: 64 hex digits, a space, the last accepted nonce.
  std::map<std::string, std::uint64_t> loaded;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    auto raw = line.size() > 65 && line[64] == ' ' ? from_hex(line.substr(0, 64)) : Result<std::string>(Corrupted(""));
    const std::string digits = line.size() > 65 ? line.substr(65) : std::string();
    if (!raw.ok() || digits.empty() || digits.size() > 20 || digits.find_first_not_of("0123456789") != std::string::npos) {
      return Corrupted(options_.nonce_file.string() + " line " + std::to_string(line_no) +
                       " is not '<hotkey hex> <nonce>'; refusing to start without the replay record");
    }
    loaded[*raw] = std::stoull(digits);
  }
  last_nonce_ = std::move(loaded);
  return Status::Ok();
}

Status SubmissionChecker::save_nonces(const std::map<std::string, std::uint64_t>& nonces) const {
  if (options_.nonce_file.empty()) return Status::Ok();
  std::string text;
  for (const auto& [hotkey, nonce] : nonces) text += to_hex(hotkey) + " " + std::to_string(nonce) + "\n";
  return write_file_atomic(options_.nonce_file, text, 0600);
}

proto::Reply SubmissionChecker::check(const std::vector<std::string>& frames, std::size_t queue_size,
                                      Submission* out) {
  using proto::RejectCode;
  if (frames.size() != 2) {
    return reject(proto::REJECT_BAD_FRAMES, "expected 2 frames [header, payload], got " + std::to_string(frames.size()));
  }
  const std::string& frame_header = frames[0];
  const std::string& payload = frames[1];
  if (frame_header.size() > options_.max_header_bytes) {
    return reject(proto::REJECT_HEADER_TOO_LARGE, "header of " + std::to_string(frame_header.size()) +
                                                      " bytes exceeds the cap of " +
                                                      std::to_string(options_.max_header_bytes));
  }
  if (payload.size() > options_.max_payload_bytes) {
    return reject(proto::REJECT_PAYLOAD_TOO_LARGE, "payload of " + std::to_string(payload.size()) +
                                                       " bytes exceeds the cap of " +
                                                       std::to_string(options_.max_payload_bytes));
  }
  proto::SignedHeader signed_header;
  proto::SubmissionHeader h;
  if (!signed_header.ParseFromString(frame_header) || !h.ParseFromString(signed_header.header())) {
    return reject(proto::REJECT_MALFORMED_HEADER, "header frame is not a SignedHeader");
  }
  if (h.hotkey().size() != 32 || signed_header.signature().size() != 64) {
    return reject(proto::REJECT_MALFORMED_HEADER, "hotkey must be 32 bytes and the signature 64");
  }
  // The cheap lookups first: a key that is not registered here is refused before any
  // signature work (the claims are unauthenticated until the signature holds, but a false
  // claim only gets the sender refused).
  if (h.netuid() != options_.netuid) {
    return reject(proto::REJECT_WRONG_SUBNET, "submission for subnet " + std::to_string(h.netuid()) + ", this is " +
                                                  std::to_string(options_.netuid));
  }
  const auto uid = options_.uid_of(h.hotkey());
  if (!uid || *uid != h.uid()) {
    return reject(proto::REJECT_NOT_REGISTERED,
                  "hotkey is not registered as uid " + std::to_string(h.uid()) + " on subnet " + std::to_string(h.netuid()));
  }
  PublicKey key;
  std::memcpy(key.data(), h.hotkey().data(), 32);
  Signature sig;
  std::memcpy(sig.data(), signed_header.signature().data(), 64);
  if (!verify_signature(key, std::string(kHeaderDomain) + signed_header.header(), sig)) {
    return reject(proto::REJECT_BAD_SIGNATURE, "signature does not verify for the header's hotkey");
  }
  const std::uint64_t block = options_.current_block();
  if (!options_.schedule.accepts(h.window(), block, options_.grace_blocks)) {
    return reject(proto::REJECT_WRONG_WINDOW, "window " + std::to_string(h.window()) + " is not open at block " +
                                                  std::to_string(block) + " (current window " +
                                                  std::to_string(options_.schedule.window_of(block)) + ")");
  }
  auto last = last_nonce_.find(h.hotkey());
  if (last != last_nonce_.end() && h.nonce() <= last->second) {
    return reject(proto::REJECT_REPLAY, "nonce " + std::to_string(h.nonce()) + " is not above the last accepted " +
                                            std::to_string(last->second));
  }
  if (h.payload_size() != payload.size() || h.payload_hash() != raw_hash(payload)) {
    return reject(proto::REJECT_PAYLOAD_MISMATCH, "payload size or BLAKE2b-256 differs from the header");
  }
  auto& count = per_window_[{h.hotkey(), h.window()}];
  if (count >= options_.max_per_hotkey_per_window) {
    return reject(proto::REJECT_RATE_LIMITED, "more than " + std::to_string(options_.max_per_hotkey_per_window) +
                                                  " submissions from this hotkey in window " + std::to_string(h.window()));
  }
  if (queue_size >= options_.queue_capacity) {
    return reject(proto::REJECT_BUSY, "receive queue full (" + std::to_string(options_.queue_capacity) + "); retry");
  }
  // The record is written before the nonce counts: a submission whose nonce could not be
  // recorded is not accepted (a restart would take the same header again).
  auto nonces = last_nonce_;
  nonces[h.hotkey()] = h.nonce();
  if (Status saved = save_nonces(nonces); !saved.ok()) {
    return reject(proto::REJECT_BUSY, "cannot record the nonce (" + saved.message() + "); retry");
  }
  last_nonce_ = std::move(nonces);
  ++count;
  // Forget rate-limit entries of closed windows.
  const std::uint64_t window = options_.schedule.window_of(block);
  std::erase_if(per_window_, [window](const auto& e) { return e.first.second + 1 < window; });

  out->header = h;
  out->signed_header = frame_header;
  out->payload = payload;
  out->received_ms = now_ms();
  proto::Receipt receipt;
  receipt.set_header_hash(raw_hash(signed_header.header()));
  receipt.set_validator_hotkey(raw_bytes(identity_.public_key()));
  receipt.set_received_ms(out->received_ms);
  receipt.set_queue_position(queue_size);
  proto::Reply r;
  r.set_accepted(true);
  receipt.SerializeToString(r.mutable_receipt());
  const Signature rs = identity_.sign(std::string(kReceiptDomain) + r.receipt());
  r.set_receipt_signature(std::string(reinterpret_cast<const char*>(rs.data()), rs.size()));
  return r;
}

std::optional<Submission> SubmissionServer::pop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || stopping_; })) return std::nullopt;
  if (queue_.empty()) return std::nullopt;
  Submission s = std::move(queue_.front());
  queue_.pop_front();
  return s;
}

ServerStats SubmissionServer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::size_t SubmissionServer::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

// ---- client ----------------------------------------------------------------------------

Result<std::unique_ptr<SubmissionClient>> SubmissionClient::connect(const std::string& endpoint,
                                                                    const std::string& server_public_key) {
  if (server_public_key.size() != 32) return InvalidArgument("validator CURVE public key must be 32 bytes");
  TESSERA_ASSIGN_OR_RETURN(CurveKeys mine, CurveKeys::generate());
  std::unique_ptr<SubmissionClient> c(new SubmissionClient());
  c->context_ = zmq_ctx_new();
  c->socket_ = zmq_socket(c->context_, ZMQ_DEALER);
  const int linger = 0;
  if (zmq_setsockopt(c->socket_, ZMQ_CURVE_SERVERKEY, server_public_key.data(), 32) != 0 ||
      zmq_setsockopt(c->socket_, ZMQ_CURVE_PUBLICKEY, mine.public_key.data(), 32) != 0 ||
      zmq_setsockopt(c->socket_, ZMQ_CURVE_SECRETKEY, mine.secret_key.data(), 32) != 0 ||
      zmq_setsockopt(c->socket_, ZMQ_LINGER, &linger, sizeof linger) != 0) {
    return zmq_error("configuring the submission client");
  }
  if (zmq_connect(c->socket_, endpoint.c_str()) != 0) return zmq_error("connecting to " + endpoint);
  return c;
}

SubmissionClient::~SubmissionClient() {
  if (socket_) zmq_close(socket_);
  if (context_) zmq_ctx_term(context_);
}

Result<proto::Reply> SubmissionClient::send_frames(const std::vector<std::string>& frames,
                                                   std::chrono::milliseconds timeout) {
  if (!net::send_frames(socket_, frames)) return zmq_error("sending a submission");
  zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) {
    return IoError("no reply from the validator within " + std::to_string(timeout.count()) + " ms");
  }
  std::vector<std::string> reply_frames;
  bool too_many = false;
  if (!receive_message(socket_, &reply_frames, 2, &too_many) || reply_frames.size() != 1) {
    return Corrupted("validator reply is not one frame");
  }
  proto::Reply reply;
  if (!reply.ParseFromString(reply_frames[0])) return Corrupted("validator reply does not parse");
  return reply;
}

Result<std::string> SubmissionClient::fetch_verdict(std::uint64_t window, std::chrono::milliseconds timeout) {
  proto::VerdictRequest request;
  request.set_kind(std::string(kVerdictKind));
  request.set_window(window);
  TESSERA_ASSIGN_OR_RETURN(proto::Reply reply, send_frames({request.SerializeAsString()}, timeout));
  if (!reply.accepted()) {
    if (reply.code() == proto::REJECT_NO_VERDICT) return NotFound(reply.reason());
    return FailedPrecondition(std::string("the validator refused the verdict request (") + reject_name(reply.code()) +
                              "): " + reply.reason());
  }
  return std::move(*reply.mutable_signed_verdict());
}

Result<proto::Reply> SubmissionClient::submit(proto::SubmissionHeader header, const std::string& payload,
                                              const Keypair& hotkey, std::chrono::milliseconds timeout) {
  header.set_hotkey(raw_bytes(hotkey.public_key()));
  header.set_payload_size(payload.size());
  header.set_payload_hash(raw_hash(payload));
  if (header.timestamp_ms() == 0) header.set_timestamp_ms(now_ms());
  return send_frames({sign_header(header, hotkey), payload}, timeout);
}

}  // namespace tessera::net
