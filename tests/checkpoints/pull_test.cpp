#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "checkpoints/service.h"
#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera::checkpoints {
namespace {

struct Served {
  testing::TempDir dir;
  CheckpointStore store = *CheckpointStore::open(dir.path() / "store");
  std::string hash;
  std::unique_ptr<CheckpointServer> server;
  Served() {
    Manifest m;
    m.run_id = "t";
    m.window = 2;
    NamedTensors t = {{"wte.weight", torch::randn({512, 256})}, {"ln_f.bias", torch::randn({256})}};
    hash = *store.put(t, m, Keypair::generate());
    auto started = CheckpointServer::start(&store, "127.0.0.1:0");
    EXPECT_TRUE(started.ok()) << started.status().to_string();
    server = std::move(*started);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server->port()); }
};

// Every pull test runs over both transports: the raw data plane and the gRPC stream.
class CheckpointPull : public ::testing::TestWithParam<PullTransport> {
 protected:
  PullOptions options(const Served& s, const std::string& hash, const std::filesystem::path& out) const {
    return {s.address(), hash, out, GetParam()};
  }
  std::string transport() const { return GetParam() == PullTransport::kAuto ? "tcp" : "grpc"; }
};

TEST_P(CheckpointPull, DownloadsVerifiesAndReportsProgress) {
  Served s;
  ASSERT_NE(s.server->data_port(), 0);
  std::uint64_t last = 0, total = 0;
  auto r = pull_checkpoint(options(s, s.hash, s.dir.path() / "out"), [&](std::uint64_t done, std::uint64_t all) {
    EXPECT_GE(done, last);
    last = done;
    total = all;
  });
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->transport, transport());
  EXPECT_EQ(r->hash, s.hash);
  EXPECT_EQ(last, total);
  EXPECT_EQ(r->resumed_from, 0u);
  auto local = read_safetensors(s.dir.path() / "out" / "model.safetensors");
  ASSERT_TRUE(local.ok());
  auto original = s.store.get(s.hash);
  EXPECT_TRUE(torch::equal(local->tensors[0].second, original->tensors[0].second));
  EXPECT_TRUE(std::filesystem::exists(s.dir.path() / "out" / "manifest.json"));
  EXPECT_FALSE(std::filesystem::exists(s.dir.path() / "out" / "manifest.json.partial"));
  // Latest (no expected hash) works too; a wrong announced hash is refused.
  EXPECT_TRUE(torch::equal(r->checkpoint.tensors[0].second, original->tensors[0].second));
  // The returned tensors live in the download's own memory, not the file: changing them
  // leaves the file as pulled.
  r->checkpoint.tensors[0].second.add_(1.0f);
  EXPECT_TRUE(torch::equal(read_safetensors(s.dir.path() / "out" / "model.safetensors")->tensors[0].second,
                           original->tensors[0].second));
  EXPECT_TRUE(pull_checkpoint(options(s, "", s.dir.path() / "out2")).ok());
  auto wrong = pull_checkpoint(options(s, std::string(64, 'f'), s.dir.path() / "out3"));
  ASSERT_FALSE(wrong.ok());
}

TEST_P(CheckpointPull, RefusesACorruptedFileNamingTheTensor) {
  Served s;
  const auto file = s.dir.path() / "store" / "objects" / s.hash / "model.safetensors";
  testing::flip_byte_from_end(file, 100);  // inside ln_f.bias
  auto r = pull_checkpoint(options(s, s.hash, s.dir.path() / "out"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tensor ln_f.bias does not match its hash"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(std::filesystem::exists(s.dir.path() / "out" / "model.safetensors"));
  // The manifest (written during the transfer) is not kept either, nor the corrupt bytes.
  EXPECT_FALSE(std::filesystem::exists(s.dir.path() / "out" / "manifest.json"));
  EXPECT_FALSE(std::filesystem::exists(s.dir.path() / "out" / "manifest.json.partial"));
  EXPECT_FALSE(std::filesystem::exists(s.dir.path() / "out" / "model.safetensors.partial"));
}

TEST_P(CheckpointPull, RefusesAManifestThatDoesNotHashToItsName) {
  Served s;
  const auto manifest = s.dir.path() / "store" / "objects" / s.hash / "manifest.json";
  std::string text = *read_file(manifest);
  const auto at = text.find("\"window\"");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(text.find('2', at), 1, "3");  // window 2 -> 3, served under the old name
  testing::write_text(manifest, text);
  auto r = pull_checkpoint(options(s, s.hash, s.dir.path() / "out"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("manifest does not hash to"), std::string::npos) << r.status().message();
  EXPECT_FALSE(std::filesystem::exists(s.dir.path() / "out" / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(s.dir.path() / "out" / "manifest.json"));
}

TEST_P(CheckpointPull, ResumesAnInterruptedDownload) {
  Served s;
  const auto out = s.dir.path() / "out";
  std::filesystem::create_directories(out);
  const std::string full = *read_file(s.dir.path() / "store" / "objects" / s.hash / "model.safetensors");
  testing::write_text(out / "model.safetensors.partial", full.substr(0, full.size() / 2));
  testing::write_text(out / "model.safetensors.partial.hash", s.hash);
  auto r = pull_checkpoint(options(s, s.hash, out));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->transport, transport());
  EXPECT_EQ(r->resumed_from, full.size() / 2);
  EXPECT_EQ(*read_file(out / "model.safetensors"), full);
}

TEST(CheckpointServer, APullReachesANewServerOnAnAddressAnEarlierPullUsed) {
  // The process keeps one gRPC channel per address; after its server went away, the
  // next pull must reach the server now listening there, not wait out the old channel.
  Served s;
  const std::string address = s.address();
  ASSERT_TRUE(pull_checkpoint({address, s.hash, s.dir.path() / "out1"}).ok());
  s.server->stop();
  s.server.reset();
  auto again = CheckpointServer::start(&s.store, address);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = pull_checkpoint({address, s.hash, s.dir.path() / "out2"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(CheckpointServer, TakesTheDataPortItIsGivenOrRefusesToStart) {
  Served s;
  const int taken = s.server->data_port();
  auto clash = CheckpointServer::start(&s.store, "127.0.0.1:0", taken);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("port " + std::to_string(taken)), std::string::npos) << clash.status().message();
  s.server->stop();  // frees the port
  auto fixed = CheckpointServer::start(&s.store, "127.0.0.1:0", taken);
  ASSERT_TRUE(fixed.ok()) << fixed.status().to_string();
  EXPECT_EQ((*fixed)->data_port(), taken);
}

INSTANTIATE_TEST_SUITE_P(Transports, CheckpointPull, ::testing::Values(PullTransport::kAuto, PullTransport::kGrpc),
                         [](const auto& info) { return info.param == PullTransport::kAuto ? "DataPlane" : "Grpc"; });

}  // namespace
}  // namespace tessera::checkpoints
