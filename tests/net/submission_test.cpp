// The submission channel over real CURVE sockets on loopback.
#include "net/submission.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <functional>
#include <optional>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "core/hash.h"

namespace tessera::net {
namespace {

struct Harness {
  CurveKeys curve = *CurveKeys::generate();
  Keypair validator = Keypair::generate();
  std::vector<Keypair> miners;
  std::atomic<std::uint64_t> block{100};
  std::unique_ptr<SubmissionServer> server;

  explicit Harness(std::size_t n_miners, std::size_t queue = 256, std::uint32_t per_window = 16,
                   std::size_t max_payload = 1 << 20, const std::function<void(ServerOptions*)>& tweak = {}) {
    for (std::size_t i = 0; i < n_miners; ++i) miners.push_back(Keypair::generate());
    ServerOptions o;
    o.netuid = 3;
    o.queue_capacity = queue;
    o.max_per_hotkey_per_window = per_window;
    o.max_payload_bytes = max_payload;
    o.schedule.blocks_per_window = 10;
    o.grace_blocks = 2;
    o.uid_of = [this](const std::string& hotkey) -> std::optional<std::uint32_t> {
      for (std::size_t i = 0; i < miners.size(); ++i) {
        if (raw_bytes(miners[i].public_key()) == hotkey) {
          return static_cast<std::uint32_t>(i);
        }
      }
      return std::nullopt;
    };
    o.current_block = [this] { return block.load(); };
    if (tweak) tweak(&o);
    auto s = SubmissionServer::start(o, validator, curve);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    server = std::move(*s);
  }
  std::unique_ptr<SubmissionClient> client() {
    auto c = SubmissionClient::connect(server->endpoint(), curve.public_key);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return std::move(*c);
  }
  proto::SubmissionHeader header(std::uint32_t uid, std::uint64_t nonce) {
    proto::SubmissionHeader h;
    h.set_netuid(3);
    h.set_window(10);  // block 100 / 10
    h.set_uid(uid);
    h.set_codec("int2-k32");
    h.set_nonce(nonce);
    h.set_validator(raw_bytes(validator.public_key()));
    return h;
  }
};

bool testing_wait(const std::function<bool()>& done) {
  for (int i = 0; i < 250; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

std::string payload_of(std::size_t client, std::size_t i) {
  std::string p(1000 + client * 37 + i, '\0');
  std::mt19937 rng(static_cast<unsigned>(client * 1000 + i));
  for (auto& ch : p) ch = static_cast<char>(rng());
  return p;
}

TEST(Submission, TwoHundredConcurrentSubmissionsFromTwentyClientsArriveIntact) {
  Harness h(20);
  std::atomic<int> accepted{0}, receipts_ok{0};
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < 20; ++c) {
    threads.emplace_back([&, c] {
      auto client = h.client();
      for (std::size_t i = 0; i < 10; ++i) {
        auto r = client->submit(h.header(static_cast<std::uint32_t>(c), i + 1), payload_of(c, i), h.miners[c]);
        if (r.ok() && r->accepted()) {
          ++accepted;
          if (verify_receipt(*r, h.validator.public_key())) ++receipts_ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted, 200);
  EXPECT_EQ(receipts_ok, 200);
  std::set<std::pair<std::uint32_t, std::uint64_t>> seen;
  for (int i = 0; i < 200; ++i) {
    auto s = h.server->pop(std::chrono::seconds(2));
    ASSERT_TRUE(s.has_value()) << "only " << i << " arrived";
    EXPECT_EQ(s->payload, payload_of(s->header.uid(), s->header.nonce() - 1));
    seen.insert({s->header.uid(), s->header.nonce()});
  }
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(h.server->stats().accepted, 200u);
}

// The validator's close: it moves the block the checks read past the window, settles the
// server and takes the queue. A delivery whose check read the block before it moved is in
// the queue then, though its check was still running when the block moved; one checked
// after is refused. Here the check stalls for 300 ms after reading the block.
TEST(Submission, SettleQueuesTheDeliveryBeingCheckedWhenTheWindowCloses) {
  std::atomic<std::uint64_t> block{100};
  std::atomic<bool> stall{false}, stalled{false};
  Harness h(2, 256, 16, 1 << 20, [&](ServerOptions* o) {
    o->current_block = [&] {
      const std::uint64_t b = block.load();
      if (stall.exchange(false)) {
        stalled = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      return b;
    };
  });
  auto client = h.client();
  const std::string payload = payload_of(0, 0);
  const std::string header = SubmissionClient::prepare(h.header(0, 1), payload, h.miners[0]);
  auto committed = client->commit(header, std::chrono::seconds(5));
  ASSERT_TRUE(committed.ok() && committed->accepted());
  // A second miner commits too, and delivers only after the close.
  auto late_client = h.client();
  const std::string late_payload = payload_of(1, 0);
  const std::string late_header = SubmissionClient::prepare(h.header(1, 1), late_payload, h.miners[1]);
  auto late_committed = late_client->commit(late_header, std::chrono::seconds(5));
  ASSERT_TRUE(late_committed.ok() && late_committed->accepted());

  stall = true;
  std::optional<Result<proto::Reply>> delivered;
  std::thread sender([&] { delivered = client->deliver(header, payload, std::chrono::seconds(5)); });
  ASSERT_TRUE(testing_wait([&] { return stalled.load(); }));
  block = 112;  // window 10 (blocks 100-109, grace 2) is closed
  h.server->settle();
  auto queued = h.server->pop(std::chrono::milliseconds(0));
  sender.join();
  ASSERT_TRUE(delivered && delivered->ok() && (*delivered)->accepted());
  ASSERT_TRUE(queued.has_value()) << "a delivery with a receipt was not queued when the server settled";
  EXPECT_EQ(queued->payload, payload);

  auto refused = late_client->deliver(late_header, late_payload, std::chrono::seconds(5));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->code(), proto::REJECT_WRONG_WINDOW) << refused->reason();
  EXPECT_FALSE(h.server->pop(std::chrono::milliseconds(100)).has_value());
}

TEST(Submission, EveryRejectReasonIsTriggeredAndReported) {
  Harness h(2, /*queue=*/256, /*per_window=*/2, /*max_payload=*/4096);
  auto c = h.client();
  const Keypair& m0 = h.miners[0];
  auto expect = [&](Result<proto::Reply> r, proto::RejectCode code, const std::string& fragment) {
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->accepted());
    EXPECT_EQ(r->code(), code) << r->reason();
    EXPECT_NE(r->reason().find(fragment), std::string::npos) << r->reason();
  };
  const auto ms = std::chrono::seconds(5);
  expect(c->send_frames({"only one"}, ms), proto::REJECT_MALFORMED_HEADER, "SignedHeader");  // a commitment that does not parse
  expect(c->send_frames({"a", "b", "c"}, ms), proto::REJECT_BAD_FRAMES, "got 3");
  expect(c->send_frames({std::string(5000, 'h'), "p"}, ms), proto::REJECT_HEADER_TOO_LARGE, "exceeds the cap");
  expect(c->submit(h.header(0, 1), std::string(5000, 'p'), m0), proto::REJECT_PAYLOAD_TOO_LARGE, "exceeds the cap");
  expect(c->send_frames({"\x0a\xff\xff garbage", "p"}, ms), proto::REJECT_MALFORMED_HEADER, "SignedHeader");
  {  // signed by another key than the header's hotkey
    auto hdr = h.header(0, 1);
    hdr.set_version(2);
    hdr.set_hotkey(raw_bytes(m0.public_key()));
    hdr.set_payload_size(1);
    hdr.set_payload_hash(raw_bytes(blake2b_256(std::string("p"))));
    std::string frame = sign_header(hdr, h.miners[1]);
    expect(c->commit(frame, ms), proto::REJECT_BAD_SIGNATURE, "does not verify");
  }
  expect(c->submit(h.header(0, 1), "p", Keypair::generate()), proto::REJECT_NOT_REGISTERED, "not registered");
  expect(c->submit(h.header(1, 1), "p", m0), proto::REJECT_NOT_REGISTERED, "uid 1");
  auto other_subnet = h.header(0, 1);
  other_subnet.set_netuid(4);
  expect(c->submit(other_subnet, "p", m0), proto::REJECT_WRONG_SUBNET, "subnet 4");
  auto old = h.header(0, 1);
  old.set_window(8);
  expect(c->submit(old, "p", m0), proto::REJECT_WRONG_WINDOW, "window 8");
  // A header made for another validator cannot be forwarded here; nor one without a
  // recipient (version 1).
  auto elsewhere = h.header(0, 1);
  elsewhere.set_validator(raw_bytes(Keypair::generate().public_key()));
  expect(c->submit(elsewhere, "p", m0), proto::REJECT_WRONG_VALIDATOR, "not this one");
  {
    auto v1 = h.header(0, 1);
    v1.clear_validator();
    v1.set_hotkey(raw_bytes(m0.public_key()));
    expect(c->commit(sign_header(v1, m0), ms), proto::REJECT_WRONG_VALIDATOR, "header version 1");
  }
  // A delivery without a commitment is refused before any signature work.
  expect(c->deliver(SubmissionClient::prepare(h.header(0, 2), "p", m0), "p", ms), proto::REJECT_NO_COMMITMENT,
         "no commitment");
  {  // payload differs from what the committed header promises
    auto hdr = h.header(0, 3);
    hdr.set_version(2);
    hdr.set_hotkey(raw_bytes(m0.public_key()));
    hdr.set_payload_size(1);
    hdr.set_payload_hash(std::string(32, '\0'));
    const std::string frame = sign_header(hdr, m0);
    ASSERT_TRUE(c->commit(frame, ms)->accepted());
    expect(c->deliver(frame, "p", ms), proto::REJECT_PAYLOAD_MISMATCH, "differs");
  }
  auto ok = c->submit(h.header(0, 5), "p", m0);
  ASSERT_TRUE(ok.ok() && ok->accepted()) << (ok.ok() ? ok->reason() : ok.status().to_string());
  expect(c->submit(h.header(0, 5), "p", m0), proto::REJECT_REPLAY, "nonce 5");
  expect(c->submit(h.header(0, 6), "p", m0), proto::REJECT_RATE_LIMITED, "more than 2");
  {  // each commitment takes one delivery: the same delivery again is refused
    const std::string frame = SubmissionClient::prepare(h.header(1, 9), "q", h.miners[1]);
    ASSERT_TRUE(c->commit(frame, ms)->accepted());
    ASSERT_TRUE(c->deliver(frame, "q", ms)->accepted());
    expect(c->deliver(frame, "q", ms), proto::REJECT_NO_COMMITMENT, "no commitment");
  }
  // The grace: window 10 is still accepted at the first blocks of window 11, not later.
  h.block = 111;
  ASSERT_TRUE(c->submit(h.header(1, 10), "p", h.miners[1])->accepted());
  h.block = 115;
  expect(c->submit(h.header(1, 12), "p", h.miners[1]), proto::REJECT_WRONG_WINDOW, "not open");
  const auto stats = h.server->stats();
  EXPECT_EQ(stats.accepted, 3u);
  EXPECT_EQ(stats.rejected.at(proto::REJECT_BAD_FRAMES), 1u);
  EXPECT_EQ(stats.rejected.at(proto::REJECT_NO_COMMITMENT), 2u);
  EXPECT_EQ(stats.rejected.at(proto::REJECT_NOT_REGISTERED), 2u);
}

TEST(Submission, HostilePeersDoNotCrashOrStallTheReceiver) {
  Harness h(1, 256, 64, 1 << 16);
  std::mt19937 rng(4);
  {
    auto bad = h.client();
    for (int i = 0; i < 50; ++i) {
      std::vector<std::string> frames(1 + rng() % 4);
      for (auto& f : frames) {
        f.resize(rng() % 300);
        for (auto& ch : f) ch = static_cast<char>(rng());
      }
      auto r = bad->send_frames(frames, std::chrono::seconds(5));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_FALSE(r->accepted());
    }
    // Truncations of a valid header frame.
    auto hdr = h.header(0, 1);
    const std::string full = sign_header(hdr, h.miners[0]);
    for (std::size_t cut = 1; cut < full.size(); cut += 7) {
      auto r = bad->send_frames({full.substr(0, cut), "p"}, std::chrono::seconds(5));
      ASSERT_TRUE(r.ok());
      EXPECT_FALSE(r->accepted());
    }
  }
  // The garbage client closed its connection: one ordinary disconnect, counted before the
  // next peer connects.
  auto disconnects = [&] { return h.server->stats().disconnects; };
  for (int i = 0; i < 100 && disconnects() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(disconnects(), 1u);
  {
    // A frame far above every cap (a "1 GB claim" is the same case at a size the test
    // can afford): libzmq drops the peer (ZMQ_MAXMSGSIZE) without buffering it. The client
    // stays open, so the disconnect counted while it lives is the server's doing.
    auto huge = h.client();
    auto r = huge->send_frames({"h", std::string(4 << 20, 'x')}, std::chrono::milliseconds(800));
    EXPECT_FALSE(r.ok());
    for (int i = 0; i < 100 && disconnects() == 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(disconnects(), 2u);
  }
  {
    // A client with the wrong server key fails the CURVE handshake, and it is counted.
    auto wrong = SubmissionClient::connect(h.server->endpoint(), CurveKeys::generate()->public_key);
    ASSERT_TRUE(wrong.ok());
    EXPECT_FALSE((*wrong)->send_frames({"h", "p"}, std::chrono::milliseconds(500)).ok());
    for (int i = 0; i < 100 && h.server->stats().failed_handshakes == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GE(h.server->stats().failed_handshakes, 1u);
  }
  // The receiver still serves honest peers.
  auto c = h.client();
  auto r = c->submit(h.header(0, 1), "payload", h.miners[0]);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->accepted()) << r->reason();
  EXPECT_GE(h.server->stats().received, 50u);
}

TEST(Submission, QueueIsBoundedUnderAFlood) {
  Harness h(1, /*queue=*/8, /*per_window=*/1000);
  auto c = h.client();
  int accepted = 0, busy = 0;
  for (int i = 1; i <= 60; ++i) {
    auto r = c->submit(h.header(0, static_cast<std::uint64_t>(i)), std::string(10000, 'x'), h.miners[0]);
    ASSERT_TRUE(r.ok());
    if (r->accepted()) ++accepted;
    else if (r->code() == proto::REJECT_BUSY) ++busy;
  }
  EXPECT_EQ(accepted, 8);
  EXPECT_EQ(busy, 52);
  EXPECT_EQ(h.server->queued(), 8u);
  ASSERT_TRUE(h.server->pop(std::chrono::seconds(1)).has_value());  // space again
  EXPECT_TRUE(c->submit(h.header(0, 100), "x", h.miners[0])->accepted());
}

std::size_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Many connections, each sending 4-frame messages of frames just under the transport's
// cap as fast as libzmq takes them, from another process: the validator's RSS stays
// under the bound docs/protocol.md ("Memory") gives — connections × peer_hwm × frames ×
// frame size — with connections over the cap refused at the handshake; and it still
// serves an honest miner afterwards.
TEST(Submission, MemoryStaysBoundedUnderAFloodOfConnections) {
  constexpr int kConnections = 32, kAdmitted = 8, kFrames = 4;
  constexpr std::size_t kMaxPayload = 1 << 20;
  constexpr std::size_t kFrame = kMaxPayload + (1 << 20) - 4096;  // under ZMQ_MAXMSGSIZE: buffered, not dropped
  Harness h(1, 256, 16, kMaxPayload, [](ServerOptions* o) {
    o->max_connections = kAdmitted;
    o->peer_hwm = 2;
  });
  const std::size_t before = rss_bytes();
  const std::string endpoint = h.server->endpoint(), server_key = h.curve.public_key;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the flood: its own process, its own libzmq context
    void* ctx = zmq_ctx_new();
    std::vector<void*> sockets;
    const std::string frame(kFrame, 'f');
    for (int i = 0; i < kConnections; ++i) {
      auto mine = CurveKeys::generate();
      void* s = zmq_socket(ctx, ZMQ_DEALER);
      const int linger = 0, hwm = 1000;
      zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key.data(), 32);
      zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, mine->public_key.data(), 32);
      zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, mine->secret_key.data(), 32);
      zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
      zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
      zmq_connect(s, endpoint.c_str());
      sockets.push_back(s);
    }
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    while (std::chrono::steady_clock::now() < end) {
      for (void* s : sockets) {
        if (zmq_send(s, frame.data(), frame.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) continue;
        for (int f = 1; f < kFrames; ++f) zmq_send(s, frame.data(), frame.size(), f + 1 < kFrames ? ZMQ_SNDMORE : 0);
        char sink[256];
        while (zmq_recv(s, sink, sizeof sink, ZMQ_DONTWAIT) >= 0) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (void* s : sockets) zmq_close(s);
    zmq_ctx_term(ctx);
    _exit(0);
  }
  std::size_t peak = before;
  for (int status = 0; waitpid(child, &status, WNOHANG) == 0;) {
    peak = std::max(peak, rss_bytes());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::size_t bound = static_cast<std::size_t>(kAdmitted) * 2 * kFrames * (kMaxPayload + (1 << 20));
  const auto stats = h.server->stats();
  std::printf("flood: %d connections, %d admitted, peak RSS growth %.1f MiB (bound %.1f MiB), refused %llu, "
              "received %llu\n",
              kConnections, kAdmitted, static_cast<double>(peak - before) / (1 << 20),
              static_cast<double>(bound) / (1 << 20), static_cast<unsigned long long>(stats.refused_connections),
              static_cast<unsigned long long>(stats.received));
  EXPECT_LT(peak - before, bound + (std::size_t{64} << 20));
  EXPECT_GE(stats.refused_connections, static_cast<std::uint64_t>(kConnections - kAdmitted));
  EXPECT_GT(stats.rejected.count(proto::REJECT_BAD_FRAMES) ? stats.rejected.at(proto::REJECT_BAD_FRAMES) : 0u, 0u);
  // Still serving: an honest submission once the flood's connections are gone.
  ASSERT_TRUE(testing_wait([&] { return h.server->stats().connections == 0; }));
  auto c = h.client();
  auto r = c->submit(h.header(0, 1), "payload", h.miners[0]);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->accepted()) << r->reason();
}

// The TCP sockets this process holds whose peer listens on `port` (the clients' ends of
// connections to a server on this host).
std::set<int> sockets_to_port(int port) {
  std::set<int> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 || peer.ss_family != AF_INET) continue;
    if (ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port) == port) out.insert(fd);
  }
  return out;
}

// A hostile peer fills its inbound pipe while the receive thread is busy, then resets the
// connection. libzmq 4.3 leaves that connection waiting for the application to drain the
// pipe, and a ZMTP heartbeat coming due meanwhile aborts the process
// (`!_io_error`, stream_engine_base.cpp:331): the server must not run ZMTP heartbeats.
// The receive thread is held here for longer than the 5 s heartbeat interval it once used
// (which aborted this test).
TEST(Submission, APeerResettingWithAFullPipeWhileTheServerIsBusyDoesNotAbortIt) {
  std::atomic<bool> armed{false}, holding{false};
  Harness h(1, 256, 16, 1 << 20, [&armed, &holding](ServerOptions* o) {
    o->peer_hwm = 2;
    auto inner = o->uid_of;
    o->uid_of = [&armed, &holding, inner](const std::string& hotkey) {
      if (armed && !holding.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(6500));
      return inner(hotkey);
    };
  });
  const std::string endpoint = h.server->endpoint();
  const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));

  // The hostile peer connects and finishes its handshake (its junk is answered) first:
  // the ZAP handler runs on the receive thread, which is about to be held.
  auto honest = h.client();
  auto connected = honest->submit(h.header(0, 1), "payload", h.miners[0]);
  ASSERT_TRUE(connected.ok() && connected->accepted());
  const std::set<int> before = sockets_to_port(port);
  void* ctx = zmq_ctx_new();
  void* hostile = zmq_socket(ctx, ZMQ_DEALER);
  auto mine = CurveKeys::generate();
  const int no_linger = 0, reply_ms = 5000;
  zmq_setsockopt(hostile, ZMQ_CURVE_SERVERKEY, h.curve.public_key.data(), 32);
  zmq_setsockopt(hostile, ZMQ_CURVE_PUBLICKEY, mine->public_key.data(), 32);
  zmq_setsockopt(hostile, ZMQ_CURVE_SECRETKEY, mine->secret_key.data(), 32);
  zmq_setsockopt(hostile, ZMQ_LINGER, &no_linger, sizeof no_linger);
  zmq_setsockopt(hostile, ZMQ_RCVTIMEO, &reply_ms, sizeof reply_ms);
  ASSERT_EQ(zmq_connect(hostile, endpoint.c_str()), 0);
  const std::string junk(64 << 10, 'j');
  zmq_send(hostile, junk.data(), junk.size(), ZMQ_SNDMORE);
  zmq_send(hostile, junk.data(), junk.size(), 0);
  char reply[512];
  ASSERT_GT(zmq_recv(hostile, reply, sizeof reply, 0), 0) << "the hostile peer's handshake did not finish";
  std::set<int> added;
  for (int fd : sockets_to_port(port)) {
    if (!before.count(fd)) added.insert(fd);
  }
  ASSERT_EQ(added.size(), 1u) << "the hostile peer's connection";

  // The receive thread is held by the honest submission; the hostile peer fills its pipe
  // and resets the connection (SO_LINGER 0: close() sends RST).
  std::optional<Result<proto::Reply>> first;
  armed = true;
  std::thread busy([&] { first = honest->submit(h.header(0, 2), "payload 2", h.miners[0]); });
  ASSERT_TRUE(testing_wait([&] { return holding.load(); }));
  for (int i = 0; i < 8; ++i) {
    zmq_send(hostile, junk.data(), junk.size(), ZMQ_SNDMORE);
    zmq_send(hostile, junk.data(), junk.size(), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const struct linger reset{1, 0};
  ASSERT_EQ(setsockopt(*added.begin(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
  zmq_close(hostile);
  zmq_ctx_term(ctx);

  busy.join();  // the receive thread is free again, well after a heartbeat would have come due
  ASSERT_TRUE(first.has_value() && first->ok()) << (first ? first->status().to_string() : "no reply");
  EXPECT_TRUE((*first)->accepted()) << (*first)->reason();
  ASSERT_TRUE(testing_wait([&] { return h.server->stats().connections == 1; }))  // the hostile one is gone
      << h.server->stats().connections << " connections";
  auto again = honest->submit(h.header(0, 3), "payload 3", h.miners[0]);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->accepted()) << again->reason();
}

// A checker with one registered miner (uid 0) on subnet 3, at block 100 of 10-block windows.
ServerOptions checker_options(const Keypair& miner, std::filesystem::path nonce_file = {}) {
  ServerOptions o;
  o.netuid = 3;
  o.schedule.blocks_per_window = 10;
  const std::string key = raw_bytes(miner.public_key());
  o.uid_of = [key](const std::string& k) -> std::optional<std::uint32_t> {
    if (k == key) return 0u;
    return std::nullopt;
  };
  o.current_block = [] { return std::uint64_t{100}; };
  o.nonce_file = std::move(nonce_file);
  return o;
}

// [signed header, payload] of a submission to `validator`.
std::vector<std::string> frames(const Keypair& miner, const Keypair& validator, std::uint32_t uid, std::uint64_t nonce,
                                const std::string& payload) {
  proto::SubmissionHeader h;
  h.set_version(2);
  h.set_validator(raw_bytes(validator.public_key()));
  h.set_netuid(3);
  h.set_window(10);
  h.set_uid(uid);
  h.set_codec("int2-k32");
  h.set_nonce(nonce);
  h.set_hotkey(raw_bytes(miner.public_key()));
  h.set_payload_size(payload.size());
  h.set_payload_hash(raw_bytes(blake2b_256(payload)));
  return {sign_header(h, miner), payload};
}

// Two registered miners: `a` as uid 0, `b` as uid 1.
ServerOptions two_miner_options(const Keypair& a, const Keypair& b) {
  ServerOptions o = checker_options(a);
  const std::string ka = raw_bytes(a.public_key()), kb = raw_bytes(b.public_key());
  o.uid_of = [ka, kb](const std::string& k) -> std::optional<std::uint32_t> {
    if (k == ka) return 0u;
    if (k == kb) return 1u;
    return std::nullopt;
  };
  return o;
}

// The commitment, then the delivery; the delivery's reply (or the commitment's refusal).
proto::Reply commit_and_deliver(SubmissionChecker& checker, const std::vector<std::string>& f, Submission* out) {
  proto::Reply committed = checker.check({f[0]}, {}, out);
  if (!committed.accepted()) return committed;
  return checker.check(f, {}, out);
}

TEST(SubmissionChecks, AnUnregisteredKeyIsRefusedBeforeAnySignatureWork) {
  const Keypair miner = Keypair::generate(), stranger = Keypair::generate(), validator = Keypair::generate();
  SubmissionChecker checker(checker_options(miner), validator);
  // A stranger's header with a signature of zeros: refused as unregistered, which the
  // checker can only say if it looked the key up before verifying the signature.
  auto f = frames(stranger, validator, 0, 1, "payload");
  proto::SignedHeader signed_header;
  ASSERT_TRUE(signed_header.ParseFromString(f[0]));
  signed_header.set_signature(std::string(64, '\0'));
  f[0] = signed_header.SerializeAsString();
  Submission out;
  EXPECT_EQ(checker.check({f[0]}, {}, &out).code(), proto::REJECT_NOT_REGISTERED);
  // The registered key with a bad signature still fails on the signature.
  auto forged = frames(miner, validator, 0, 1, "payload");
  ASSERT_TRUE(signed_header.ParseFromString(forged[0]));
  signed_header.set_signature(std::string(64, '\0'));
  forged[0] = signed_header.SerializeAsString();
  EXPECT_EQ(checker.check({forged[0]}, {}, &out).code(), proto::REJECT_BAD_SIGNATURE);
  // A delivery is matched against commitments before anything else: no signature work.
  EXPECT_EQ(checker.check(forged, {}, &out).code(), proto::REJECT_NO_COMMITMENT);
}

// Copy priority is commitment order, whatever order the payloads arrive in: a miner
// that commits first keeps its place even when a copier delivers first.
TEST(SubmissionChecks, CommitmentOrderIsKeptWhateverTheDeliveryOrder) {
  const Keypair a = Keypair::generate(), b = Keypair::generate(), validator = Keypair::generate();
  const ServerOptions o = two_miner_options(a, b);
  SubmissionChecker checker(o, validator);
  const auto fa = frames(a, validator, 0, 1, "original"), fb = frames(b, validator, 1, 1, "copy");
  Submission out_a, out_b;
  ASSERT_TRUE(checker.check({fa[0]}, {}, &out_a).accepted());
  ASSERT_TRUE(checker.check({fb[0]}, {}, &out_b).accepted());
  ASSERT_TRUE(checker.check(fb, {}, &out_b).accepted());
  ASSERT_TRUE(checker.check(fa, {}, &out_a).accepted());
  EXPECT_LT(out_a.commitment_seq, out_b.commitment_seq);
  // A second commitment in the same window is refused (one payload per hotkey per window).
  const auto again = checker.check({frames(a, validator, 0, 2, "again")[0]}, {}, &out_a);
  EXPECT_EQ(again.code(), proto::REJECT_RATE_LIMITED) << again.reason();
}

// A byte copy names its original even when the original's delivery never comes: the
// first uid to commit a payload hash in a window is remembered. The original itself, and
// a payload nobody committed before, name none.
TEST(SubmissionChecks, AByteCopyNamesTheEarlierCommitterWhoseDeliveryNeverCame) {
  const Keypair a = Keypair::generate(), b = Keypair::generate(), validator = Keypair::generate();
  const ServerOptions o = two_miner_options(a, b);
  SubmissionChecker checker(o, validator);
  const auto original = frames(a, validator, 0, 1, "original"), copy = frames(b, validator, 1, 1, "original");
  Submission out;
  ASSERT_TRUE(checker.check({original[0]}, {}, &out).accepted());  // a commits and never delivers
  ASSERT_TRUE(commit_and_deliver(checker, copy, &out).accepted());
  ASSERT_TRUE(out.earlier_committer.has_value());
  EXPECT_EQ(*out.earlier_committer, 0u);

  SubmissionChecker fresh(o, validator);
  Submission own;
  ASSERT_TRUE(commit_and_deliver(fresh, frames(a, validator, 0, 1, "original"), &own).accepted());
  EXPECT_FALSE(own.earlier_committer.has_value());
  Submission other;
  ASSERT_TRUE(commit_and_deliver(fresh, frames(b, validator, 1, 1, "different"), &other).accepted());
  EXPECT_FALSE(other.earlier_committer.has_value());
}

TEST(SubmissionChecks, NoncesSurviveARestart) {
  const Keypair miner = Keypair::generate(), validator = Keypair::generate();
  const auto dir = std::filesystem::temp_directory_path() / ("tessera-nonces-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "nonces";
  const auto first = frames(miner, validator, 0, 7, "first");
  {
    SubmissionChecker checker(checker_options(miner, file), validator);
    ASSERT_TRUE(checker.load_nonces().ok());
    Submission out;
    ASSERT_TRUE(commit_and_deliver(checker, first, &out).accepted());
  }
  // A new validator process: the same frames again are a replay; a higher nonce is fine.
  SubmissionChecker restarted(checker_options(miner, file), validator);
  ASSERT_TRUE(restarted.load_nonces().ok());
  Submission out;
  const proto::Reply replay = commit_and_deliver(restarted, first, &out);
  EXPECT_FALSE(replay.accepted());
  EXPECT_EQ(replay.code(), proto::REJECT_REPLAY) << replay.reason();
  auto opts = checker_options(miner, file);
  opts.current_block = [] { return std::uint64_t{110}; };  // the next window: one commitment per window
  SubmissionChecker next_window(opts, validator);
  ASSERT_TRUE(next_window.load_nonces().ok());
  auto second = frames(miner, validator, 0, 8, "second");
  proto::SubmissionHeader h;
  proto::SignedHeader sh;
  ASSERT_TRUE(sh.ParseFromString(second[0]) && h.ParseFromString(sh.header()));
  h.set_window(11);
  second[0] = sign_header(h, miner);
  EXPECT_TRUE(commit_and_deliver(next_window, second, &out).accepted());
  // An edited record is refused, naming the file, rather than silently forgotten.
  std::ofstream(file, std::ios::app) << "not a nonce line\n";
  SubmissionChecker damaged(checker_options(miner, file), validator);
  const Status loaded = damaged.load_nonces();
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.message().find("nonces line 2"), std::string::npos) << loaded.message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tessera::net
