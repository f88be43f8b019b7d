// `checkpoint verify` recomputes C_{w+1} from C_w and the accepted payloads
// (aggregator::verify_transition). It accepts the honest transition and names what was
// tampered with otherwise: a changed accepted set, a changed payload, another outer step.
#include <gtest/gtest.h>

#include "aggregator/window.h"
#include "core/hash.h"
#include "gradients/codec.h"
#include "gradients/norm.h"

namespace tessera::aggregator {
namespace {

class VerifyTransition : public ::testing::Test {
 protected:
  void SetUp() override {
    spec = *parse_run_spec("[run]\nname = \"verify\"\nseed = 3\n[model]\npreset = \"nano\"\n"
                           "[outer]\noptimizer = \"nesterov\"\nlr = 0.7\nmomentum = 0.9\n");
    auto init = *initial_checkpoint(spec, 4);
    parent.tensors = init.tensors;
    parent.manifest = init.manifest;
    parent.hash = parent.manifest.content_hash();
    const auto codec = *gradients::CodecSettings::from_spec(spec.codec);
    std::vector<std::vector<std::int64_t>> shapes;
    for (const auto& [name, t] : parent.tensors) shapes.push_back(t.sizes().vec());
    for (std::uint32_t uid : {1u, 2u}) {
      torch::manual_seed(uid);
      std::vector<gradients::IndexedTensor> delta;
      for (std::uint32_t i = 0; i < shapes.size(); ++i) delta.push_back({i, torch::randn(shapes[i]) * 1e-3});
      payloads.push_back(gradients::encode_delta(delta, codec)->bytes);
      accepted.push_back({uid, std::string(64, 'a' + static_cast<char>(uid)), to_hex(blake2b_256(payloads.back())), 1.0});
      decoded.push_back(*gradients::decode_delta(payloads.back(), shapes, codec));
    }
    std::vector<const gradients::DecodedDelta*> deltas = {&decoded[0], &decoded[1]};
    auto next = *next_checkpoint(spec, parent, 5, accepted, deltas);
    child.tensors = next.tensors;
    child.manifest = next.manifest;
    child.hash = child.manifest.content_hash();
  }
  RunSpec spec;
  checkpoints::Checkpoint parent, child;
  std::vector<checkpoints::AcceptedEntry> accepted;
  std::vector<std::string> payloads;
  std::vector<gradients::DecodedDelta> decoded;
};

void expect_refused(const Status& s, const std::string& what) {
  ASSERT_FALSE(s.ok()) << "a tampered transition verified: " << what;
  EXPECT_EQ(s.code(), StatusCode::kCorrupted) << s.to_string();
}

TEST_F(VerifyTransition, AcceptsTheHonestMerge) { EXPECT_TRUE(verify_transition(spec, parent, child, payloads).ok()); }

TEST_F(VerifyTransition, RefusesAChangedAcceptedSet) {
  // One accepted submission dropped from the manifest, the merged tensors left as they were.
  checkpoints::Checkpoint forged = child;
  forged.manifest.accepted.pop_back();
  forged.hash = forged.manifest.content_hash();
  const Status s = verify_transition(spec, parent, forged, {payloads[0]});
  expect_refused(s, "accepted set");
  EXPECT_NE(s.message().find("differs from the recomputed merge"), std::string::npos) << s.message();
}

TEST_F(VerifyTransition, RefusesAChangedPayload) {
  std::vector<std::string> changed = payloads;
  changed[1][changed[1].size() / 2] ^= 0x01;
  const Status s = verify_transition(spec, parent, child, changed);
  expect_refused(s, "payload");
  EXPECT_NE(s.message().find("payload of uid 2 does not match its hash"), std::string::npos) << s.message();
}

TEST_F(VerifyTransition, RefusesAnotherOuterStep) {
  // The checkpoint was made with outer lr 0.7; a verifier told 0.5 must not agree.
  RunSpec other = spec;
  other.outer.lr = 0.5;
  const Status s = verify_transition(other, parent, child, payloads);
  expect_refused(s, "outer step");
  // And a checkpoint whose tensors came from another outer step than its manifest names.
  std::vector<const gradients::DecodedDelta*> deltas = {&decoded[0], &decoded[1]};
  auto stepped = *next_checkpoint(other, parent, 5, accepted, deltas);
  checkpoints::Checkpoint forged = child;
  forged.tensors = stepped.tensors;
  forged.manifest.tensors = stepped.manifest.tensors;
  forged.hash = forged.manifest.content_hash();
  expect_refused(verify_transition(spec, parent, forged, payloads), "tensors of another outer step");
}

// A run with a momentum warm-up and the norm rescale: `checkpoint verify` recomputes each
// transition bit for bit, and a verifier told another warm-up or no rescale refuses it.
TEST_F(VerifyTransition, RecomputesTheWarmedUpRescaledOuterStep) {
  RunSpec warmed = spec;
  warmed.outer.warmup_windows = 3;
  warmed.outer.rescale = "norm";
  std::vector<const gradients::DecodedDelta*> deltas = {&decoded[0], &decoded[1]};
  checkpoints::Checkpoint at = parent;
  for (std::uint64_t w = 5; w <= 6; ++w) {
    auto next = *next_checkpoint(warmed, at, w, accepted, deltas);
    checkpoints::Checkpoint c;
    c.tensors = next.tensors;
    c.manifest = next.manifest;
    c.hash = c.manifest.content_hash();
    EXPECT_NE(c.manifest.outer.find("warmup=3 rescale=norm:2"), std::string::npos) << c.manifest.outer;
    EXPECT_TRUE(verify_transition(warmed, at, c, payloads).ok()) << "window " << w;
    RunSpec other = warmed;
    other.outer.warmup_windows = 2;
    expect_refused(verify_transition(other, at, c, payloads), "another warm-up");
    other = warmed;
    other.outer.rescale = "none";
    expect_refused(verify_transition(other, at, c, payloads), "no rescale");
    at = c;
  }
}

// A warm-up of 30 steps at H = 10: windows 4, 5 and 6 (the run's first three) train at
// mean factors of 5.5, 15.5 and 25.5 thirtieths of the peak rate. The run stores its
// norm reference per unit of that rate, so a window-5 delta twice as long as window 4's
// (the rate rose 2.8×) is not clipped; under the earlier rules, which a run begun before
// them keeps, it is. Both chains verify, and a checkpoint that drops the rule does not.
TEST_F(VerifyTransition, TheNormReferenceFollowsTheWarmUpRate) {
  RunSpec warm = spec;
  warm.train.inner_steps = 10;
  warm.train.warmup_steps = 30;
  auto init = *initial_checkpoint(warm, 4);
  checkpoints::Checkpoint base;
  base.tensors = init.tensors;
  base.manifest = init.manifest;
  base.hash = base.manifest.content_hash();
  ASSERT_TRUE(base.manifest.references_per_warmup_rate);
  checkpoints::Checkpoint legacy_base = base;
  legacy_base.manifest.references_per_warmup_rate = false;
  legacy_base.hash = legacy_base.manifest.content_hash();

  std::vector<const gradients::DecodedDelta*> deltas = {&decoded[0], &decoded[1]};
  std::vector<gradients::DecodedDelta> doubled = decoded;
  for (auto& d : doubled) {
    for (auto& u : d.tensors) (u.is_dense() ? u.dense : u.values) = (u.is_dense() ? u.dense : u.values) * 2.0f;
  }
  std::vector<const gradients::DecodedDelta*> doubled_deltas = {&doubled[0], &doubled[1]};
  const double median = gradients::median({gradients::delta_norm(decoded[0]), gradients::delta_norm(decoded[1])});

  std::size_t clipped[2];
  for (bool per_rate : {true, false}) {
    const checkpoints::Checkpoint& from = per_rate ? base : legacy_base;
    auto next = *next_checkpoint(warm, from, 5, accepted, deltas);
    checkpoints::Checkpoint c5;
    c5.tensors = next.tensors;
    c5.manifest = next.manifest;
    c5.hash = c5.manifest.content_hash();
    EXPECT_EQ(c5.manifest.references_per_warmup_rate, per_rate);
    EXPECT_DOUBLE_EQ(c5.manifest.norm_reference, per_rate ? median / (5.5 / 30.0) : median);
    EXPECT_TRUE(verify_transition(warm, from, c5, payloads).ok()) << (per_rate ? "per rate" : "legacy");
    checkpoints::Checkpoint dropped = c5;
    dropped.manifest.references_per_warmup_rate = !per_rate;
    dropped.hash = dropped.manifest.content_hash();
    expect_refused(verify_transition(warm, from, dropped, payloads), "the reference rule changed");
    clipped[per_rate ? 0 : 1] = next_checkpoint(warm, c5, 6, accepted, doubled_deltas)->stats.clipped;
  }
  EXPECT_EQ(clipped[0], 0u) << "window 5's deltas were clipped to window 4's rate";
  EXPECT_EQ(clipped[1], 2u) << "the earlier rules changed";
}

}  // namespace
}  // namespace tessera::aggregator
