#include "net/submission.h"

#include <zmq.h>

#include <cstring>

#include "core/file_io.h"
#include "core/hash.h"
#include "core/metrics.h"

namespace tessera::net {

namespace {

constexpr std::string_view kHeaderDomain{"tessera-submission/2\0", 21};
constexpr std::uint32_t kHeaderVersion = 2;
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

// Every message a validator's submission server answers, for --metrics-listen: refusals
// by reason (a bounded set: the RejectCode names), accepted commitments and deliveries,
// and the payload bytes queued for evaluation.
void record_message_metrics(const proto::Reply& reply, std::size_t payload_bytes, bool delivery) {
  auto& r = metrics::registry();
  if (!reply.accepted()) {
    r.counter("tessera_validator_rejected_total", "Submission messages refused on receipt, by reason.",
              {{"reason", reject_name(reply.code())}})
        .inc();
    return;
  }
  r.counter("tessera_validator_accepted_messages_total", "Submission messages accepted on receipt, by kind.",
            {{"kind", delivery ? "delivery" : "commitment"}})
      .inc();
  if (delivery) {
    r.counter("tessera_validator_received_bytes_total", "Payload bytes accepted for evaluation.")
        .inc(static_cast<double>(payload_bytes));
  }
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
  // The ZAP handler (answered on the receive thread) admits a CURVE handshake only while
  // fewer than max_connections peers are connected. It must be bound before the socket.
  s->zap_ = zmq_socket(s->context_, ZMQ_REP);
  if (zmq_bind(s->zap_, "inproc://zeromq.zap.01") != 0) return zmq_error("binding the ZAP handler");
  s->socket_ = zmq_socket(s->context_, ZMQ_ROUTER);
  const int one = 1, linger = 0;
  // Frames far above the caps (more than 1 MiB over) are dropped by libzmq before they are
  // buffered, and the peer is disconnected; frames a little over get a clean reject.
  const std::int64_t max_msg =
      static_cast<std::int64_t>(std::max(options.max_payload_bytes, options.max_header_bytes) + (1u << 20));
  const int hwm = std::max(1, options.peer_hwm);
  // No ZMTP heartbeats (docs/protocol.md "Memory"): in libzmq 4.3 a heartbeat that comes due
  // on a connection the peer reset while its inbound pipe was full aborts the process.
  // Dead peers are found by TCP keepalive, in the kernel.
  const int keepalive = 1, keepalive_count = 3;
  if (zmq_setsockopt(s->socket_, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_CURVE_SECRETKEY, curve.secret_key.data(), 32) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_ZAP_DOMAIN, "tessera", 7) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_HANDSHAKE_IVL, &options.handshake_timeout_ms, sizeof(int)) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_TCP_KEEPALIVE, &keepalive, sizeof(int)) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_TCP_KEEPALIVE_IDLE, &options.keepalive_idle_s, sizeof(int)) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_TCP_KEEPALIVE_INTVL, &options.keepalive_interval_s, sizeof(int)) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_TCP_KEEPALIVE_CNT, &keepalive_count, sizeof(int)) != 0 ||
      zmq_setsockopt(s->socket_, ZMQ_LINGER, &linger, sizeof linger) != 0) {
    return zmq_error("configuring the submission socket");
  }
  if (zmq_bind(s->socket_, options.bind.c_str()) != 0) return zmq_error("binding " + options.bind);
  char endpoint[256];
  std::size_t len = sizeof endpoint;
  zmq_getsockopt(s->socket_, ZMQ_LAST_ENDPOINT, endpoint, &len);
  s->endpoint_ = endpoint;
  // Transport events (drops, failed handshakes) are counted through a socket monitor;
  // with the ZAP admissions they give the connections held now.
  const std::string monitor_address = "inproc://submission-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(s.get()));
  if (zmq_socket_monitor(s->socket_, monitor_address.c_str(),
                         ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
    return zmq_error("monitoring the submission socket");
  }
  s->monitor_ = zmq_socket(s->context_, ZMQ_PAIR);
  zmq_setsockopt(s->monitor_, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(s->zap_, ZMQ_LINGER, &linger, sizeof linger);
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
  if (zap_) zmq_close(zap_);
  if (context_) zmq_ctx_term(context_);
  socket_ = context_ = monitor_ = zap_ = nullptr;
  cv_.notify_all();
}

// ZAP (RFC 27): admit the handshake while under the connection cap. Request frames:
// version, request id, domain, address, identity, mechanism, credentials…
void SubmissionServer::answer_zap() {
  std::vector<std::string> request;
  bool extra = false;
  if (!receive_message(zap_, &request, 8, &extra) || request.size() < 2) return;
  bool admit = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    admit = stats_.connections < options_.max_connections;
    if (admit) {
      ++admitted_;
    } else {
      ++stats_.refused_connections;
    }
    update_connections();
  }
  send_frames(zap_, {"1.0", request[1], admit ? "200" : "400", admit ? "OK" : "too many connections", "", ""});
}

// Peers admitted by ZAP and still connected: every disconnect ends a connection, and
// those whose handshake failed (refused by ZAP among them) were never admitted. Guarded
// by mu_.
void SubmissionServer::update_connections() {
  const std::int64_t live = static_cast<std::int64_t>(admitted_) -
                            (static_cast<std::int64_t>(stats_.disconnects) - static_cast<std::int64_t>(stats_.failed_handshakes));
  stats_.connections = static_cast<int>(std::max<std::int64_t>(0, live));
}

void SubmissionServer::run() {
  std::vector<std::string> frames;
  while (!stopping_) {
    zmq_pollitem_t items[3] = {{socket_, 0, ZMQ_POLLIN, 0}, {monitor_, 0, ZMQ_POLLIN, 0}, {zap_, 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 3, 100) <= 0) continue;
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
        update_connections();
      }
    }
    if (items[2].revents & ZMQ_POLLIN) answer_zap();
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    bool too_many = false;
    // identity + header + payload; a fourth frame means a wrong frame count.
    if (!receive_message(socket_, &frames, 4, &too_many)) continue;
    if (frames.empty()) continue;
    const std::string identity = frames.front();
    std::vector<std::string> body(frames.begin() + 1, frames.end());
    frames.clear();
    if (too_many) body.emplace_back();  // force the frame-count reject
    if (body.size() == 1 && options_.verdict_of) {
      proto::VerdictRequest request;
      // A verdict request starts with its kind (field 1); anything else (a commitment) is
      // not parsed as one, which would log protobuf's UTF-8 complaint for every commitment.
      static const std::string kind_prefix =
          std::string("\x0a") + static_cast<char>(kVerdictKind.size()) + std::string(kVerdictKind);
      if (body[0].rfind(kind_prefix, 0) == 0 && request.ParseFromString(body[0]) && request.kind() == kVerdictKind) {
        send_frames(socket_, {identity, answer_verdict(request.window()).SerializeAsString()});
        continue;
      }
    }
    Submission sub;
    QueueLoad load;
    std::unique_lock<std::mutex> checking(check_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      load = {queue_.size(), queued_bytes_};
    }
    proto::Reply reply = checker_->check(body, load, &sub);
    const bool delivered = reply.accepted() && body.size() == 2;
    record_message_metrics(reply, delivered ? sub.payload.size() : 0, body.size() == 2);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.received;
      if (!reply.accepted()) {
        ++stats_.rejected[reply.code()];
      } else if (delivered) {
        ++stats_.accepted;
        queued_bytes_ += sub.payload.size();
        queue_.push_back(std::move(sub));
      } else {
        ++stats_.commitments;
      }
    }
    checking.unlock();
    if (delivered) cv_.notify_one();
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

// The payload cap, for the size a commitment declares and the size a delivery carries.
std::optional<proto::Reply> SubmissionChecker::payload_too_large(std::uint64_t size) const {
  if (size <= options_.max_payload_bytes) return std::nullopt;
  return reject(proto::REJECT_PAYLOAD_TOO_LARGE, "payload of " + std::to_string(size) + " bytes exceeds the cap of " +
                                                     std::to_string(options_.max_payload_bytes));
}

// Whether the header's window still takes submissions at the current block (with grace).
std::optional<proto::Reply> SubmissionChecker::window_closed(const proto::SubmissionHeader& h) const {
  const std::uint64_t block = options_.current_block();
  if (options_.schedule.accepts(h.window(), block, options_.grace_blocks)) return std::nullopt;
  return reject(proto::REJECT_WRONG_WINDOW, "window " + std::to_string(h.window()) + " is not open at block " +
                                                std::to_string(block) + " (current window " +
                                                std::to_string(options_.schedule.window_of(block)) + ")");
}

// Size caps and parsing of frame 1, shared by commitments and deliveries; nullopt when
// they pass.
std::optional<proto::Reply> SubmissionChecker::parse_header(const std::string& frame, proto::SignedHeader* signed_header,
                                                            proto::SubmissionHeader* h) const {
  if (frame.size() > options_.max_header_bytes) {
    return reject(proto::REJECT_HEADER_TOO_LARGE, "header of " + std::to_string(frame.size()) +
                                                      " bytes exceeds the cap of " +
                                                      std::to_string(options_.max_header_bytes));
  }
  if (!signed_header->ParseFromString(frame) || !h->ParseFromString(signed_header->header())) {
    return reject(proto::REJECT_MALFORMED_HEADER, "header frame is not a SignedHeader");
  }
  if (h->hotkey().size() != 32 || signed_header->signature().size() != 64) {
    return reject(proto::REJECT_MALFORMED_HEADER, "hotkey must be 32 bytes and the signature 64");
  }
  return std::nullopt;
}

proto::Reply SubmissionChecker::check(const std::vector<std::string>& frames, const QueueLoad& load, Submission* out) {
  if (frames.size() == 1) return commit(frames[0]);
  if (frames.size() == 2) return deliver(frames[0], frames[1], load, out);
  return reject(proto::REJECT_BAD_FRAMES, "expected [header] (a commitment) or [header, payload], got " +
                                              std::to_string(frames.size()) + " frames");
}

// A commitment: the signed header alone, before any payload. Every check that needs the
// chain or a signature runs here, once; the delivery then only matches bytes.
proto::Reply SubmissionChecker::commit(const std::string& frame) {
  proto::SignedHeader signed_header;
  proto::SubmissionHeader h;
  if (auto bad = parse_header(frame, &signed_header, &h)) return *bad;
  if (h.version() != kHeaderVersion) {
    return reject(proto::REJECT_WRONG_VALIDATOR, "header version " + std::to_string(h.version() ? h.version() : 1) +
                                                     ": this validator takes version 2 (headers bound to one validator)");
  }
  if (h.validator() != raw_bytes(identity_.public_key())) {
    return reject(proto::REJECT_WRONG_VALIDATOR, "the header is for validator " + to_hex(h.validator()).substr(0, 16) +
                                                     "…, not this one (" + identity_.public_hex().substr(0, 16) + "…)");
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
  if (auto bad = payload_too_large(h.payload_size())) return *bad;
  PublicKey key;
  std::memcpy(key.data(), h.hotkey().data(), 32);
  Signature sig;
  std::memcpy(sig.data(), signed_header.signature().data(), 64);
  if (!verify_signature(key, std::string(kHeaderDomain) + signed_header.header(), sig)) {
    return reject(proto::REJECT_BAD_SIGNATURE, "signature does not verify for the header's hotkey");
  }
  if (auto closed = window_closed(h)) return *closed;
  auto last = last_nonce_.find(h.hotkey());
  if (last != last_nonce_.end() && h.nonce() <= last->second) {
    return reject(proto::REJECT_REPLAY, "nonce " + std::to_string(h.nonce()) + " is not above the last accepted " +
                                            std::to_string(last->second));
  }
  auto& count = per_window_[{h.hotkey(), h.window()}];
  if (count >= options_.max_per_hotkey_per_window) {
    return reject(proto::REJECT_RATE_LIMITED, "more than " + std::to_string(options_.max_per_hotkey_per_window) +
                                                  " commitment(s) from this hotkey in window " + std::to_string(h.window()));
  }
  // The record is written before the nonce counts: a commitment whose nonce could not be
  // recorded is not accepted (a restart would take the same header again).
  auto nonces = last_nonce_;
  nonces[h.hotkey()] = h.nonce();
  if (Status saved = save_nonces(nonces); !saved.ok()) {
    return reject(proto::REJECT_BUSY, "cannot record the nonce (" + saved.message() + "); retry");
  }
  last_nonce_ = std::move(nonces);
  ++count;
  // Forget rate-limit entries and commitments of closed windows.
  const std::uint64_t window = options_.schedule.window_of(options_.current_block());
  std::erase_if(per_window_, [window](const auto& e) { return e.first.second + 1 < window; });
  std::erase_if(commitments_, [window](const auto& e) { return e.second.window + 1 < window; });
  std::erase_if(first_committer_, [window](const auto& e) { return e.first.first + 1 < window; });
  const std::uint64_t seq = ++commitment_seq_;
  const std::string header_hash = raw_hash(signed_header.header());
  commitments_[header_hash] = {seq, h.window()};
  first_committer_.try_emplace({h.window(), h.payload_hash()}, h.uid());
  return receipt(header_hash, 0, seq, /*commitment=*/true);
}

// A delivery: [header, payload] whose header bytes this validator committed to. No
// signature work: the bytes were verified at the commitment.
proto::Reply SubmissionChecker::deliver(const std::string& frame, const std::string& payload, const QueueLoad& load,
                                        Submission* out) {
  if (auto bad = payload_too_large(payload.size())) return *bad;
  proto::SignedHeader signed_header;
  proto::SubmissionHeader h;
  if (auto bad = parse_header(frame, &signed_header, &h)) return *bad;
  const std::string header_hash = raw_hash(signed_header.header());
  auto committed = commitments_.find(header_hash);
  if (committed == commitments_.end()) {
    return reject(proto::REJECT_NO_COMMITMENT, "no commitment of this header was received (send [header] first, "
                                               "then [header, payload]; each commitment takes one delivery)");
  }
  if (auto closed = window_closed(h)) return *closed;
  if (h.payload_size() != payload.size() || h.payload_hash() != raw_hash(payload)) {
    return reject(proto::REJECT_PAYLOAD_MISMATCH, "payload size or BLAKE2b-256 differs from the header");
  }
  if (load.messages >= options_.queue_capacity || load.bytes + payload.size() > options_.max_queued_bytes) {
    return reject(proto::REJECT_BUSY, "receive queue full (" + std::to_string(load.messages) + " submissions, " +
                                          std::to_string(load.bytes) + " bytes held; caps " +
                                          std::to_string(options_.queue_capacity) + " and " +
                                          std::to_string(options_.max_queued_bytes) + "); retry");
  }
  const std::uint64_t seq = committed->second.seq;
  commitments_.erase(committed);
  out->header = h;
  out->signed_header = frame;
  out->payload = payload;
  out->received_ms = now_ms();
  out->commitment_seq = seq;
  out->earlier_committer.reset();
  if (auto first = first_committer_.find({h.window(), h.payload_hash()});
      first != first_committer_.end() && first->second != h.uid()) {
    out->earlier_committer = first->second;
  }
  return receipt(header_hash, load.messages, seq, /*commitment=*/false);
}

proto::Reply SubmissionChecker::receipt(const std::string& header_hash, std::size_t queue_position, std::uint64_t seq,
                                        bool commitment) const {
  proto::Receipt receipt;
  receipt.set_header_hash(header_hash);
  receipt.set_validator_hotkey(raw_bytes(identity_.public_key()));
  receipt.set_received_ms(now_ms());
  receipt.set_queue_position(queue_position);
  receipt.set_commitment(commitment);
  receipt.set_commitment_seq(seq);
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
  queued_bytes_ -= s.payload.size();
  return s;
}

void SubmissionServer::settle() { std::lock_guard<std::mutex> lock(check_mu_); }

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

std::string SubmissionClient::prepare(proto::SubmissionHeader header, const std::string& payload, const Keypair& hotkey) {
  header.set_version(kHeaderVersion);
  header.set_hotkey(raw_bytes(hotkey.public_key()));
  header.set_payload_size(payload.size());
  header.set_payload_hash(raw_hash(payload));
  if (header.timestamp_ms() == 0) header.set_timestamp_ms(now_ms());
  return sign_header(header, hotkey);
}

Result<proto::Reply> SubmissionClient::commit(const std::string& signed_header, std::chrono::milliseconds timeout) {
  return send_frames({signed_header}, timeout);
}

Result<proto::Reply> SubmissionClient::deliver(const std::string& signed_header, const std::string& payload,
                                               std::chrono::milliseconds timeout) {
  return send_frames({signed_header, payload}, timeout);
}

Result<proto::Reply> SubmissionClient::submit(proto::SubmissionHeader header, const std::string& payload,
                                              const Keypair& hotkey, std::chrono::milliseconds timeout) {
  const std::string signed_header = prepare(std::move(header), payload, hotkey);
  TESSERA_ASSIGN_OR_RETURN(proto::Reply committed, commit(signed_header, timeout));
  if (!committed.accepted()) return committed;
  return deliver(signed_header, payload, timeout);
}

}  // namespace tessera::net
