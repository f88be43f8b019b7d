// A sharded miner's memory: gradients, AdamW moments, error-feedback residuals and the
// pseudo-gradient exist only for the parameters of its assigned shards, so the training
// state scales with its shard fraction; when the rotation takes a shard away, that
// shard's state is dropped; and a miner of the top shard takes no gradient below it.
#include <gtest/gtest.h>

#include "dataset/tokenizer.h"
#include "gradients/codec.h"
#include "gradients/error_feedback.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "model/shards.h"
#include "tests/test_util.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"
#include "trainer/shard_assignment.h"

namespace tessera::trainer {
namespace {

struct Miner {
  model::GPT gpt{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt;
  gradients::ErrorFeedback ef{0.95};
  ShardAssignment assignment;
};

class ShardedMinerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec.model.preset = "tiny";
    spec.data.page_tokens = 1024;
    spec.train.inner_steps = 2;
    spec.train.batch_size = 2;
    spec.train.seq_len = 32;
    dataset::ByteTokenizer tok;
    train = dataset::TokenDataset::from_tokens(tok.encode(testing::synthetic_text(64 * 1024, 5)));
    codec = *gradients::CodecSettings::from_spec(spec.codec);
  }

  // One window of a miner (uid `uid`): assignment, inner steps, error feedback + encode.
  void window(Miner& m, const RunSpec& s, std::uint64_t w, std::uint32_t uid) {
    if (!m.gpt) {
      m.gpt = model::make_gpt(*model::resolve_config(s.model), s.seed);
      m.opt = make_adamw(m.gpt, s.train);
    }
    ASSERT_TRUE(m.assignment.update(m.gpt, m.opt.get(), &m.ef, s, w, uid).ok());
    const auto start = model::snapshot_parameters(m.gpt);
    InnerLoop loop{&s};
    auto r = loop.run(m.gpt, *m.opt, start, train, {0, 1, 2}, w, uid);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    std::vector<gradients::IndexedTensor> delta;
    for (std::size_t i = 0; i < r->delta.size(); ++i) {
      const bool trained = std::binary_search(m.assignment.trained().begin(), m.assignment.trained().end(), i);
      EXPECT_EQ(r->delta[i].defined(), trained) << "parameter " << i;
      if (trained) delta.push_back({static_cast<std::uint32_t>(i), r->delta[i]});
    }
    ASSERT_TRUE(m.ef.step(delta, codec).ok());
  }

  RunSpec spec;
  dataset::TokenDataset train = dataset::TokenDataset::from_tokens({});
  gradients::CodecSettings codec;
};

TEST_F(ShardedMinerTest, TrainingStateScalesWithTheShardFraction) {
  RunSpec sharded = spec;
  sharded.model.shards = 4;
  sharded.model.shards_per_miner = 1;
  Miner whole, part;
  window(whole, spec, 0, 1);
  window(part, sharded, 0, 1);
  const TrainingStateBytes w = training_state_bytes(whole.gpt, *whole.opt, &whole.ef);
  const TrainingStateBytes p = training_state_bytes(part.gpt, *part.opt, &part.ef);
  const double f = part.assignment.fraction();
  EXPECT_EQ(whole.assignment.fraction(), 1.0);
  EXPECT_GT(f, 0.0);
  EXPECT_LT(f, 0.5) << "one of four balanced shards";
  ASSERT_GT(w.total(), 0);
  // Exactly proportional: every piece of state is one float per trained element.
  EXPECT_EQ(p.gradients, static_cast<std::int64_t>(std::llround(f * static_cast<double>(w.gradients))));
  EXPECT_EQ(p.optimizer, static_cast<std::int64_t>(std::llround(f * static_cast<double>(w.optimizer))));
  EXPECT_EQ(p.error_feedback, static_cast<std::int64_t>(std::llround(f * static_cast<double>(w.error_feedback))));
}

TEST_F(ShardedMinerTest, ARotationDropsTheStateOfTheShardItTakesAway) {
  RunSpec sharded = spec;
  sharded.model.shards = 2;
  sharded.model.shards_per_miner = 1;
  sharded.model.shard_epoch_windows = 1;  // a new assignment every window
  // The first window whose assignment for uid 0 differs from window 0's.
  const auto first = model::assign_shards(sharded.seed, sharded.model, 0, 0);
  std::uint64_t later = 1;
  while (model::assign_shards(sharded.seed, sharded.model, later, 0) == first) ++later;
  Miner m;
  window(m, sharded, 0, 0);
  const auto before = m.assignment.trained();
  const TrainingStateBytes held = training_state_bytes(m.gpt, *m.opt, &m.ef);
  ASSERT_GT(held.optimizer, 0);
  // Same epoch again: nothing changes.
  auto same = m.assignment.update(m.gpt, m.opt.get(), &m.ef, sharded, 0, 0);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(*same);
  // The rotation: before any training on the new shard, the old shard's gradient,
  // moments and residual are gone.
  auto changed = m.assignment.update(m.gpt, m.opt.get(), &m.ef, sharded, later, 0);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_NE(m.assignment.trained(), before);
  const TrainingStateBytes dropped = training_state_bytes(m.gpt, *m.opt, &m.ef);
  EXPECT_EQ(dropped.optimizer, 0);
  EXPECT_EQ(dropped.error_feedback, 0);
  EXPECT_EQ(dropped.gradients, 0);
  for (std::uint32_t i : before) EXPECT_FALSE(m.ef.buffer(i).defined());
  window(m, sharded, later, 0);
  const TrainingStateBytes now = training_state_bytes(m.gpt, *m.opt, &m.ef);
  EXPECT_GT(now.optimizer, 0);
  for (std::uint32_t i : before) EXPECT_FALSE(m.ef.buffer(i).defined());
}

TEST_F(ShardedMinerTest, ATopShardMinerTakesNoGradientBelowItsShard) {
  RunSpec sharded = spec;
  sharded.model.shards = 2;
  sharded.model.shards_per_miner = 1;
  // A uid whose shard is the top one (shard 1: the upper blocks and the final norm).
  std::uint32_t uid = 0;
  while (model::assign_shards(sharded.seed, sharded.model, 0, uid) != std::vector<int>{1}) ++uid;
  Miner m;
  window(m, sharded, 0, uid);
  // Below the top shard nothing requires a gradient, so autograd records no graph there
  // and the backward pass stops at the lowest block of the shard: no parameter below
  // holds a gradient.
  std::size_t below = 0;
  const auto named = m.gpt->named_params();
  for (std::size_t i = 0; i < named.size(); ++i) {
    if (std::binary_search(m.assignment.trained().begin(), m.assignment.trained().end(), i)) continue;
    ++below;
    EXPECT_FALSE(named[i].second.grad().defined()) << named[i].first;
    EXPECT_FALSE(named[i].second.requires_grad()) << named[i].first;
  }
  EXPECT_GT(below, 0u);
}

}  // namespace
}  // namespace tessera::trainer
