// A hostile CheckpointService: it serves a real checkpoint's name but lies about it in
// every way a server can (sizes, manifests, signatures, pace, length). Each pull must be
// refused before it allocates or writes what the lie claims, within its deadline, naming
// why; and an honest mirror behind the liar must still deliver.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "chain-bridge/client.h"
#include "chain-bridge/node.h"
#include "checkpoints/follower.h"
#include "checkpoints/service.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "net/grpc.h"
#include "proto/checkpoint.grpc.pb.h"
#include "tests/test_util.h"

namespace tessera::checkpoints {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

enum class Lie {
  kSizes,          // honest manifest, a 15 GB model_bytes
  kHugeManifest,   // a manifest whose shapes claim 15 GB, served under the asked-for name
  kResigned,       // the real manifest re-signed with another key (the content hash is unchanged)
  kDrip,           // the right bytes, one small chunk every 200 ms
  kStall,          // the stream opens and nothing ever comes
  kEmptyForever,   // zero-length chunks at the right offset, forever
  kTooMuch,        // the real bytes, then more, forever
};

struct Honest {
  testing::TempDir dir;
  CheckpointStore store = *CheckpointStore::open(dir.path() / "store");
  Keypair aggregator = Keypair::generate();
  std::string hash;
  Honest() {
    Manifest m;
    m.run_id = "hostile";
    m.window = 4;
    NamedTensors t = {{"wte.weight", torch::randn({256, 128})}, {"ln_f.bias", torch::randn({128})}};
    hash = *store.put(t, m, aggregator);
  }
  fs::path object() const { return store.root() / "objects" / hash; }
};

// A pull of `honest`'s checkpoint from `address` with short limits (deadline 4 s, 64 KiB/s
// after 0.5 s), expecting its hash and its aggregator's signature.
PullOptions tight_pull(const Honest& honest, const std::string& address, const fs::path& out) {
  PullOptions o;
  o.address = address;
  o.expected_hash = honest.hash;
  o.expected_signer = honest.aggregator.public_hex();
  o.out = out;
  o.deadline = std::chrono::seconds(4);
  o.min_bytes_per_second = 64u << 10;
  o.grace = std::chrono::milliseconds(500);
  return o;
}

class HostileService final : public proto::CheckpointService::Service {
 public:
  HostileService(const Honest& honest, Lie lie) : honest_(honest), lie_(lie) {}

  grpc::Status GetManifest(grpc::ServerContext*, const proto::ManifestRequest* req, proto::ManifestReply* reply) override {
    Manifest m = *Manifest::from_json(*read_file(honest_.object() / "manifest.json"));
    std::uint64_t model_bytes = fs::file_size(honest_.object() / "model.safetensors");
    switch (lie_) {
      case Lie::kSizes: model_bytes = 15ull << 30; break;
      case Lie::kHugeManifest:
        m.tensors[0].shape = {1u << 20, 3840};  // 15 GiB of float32
        model_bytes = 15ull << 30;
        break;
      case Lie::kResigned: {
        m.sign(Keypair::generate());
        break;
      }
      default: break;
    }
    reply->set_hash(req->hash().empty() ? honest_.hash : req->hash());
    reply->set_manifest_json(m.to_json());
    reply->set_model_bytes(model_bytes);
    reply->set_data_port(0);  // the gRPC stream: the lies below live there
    return grpc::Status::OK;
  }

  grpc::Status Download(grpc::ServerContext* ctx, const proto::DownloadRequest* req,
                        grpc::ServerWriter<proto::Chunk>* writer) override {
    const std::string file = *read_file(honest_.object() / "model.safetensors");
    std::uint64_t at = req->offset();
    while (!ctx->IsCancelled()) {
      proto::Chunk chunk;
      chunk.set_offset(at);
      switch (lie_) {
        case Lie::kDrip:
          if (at < file.size()) chunk.set_data(file.substr(at, 64));
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          break;
        case Lie::kStall: std::this_thread::sleep_for(std::chrono::milliseconds(50)); continue;
        case Lie::kEmptyForever: std::this_thread::sleep_for(std::chrono::milliseconds(1)); break;
        case Lie::kTooMuch: chunk.set_data(at < file.size() ? file.substr(at, 1 << 16) : std::string(1 << 16, 'x')); break;
        default:
          if (at >= file.size()) return grpc::Status::OK;
          chunk.set_data(file.substr(at, 1 << 16));
      }
      if (!writer->Write(chunk)) break;
      at += chunk.data().size();
      served_bytes += chunk.data().size();
    }
    return grpc::Status::OK;
  }

  std::atomic<std::uint64_t> served_bytes{0};

 private:
  const Honest& honest_;
  Lie lie_;
};

struct Hostile {
  Honest honest;
  HostileService service;
  std::unique_ptr<net::GrpcServer> server;
  explicit Hostile(Lie lie) : service(honest, lie) {
    auto started = net::GrpcServer::start({"127.0.0.1:0"}, {&service});
    server = std::move(*started);
  }
  ~Hostile() { server->stop(std::chrono::milliseconds(100)); }
  std::string address() const { return "127.0.0.1:" + std::to_string(server->port()); }
  PullOptions options(const fs::path& out) const { return tight_pull(honest, address(), out); }
};

// Bytes under `dir`, every file counted.
std::uint64_t disk_use(const fs::path& dir) {
  std::uint64_t total = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// The pull against `lie` fails naming `reason`, within `limit`, leaving no model behind
// and at most the real model's size on disk.
void expect_refused(Lie lie, const std::string& reason, std::chrono::milliseconds limit) {
  Hostile h(lie);
  const fs::path out = h.honest.dir.path() / "out";
  const auto t0 = Clock::now();
  auto r = pull_checkpoint(h.options(out));
  const auto took = Clock::now() - t0;
  ASSERT_FALSE(r.ok()) << "a hostile server's checkpoint was accepted";
  EXPECT_NE(r.status().message().find(reason), std::string::npos) << r.status().message();
  EXPECT_LT(took, limit) << r.status().message();
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  EXPECT_FALSE(fs::exists(out / "manifest.json"));
  EXPECT_LE(disk_use(out), fs::file_size(h.honest.object() / "model.safetensors") + 4096);
}

TEST(HostileCheckpointServer, ALieAboutTheModelSizeIsRefusedBeforeAnyDownload) {
  expect_refused(Lie::kSizes, "server reports a model of 16106127360 bytes", std::chrono::seconds(2));
}

TEST(HostileCheckpointServer, AManifestThatDoesNotHashToTheAskedNameIsRefusedBeforeAnyDownload) {
  Hostile h(Lie::kHugeManifest);
  const fs::path out = h.honest.dir.path() / "out";
  const auto t0 = Clock::now();
  auto r = pull_checkpoint(h.options(out));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not hash to"), std::string::npos) << r.status().message();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(h.service.served_bytes.load(), 0u) << "the model was requested after a bad manifest";
  EXPECT_EQ(disk_use(out), 0u);
}

TEST(HostileCheckpointServer, AManifestReSignedByAnotherKeyIsRefusedWhenTheAnnouncerIsKnown) {
  expect_refused(Lie::kResigned, "but the chain says", std::chrono::seconds(2));
  // Without the announcer, the pull cannot tell, and says so instead of "verified".
  Hostile h(Lie::kResigned);
  PullOptions o = h.options(h.honest.dir.path() / "out");
  o.expected_signer.clear();
  auto r = pull_checkpoint(o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_NE(r->verified.find("signer was not checked"), std::string::npos) << r->verified;
}

TEST(HostileCheckpointServer, ADripIsCutByTheMinimumRate) {
  expect_refused(Lie::kDrip, "under the minimum of 65536", std::chrono::seconds(3));
}

TEST(HostileCheckpointServer, AStreamThatNeverSendsIsCut) {
  expect_refused(Lie::kStall, "under the minimum", std::chrono::seconds(3));
}

TEST(HostileCheckpointServer, EndlessEmptyChunksAreCut) {
  expect_refused(Lie::kEmptyForever, "under the minimum", std::chrono::seconds(3));
}

TEST(HostileCheckpointServer, MoreBytesThanAnnouncedAreRefused) {
  expect_refused(Lie::kTooMuch, "sent more than", std::chrono::seconds(2));
}

TEST(HostileCheckpointServer, TheOverallDeadlineHoldsWithoutARate) {
  Hostile h(Lie::kStall);
  PullOptions o = h.options(h.honest.dir.path() / "out");
  o.min_bytes_per_second = 0;
  o.deadline = std::chrono::milliseconds(1500);
  const auto t0 = Clock::now();
  auto r = pull_checkpoint(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deadline"), std::string::npos) << r.status().message();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
}

// A data plane that answers the request header honestly, then drips one byte a second.
class DripDataPlane {
 public:
  explicit DripDataPlane(std::uint64_t length) : length_(length) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 4);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      char request[80];
      (void)::recv(fd, request, sizeof request, MSG_WAITALL);
      char reply[16] = {'T', 'S', 'D', '1', 0, 0, 0, 0};
      std::memcpy(reply + 8, &length_, 8);
      (void)::send(fd, reply, sizeof reply, MSG_NOSIGNAL);
      while (!stop_ && ::send(fd, "\0", 1, MSG_NOSIGNAL) == 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ::close(fd);
    });
  }
  ~DripDataPlane() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::uint64_t length_;
  int listener_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The honest manifest, pointing at a dripping raw data plane.
class DataPlaneLiar final : public proto::CheckpointService::Service {
 public:
  DataPlaneLiar(const Honest& honest, int data_port) : honest_(honest), data_port_(data_port) {}
  grpc::Status GetManifest(grpc::ServerContext*, const proto::ManifestRequest*, proto::ManifestReply* reply) override {
    reply->set_hash(honest_.hash);
    reply->set_manifest_json(*read_file(honest_.object() / "manifest.json"));
    reply->set_model_bytes(fs::file_size(honest_.object() / "model.safetensors"));
    reply->set_data_port(static_cast<std::uint32_t>(data_port_));
    return grpc::Status::OK;
  }

 private:
  const Honest& honest_;
  int data_port_;
};

TEST(HostileCheckpointServer, ADripOnTheRawDataPlaneIsCutToo) {
  Honest honest;
  DripDataPlane drip(fs::file_size(honest.object() / "model.safetensors"));
  DataPlaneLiar liar(honest, drip.port());
  auto started = net::GrpcServer::start({"127.0.0.1:0"}, {&liar});
  ASSERT_TRUE(started.ok());
  auto server = std::move(*started);
  const PullOptions o = tight_pull(honest, "127.0.0.1:" + std::to_string(server->port()), honest.dir.path() / "out");
  const auto t0 = Clock::now();
  auto r = pull_checkpoint(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("under the minimum"), std::string::npos) << r.status().message();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  server->stop(std::chrono::milliseconds(100));
}

TEST(HostileCheckpointServer, AnHonestMirrorDeliversAfterALiar) {
  Hostile h(Lie::kDrip);
  auto started = CheckpointServer::start(&h.honest.store, "127.0.0.1:0");
  ASSERT_TRUE(started.ok());
  auto honest_server = std::move(*started);
  PullOptions o = h.options(h.honest.dir.path() / "out");
  const std::string mirror = "127.0.0.1:" + std::to_string(honest_server->port());
  o.mirrors = {mirror};
  auto r = pull_checkpoint(o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->source, mirror);
  EXPECT_EQ(r->hash, h.honest.hash);
  EXPECT_EQ(r->verified, "the announced hash and signer");
  // The liar's bytes were right, so the mirror resumed after them rather than start over.
  EXPECT_GT(r->resumed_from, 0u);
}

TEST(RolePullOptions, TheDeadlineIsOneWindowOfTheRunUnlessGiven) {
  RunSpec spec = *parse_run_spec("[run]\nname = \"p\"\n[schedule]\nblocks_per_window = 20\nblock_time_ms = 12000\n");
  EXPECT_EQ(role_pull_options(spec, {}).deadline, std::chrono::minutes(4));
  spec.schedule.block_time_ms = 100;  // a 2 s window: the floor of 30 s applies
  EXPECT_EQ(role_pull_options(spec, {}).deadline, std::chrono::seconds(30));
  const PullOptions given = role_pull_options(spec, {"127.0.0.1:1", "127.0.0.1:2"}, 5);
  EXPECT_EQ(given.deadline, std::chrono::seconds(5));
  EXPECT_EQ(given.mirrors.size(), 2u);
}

// A follower accepts a checkpoint only when the hotkey that announced it signed it:
// from a server, and from its own store or cache alike.
TEST(CheckpointFollowerTrust, OnlyTheAnnouncersSignatureIsAccepted) {
  Honest honest;
  auto started = CheckpointServer::start(&honest.store, "127.0.0.1:0");
  ASSERT_TRUE(started.ok());
  auto server = std::move(*started);
  chain::CheckpointInfo info;
  info.window = 4;
  info.hash = *from_hex(honest.hash);
  info.address = "127.0.0.1:" + std::to_string(server->port());
  const Keypair impostor = Keypair::generate();
  info.announcer = std::string(reinterpret_cast<const char*>(impostor.public_key().data()), 32);

  CheckpointFollower follower(nullptr, 1, honest.dir.path() / "cache", &honest.store);
  auto refused = follower.load(info);
  ASSERT_FALSE(refused.ok()) << "a checkpoint signed by another key than the announcer's was loaded";
  EXPECT_NE(refused.status().message().find("but the chain says"), std::string::npos) << refused.status().message();
  EXPECT_EQ(follower.current(), nullptr);

  info.announcer = std::string(reinterpret_cast<const char*>(honest.aggregator.public_key().data()), 32);
  auto loaded = follower.load(info);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->hash, honest.hash);
}


// Where the announced CheckpointService is down, a follower turns to the other neurons
// that publish one on chain, highest stake first: here a liar with the most stake (its
// manifest is re-signed by another key) and then a validator that re-serves what its own
// follower pulled (a read-only store over that follower's cache). The liar is refused and
// the re-served copy delivers. A real chain node in this process holds the metagraph.
TEST(CheckpointFollowerSources, OtherNeuronsServeWhenTheAnnouncedServiceIsDown) {
  Hostile liar(Lie::kResigned);
  const Honest& honest = liar.honest;
  testing::TempDir dir;

  // A validator that pulled the checkpoint earlier, and serves its cache.
  CheckpointFollower earlier(nullptr, 1, dir.path() / "earlier");
  chain::CheckpointInfo info;
  info.window = 4;
  info.hash = *from_hex(honest.hash);
  info.announcer = std::string(reinterpret_cast<const char*>(honest.aggregator.public_key().data()), 32);
  {
    auto aggregator_server = CheckpointServer::start(&honest.store, "127.0.0.1:0");
    ASSERT_TRUE(aggregator_server.ok());
    info.address = (*aggregator_server)->address();
    ASSERT_TRUE(earlier.load(info).ok());
  }  // the aggregator's service is gone from here on
  ASSERT_TRUE(fs::exists(earlier.folder(honest.hash) / "model.safetensors"));
  auto cache = CheckpointStore::open_read_only(dir.path() / "earlier");
  ASSERT_TRUE(cache.ok()) << cache.status().to_string();
  auto reserver = CheckpointServer::start(&*cache, "127.0.0.1:0");
  ASSERT_TRUE(reserver.ok());

  // The chain: a subnet whose two serving neurons are the liar (more stake) and the re-server.
  chain::NodeOptions node_options;
  node_options.data_dir = dir.path() / "chain";
  node_options.block_time_ms = 20;
  node_options.listen = "127.0.0.1:0";
  const Keypair owner = Keypair::generate(), liar_hot = Keypair::generate(), reserver_hot = Keypair::generate();
  node_options.genesis.balances = {{raw_bytes(owner.public_key()), 10'000 * chain::kRaoPerTao}};
  auto node = chain::ChainNode::open(node_options);
  ASSERT_TRUE(node.ok()) << node.status().to_string();
  std::thread producing([&] { (void)(*node)->run(); });
  struct Stop {
    chain::ChainNode* node;
    std::thread* thread;
    ~Stop() {
      node->stop();
      thread->join();
    }
  } stop{node->get(), &producing};
  ASSERT_TRUE(testing::wait_until([&] { return !(*node)->address().empty(); }, std::chrono::seconds(10)));
  auto chain = chain::connect_embedded_chain((*node)->address(), std::chrono::seconds(10));
  ASSERT_TRUE(chain.ok()) << chain.status().to_string();
  auto netuid = (*chain)->create_subnet(owner, "[run]\nname = \"sources\"\n[model]\npreset = \"nano\"\n");
  ASSERT_TRUE(netuid.ok()) << netuid.status().to_string();
  for (const Keypair* hot : {&liar_hot, &reserver_hot}) {
    ASSERT_TRUE((*chain)->register_hotkey(owner, hot->public_key(), *netuid).ok());
  }
  ASSERT_TRUE((*chain)->add_stake(owner, liar_hot.public_key(), *netuid, 500 * chain::kRaoPerTao).ok());
  const std::string curve(32, '\x05');
  ASSERT_TRUE((*chain)->serve(liar_hot, *netuid, "tcp://127.0.0.1:1", curve, liar.address()).ok());
  ASSERT_TRUE((*chain)->serve(reserver_hot, *netuid, "tcp://127.0.0.1:2", curve, (*reserver)->address()).ok());

  CheckpointFollower follower(chain->get(), *netuid, dir.path() / "miner");
  follower.set_pull_options(tight_pull(honest, "", {}));
  auto loaded = follower.load(info);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->hash, honest.hash);
  EXPECT_EQ((*loaded)->manifest.signer, honest.aggregator.public_hex());
  EXPECT_EQ(follower.stats().pulls, 1u);
  EXPECT_TRUE(fs::exists(follower.folder(honest.hash) / "manifest.json"));

  // Without any source that holds it, the pull fails naming every source it tried.
  CheckpointFollower alone(nullptr, 1, dir.path() / "alone");
  alone.set_pull_options(tight_pull(honest, "", {}));
  auto none = alone.load(info);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find(info.address), std::string::npos) << none.status().message();
}

}  // namespace
}  // namespace tessera::checkpoints
