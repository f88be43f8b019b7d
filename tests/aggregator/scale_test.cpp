// A checkpoint the size of gpt2-124m (synthetic weights: the run's deterministic
// initialisation) goes the whole way: published by an aggregator's store, pulled by a
// follower, followed by a merged update, and the transition recomputed from the
// accepted payloads fetched from the server — with payloads and the update each larger
// than one gRPC message (4 MiB), which a unary reply could not carry.
#include <gtest/gtest.h>

#include <cstdio>

#include "aggregator/window.h"
#include "checkpoints/follower.h"
#include "checkpoints/service.h"
#include "checkpoints/update.h"
#include "core/hash.h"
#include "gradients/codec.h"
#include "tests/test_util.h"

namespace tessera::aggregator {
namespace {

TEST(Gpt2Scale, PublishPullFollowAndVerifyWithPayloadsAndUpdatesOverFourMiB) {
  const RunSpec spec = *parse_run_spec(
      "[run]\nname = \"scale\"\nseed = 5\n[model]\npreset = \"gpt2-124m\"\n"
      "[codec]\ntopk = 128\nquant = \"int8\"\n[validator]\nmax_payload_bytes = 67108864\n");
  testing::TempDir dir;
  const Keypair aggregator = Keypair::generate();
  auto store = *checkpoints::CheckpointStore::open(dir.path() / "store");
  auto init = *initial_checkpoint(spec, 0);
  checkpoints::Checkpoint parent{init.manifest, init.tensors, ""};
  parent.hash = *store.put(parent.tensors, parent.manifest, aggregator);
  std::int64_t params = 0;
  for (const auto& [name, t] : parent.tensors) params += t.numel();
  ASSERT_GT(params, 120'000'000);

  // Two miners' deltas, merged into C_1; the payloads and the update are stored as the
  // aggregator stores them.
  const auto codec = *gradients::CodecSettings::from_spec(spec.codec);
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& [name, t] : parent.tensors) shapes.push_back(t.sizes().vec());
  std::vector<std::string> payloads;
  std::vector<gradients::DecodedDelta> decoded;
  std::vector<checkpoints::AcceptedEntry> accepted;
  for (std::uint32_t uid : {1u, 2u}) {
    torch::manual_seed(uid);
    std::vector<gradients::IndexedTensor> delta;
    for (std::uint32_t i = 0; i < shapes.size(); ++i) delta.push_back({i, torch::randn(shapes[i]) * 1e-3});
    payloads.push_back(gradients::encode_delta(delta, codec)->bytes);
    EXPECT_GT(payloads.back().size(), 4u << 20);
    const std::string hash = to_hex(blake2b_256(payloads.back()));
    ASSERT_TRUE(store.put_blob(hash, payloads.back()).ok());
    accepted.push_back({uid, std::string(64, 'a' + static_cast<char>(uid)), hash, 1.0});
    decoded.push_back(*gradients::decode_delta(payloads.back(), shapes, codec));
  }
  std::vector<const gradients::DecodedDelta*> deltas = {&decoded[0], &decoded[1]};
  auto next = *next_checkpoint(spec, parent, 1, accepted, deltas);
  const std::string child_hash = *store.put(next.tensors, next.manifest, aggregator);
  const std::string update = *checkpoints::make_update(parent, next.tensors, child_hash);
  EXPECT_GT(update.size(), 4u << 20);
  ASSERT_TRUE(store.put_update(child_hash, update).ok());
  std::printf("gpt2-124m scale: %lld parameters, payloads of %zu and %zu bytes, update of %zu bytes\n",
              static_cast<long long>(params), payloads[0].size(), payloads[1].size(), update.size());
  decoded.clear();
  next.tensors.clear();

  auto started = checkpoints::CheckpointServer::start(&store, "127.0.0.1:0");
  ASSERT_TRUE(started.ok()) << started.status().to_string();
  auto server = std::move(*started);
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  const std::string announcer(reinterpret_cast<const char*>(aggregator.public_key().data()), 32);

  // A follower with no store of its own: a full pull of C_0, then C_1 by the update.
  checkpoints::CheckpointFollower follower(nullptr, 1, dir.path() / "cache");
  auto c0 = follower.load({0, *from_hex(parent.hash), address, 1, announcer});
  ASSERT_TRUE(c0.ok()) << c0.status().to_string();
  auto c1 = follower.load({1, *from_hex(child_hash), address, 2, announcer});
  ASSERT_TRUE(c1.ok()) << c1.status().to_string();
  EXPECT_EQ(follower.stats().pulls, 1u);
  EXPECT_EQ(follower.stats().updates, 1u) << "C_1 was pulled whole instead of caught up by its update";
  EXPECT_EQ(follower.stats().update_bytes, update.size());

  // `checkpoint verify`'s path: the payloads from the server, the transition recomputed.
  std::vector<std::string> fetched;
  for (const auto& a : (*c1)->manifest.accepted) {
    auto blob = checkpoints::fetch_blob(address, a.payload_hash, static_cast<std::uint64_t>(spec.validator.max_payload_bytes));
    ASSERT_TRUE(blob.ok()) << blob.status().to_string();
    fetched.push_back(std::move(*blob));
  }
  auto parent_again = store.get(parent.hash);
  ASSERT_TRUE(parent_again.ok());
  const Status verified = verify_transition(spec, *parent_again, **c1, fetched);
  EXPECT_TRUE(verified.ok()) << verified.to_string();

  // The limits are the run's: a blob over the spec's payload limit is refused while it
  // streams, and so is an update larger than any the held model allows.
  auto over = checkpoints::fetch_blob(address, accepted[0].payload_hash, 4u << 20);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted) << over.status().to_string();
  EXPECT_NE(over.status().message().find("more than the limit of 4194304 bytes"), std::string::npos);
  auto big_update = checkpoints::fetch_update(address, child_hash, 1u << 20);
  ASSERT_FALSE(big_update.ok());
  EXPECT_EQ(big_update.status().code(), StatusCode::kResourceExhausted);
  EXPECT_LE(update.size(), checkpoints::max_update_bytes(parent.tensors));
}

}  // namespace
}  // namespace tessera::aggregator
