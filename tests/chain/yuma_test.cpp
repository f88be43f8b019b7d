#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "chain-bridge/fixed.h"
#include "chain-bridge/yuma.h"
#include "chain-bridge/yuma_vectors.h"
#include "tests/test_util.h"

namespace tessera::chain {
namespace {

const std::string kVectors = std::string(TESSERA_SOURCE_DIR) + "/tests/data/yuma/vectors.json";
// subtensor's mat_ema_alpha family, sigmoid_safe and the single-staker epoch, transcribed
// by tests/data/yuma/own_vectors.py.
const std::string kOwnVectors = std::string(TESSERA_SOURCE_DIR) + "/tests/data/yuma/own_vectors.json";

TEST(Fixed, FollowsSubtensorRounding) {
  // x·y floors, x/y truncates, division by zero is 0, sums saturate.
  const Fixed third = Fixed::one() / Fixed::from_int(3);
  EXPECT_EQ(third.raw, 1431655765);
  EXPECT_EQ((third * Fixed::from_int(3)).raw, 4294967295);
  EXPECT_EQ((Fixed::from_raw(-1) * Fixed::from_raw(1)).raw, -1);  // floor, not toward zero
  EXPECT_EQ((Fixed::one() / Fixed::zero()).raw, 0);
  EXPECT_EQ((Fixed::max() + Fixed::one()).raw, Fixed::max().raw);
  EXPECT_EQ(to_u16_proportion(Fixed::one()), 65535);
  EXPECT_EQ(to_u16_proportion(Fixed::from_double(0.5)), 32767);
  EXPECT_EQ(round_to_u16(Fixed::from_double(32767.5)), 32768);  // half away from zero
  EXPECT_EQ(Fixed::from_f32(0.1).raw, 429496736);                 // f32 first, then nearest
}

TEST(Yuma, EverySharedVectorPasses) {
  auto results = evaluate_yuma_vectors_file(kVectors);
  ASSERT_TRUE(results.ok()) << results.status().to_string();
  ASSERT_EQ(results->size(), 20u);
  for (const auto& r : *results) {
    EXPECT_TRUE(r.pass) << r.name << ": " << (r.failures.empty() ? "" : r.failures.front());
  }
}

TEST(Yuma, EveryOwnVectorPasses) {
  auto results = evaluate_yuma_vectors_file(kOwnVectors);
  ASSERT_TRUE(results.ok()) << results.status().to_string();
  ASSERT_EQ(results->size(), 4u);
  for (const auto& r : *results) {
    EXPECT_TRUE(r.pass) << r.name << ": " << (r.failures.empty() ? "" : r.failures.front());
  }
}

TEST(Yuma, SparseEmaDropsBondsWithoutAWeightAndKeepsShapesSafe) {
  // A bond whose column has no new weight is dropped, not decayed (subtensor's rule).
  const SparseMatrix next = {{}, {{0, Fixed::from_int(2)}}};
  const SparseMatrix old = {{{0, Fixed::one()}}, {}};
  const std::vector<std::vector<Fixed>> alpha(2, std::vector<Fixed>(3, Fixed::from_f32(0.1)));
  const SparseMatrix got = mat_ema_alpha_sparse(next, old, alpha);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].empty());
  ASSERT_EQ(got[1].size(), 1u);
  // Shapes that differ return `next` (sparse) or `old`/`next` (dense) instead of reading
  // past a row.
  EXPECT_EQ(mat_ema_alpha_sparse(next, {{}}, alpha).size(), 2u);
  const std::vector<std::vector<Fixed>> a = {{Fixed::one()}}, b = {{Fixed::one(), Fixed::one()}};
  EXPECT_EQ(mat_ema_alpha(a, b, a), a);
  EXPECT_EQ(mat_ema_alpha(a, {}, a), std::vector<std::vector<Fixed>>{});
  EXPECT_EQ(mat_ema_alpha({}, {}, {}).size(), 1u);
}

TEST(Yuma, FixedPointExpIsTheSeriesOfSubstrateFixed) {
  EXPECT_EQ(exp_safe(Fixed::zero()), Fixed::one());
  EXPECT_EQ(exp_safe(Fixed::one()).raw, std::int64_t{22802600} << 9);  // e with 23 fraction bits
  // Clamped to [−20, 20] (test_math_exp_safe).
  EXPECT_EQ(exp_safe(Fixed::from_int(-21)), exp_safe(Fixed::from_int(-20)));
  EXPECT_EQ(exp_safe(Fixed::from_raw(std::numeric_limits<std::int64_t>::min())), exp_safe(Fixed::from_int(-20)));
  EXPECT_EQ(exp_safe(Fixed::max()), exp_safe(Fixed::from_int(20)));
  // 32 terms do not converge at 20: subtensor's exp(20) is 0.8% below e^20 (the sum of
  // 20^k/k! for k ≤ 31 is 481239357.67...).
  const double e20 = exp_safe(Fixed::from_int(20)).to_double();
  EXPECT_LT(e20, std::exp(20.0) * 0.995);
  EXPECT_NEAR(e20, 481239357.67, 0.5);
  EXPECT_NEAR(exp_safe(Fixed::from_double(-2.5)).to_double(), std::exp(-2.5), 1e-8);
  // The liquid alpha stays within [low, high] and rises with the distance to consensus.
  const Fixed lo = from_u16_proportion(6553), hi = from_u16_proportion(19660);
  const Fixed near = alpha_sigmoid(Fixed::from_double(0.5), Fixed::from_double(0.5), Fixed::zero(), lo, hi, 1000);
  const Fixed far = alpha_sigmoid(Fixed::from_double(0.1), Fixed::from_double(0.9), Fixed::zero(), lo, hi, 1000);
  EXPECT_GE(near, lo);
  EXPECT_LE(far, hi);
  EXPECT_LT(near, far);
}

TEST(Yuma, AWrongExpectationFailsWithTheMismatch) {
  std::ifstream in(kVectors);
  auto doc = nlohmann::json::parse(in);
  for (auto& v : doc["vectors"]) {
    if (v["name"] != "epoch_test_10_graph") continue;
    v["epochs"][0]["expected"]["emission_rao"][3] = 100000000;  // off by one rao
    const auto r = evaluate_yuma_vector(v);
    EXPECT_FALSE(r.pass);
    EXPECT_EQ(r.max_abs_error, 1.0);
    ASSERT_FALSE(r.failures.empty());
    EXPECT_NE(r.failures.front().find("emission_rao[3]"), std::string::npos) << r.failures.front();
    return;
  }
  FAIL() << "vector not found";
}

TEST(Yuma, MalformedFilesAreRejectedClearly) {
  testing::TempDir dir;
  const auto bad = dir.path() / "bad.json";
  testing::write_text(bad, "{\"vectors\": 3}");
  auto r = evaluate_yuma_vectors_file(bad.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("vectors"), std::string::npos);
  testing::write_text(bad, "{not json");
  EXPECT_FALSE(evaluate_yuma_vectors_file(bad.string()).ok());
  EXPECT_FALSE(evaluate_yuma_vectors_file((dir.path() / "missing.json").string()).ok());
  // A vector missing its inputs fails (does not crash) and says why.
  const auto v = evaluate_yuma_vector(nlohmann::json{{"name", "x"}, {"kind", "epoch"}, {"hyperparams", {}}});
  EXPECT_FALSE(v.pass);
  ASSERT_FALSE(v.failures.empty());
  EXPECT_NE(v.failures.front().find("malformed"), std::string::npos);
}

TEST(Yuma, HonestMajorityEarnsAndAnOutlierIsClipped) {
  // 3 validators (stake 10, 10, 1), 2 miners. The two big validators agree on miner 4;
  // the small one puts everything on miner 3: consensus clips it.
  YumaParams p;
  p.max_allowed_validators = 3;
  p.tempo = 10;
  p.activity_cutoff_blocks = 100;
  p.rao_emission = 1'000'000'000;
  YumaInputs in;
  in.current_block = 20;
  in.stake = {10, 10, 1, 0, 0};
  in.validator_permit = {true, true, true, false, false};
  in.last_update = {19, 19, 19, 0, 0};
  in.block_at_registration = {0, 0, 0, 1, 1};
  in.weights = {{{3, 1000}, {4, 65535}}, {{4, 65535}}, {{3, 65535}}, {}, {}};
  const YumaOutputs out = run_epoch(p, in);
  EXPECT_GT(out.incentive[4], out.incentive[3]);
  // A stake majority gives miner 3 at most validator 0's small weight; validator 2's full
  // weight on it is clipped to that, so its trust collapses while the others keep theirs.
  EXPECT_LT(out.consensus[3].to_double(), 0.02);
  EXPECT_LT(out.validator_trust[2].to_double(), 0.02);
  EXPECT_GT(out.validator_trust[1].to_double(), 0.98);
  std::uint64_t total = 0;
  for (auto e : out.combined_emission) total += e;
  EXPECT_LE(total, p.rao_emission);
  EXPECT_GE(total, p.rao_emission - 5);  // only truncation is lost
}

// Two validators (uids 0, 1) and two miners (2, 3); validator 0 weights miner 2, validator
// 1 weights miner 3.
YumaInputs four_uids() {
  YumaInputs in;
  in.current_block = 100;
  in.stake = {60, 40, 0, 0};
  in.validator_permit = {true, true, false, false};
  in.last_update = {90, 90, 0, 0};
  in.block_at_registration = {0, 0, 10, 10};
  in.weights = {{{2, 65535}}, {{3, 65535}}, {}, {}};
  return in;
}

TEST(Yuma, StakeThresholdSparesTheOwnerOnly) {
  YumaParams p;
  p.max_allowed_validators = 4;
  p.tempo = 10;
  p.activity_cutoff_blocks = 1000;
  p.stake_threshold = 50;  // validator 1 (40) falls below it
  YumaOutputs out = run_epoch(p, four_uids());
  EXPECT_EQ(out.stake[1].raw, 0);
  EXPECT_FALSE(out.new_validator_permit[1]);
  EXPECT_EQ(out.active_stake[1].raw, 0);  // its weight no longer counts
  p.owner_uid = 1;
  out = run_epoch(p, four_uids());
  EXPECT_GT(out.stake[1].raw, 0);
  EXPECT_TRUE(out.new_validator_permit[1]);
  EXPECT_GT(out.active_stake[1].raw, 0);
}

TEST(Yuma, OwnerKeepsItsSelfWeightAndPermit) {
  YumaParams p;
  p.max_allowed_validators = 4;
  p.tempo = 10;
  p.activity_cutoff_blocks = 1000;
  YumaInputs in = four_uids();
  in.validator_permit = {true, false, false, false};
  in.weights[1] = {{1, 65535}};
  EXPECT_TRUE(run_epoch(p, in).weights[1].empty());  // not permitted, and a self-weight
  p.owner_uid = 1;
  const YumaOutputs out = run_epoch(p, in);
  ASSERT_EQ(out.weights[1].size(), 1u);
  EXPECT_EQ(out.weights[1][0].first, 1u);
}

TEST(Yuma, CommitRevealMaskDropsWeightsOnUidsRegisteredAfterAPendingCommit) {
  YumaParams p;
  p.max_allowed_validators = 4;
  p.tempo = 10;
  p.activity_cutoff_blocks = 1000;
  YumaInputs in = four_uids();
  in.commit_block = {5, std::numeric_limits<std::uint64_t>::max(), 0, 0};  // before miner 2 registered (10)
  EXPECT_FALSE(run_epoch(p, in).weights[0].empty());  // mask off without commit–reveal
  p.commit_reveal = true;
  const YumaOutputs out = run_epoch(p, in);
  EXPECT_TRUE(out.weights[0].empty());
  EXPECT_FALSE(out.weights[1].empty());
  in.commit_block[0] = 10;  // not before the registration: kept
  EXPECT_FALSE(run_epoch(p, in).weights[0].empty());
}

TEST(Yuma, BondsOfUidsRegisteredSinceThePreviousEpochAreMasked) {
  YumaParams p;
  p.max_allowed_validators = 4;
  p.tempo = 10;
  p.activity_cutoff_blocks = 1000;
  p.yuma3 = true;
  YumaInputs in = four_uids();
  in.block_at_registration = {0, 0, 85, 10};
  in.last_update = {95, 95, 0, 0};
  in.bonds = {{{2, 30000}}, {}, {}, {}};
  // Before any epoch the cut is current − tempo = 90: miner 2 (85) registered before it.
  const auto kept = run_epoch(p, in);
  // With the previous epoch at block 84, the cut is 85: miner 2's bond column goes.
  p.last_mechanism_step_block = 84;
  const auto masked = run_epoch(p, in);
  ASSERT_FALSE(kept.bonds[0].empty());
  ASSERT_FALSE(masked.bonds[0].empty());
  EXPECT_GT(kept.bonds[0][0].second, masked.bonds[0][0].second);  // the old bond was carried only in `kept`
}

}  // namespace
}  // namespace tessera::chain
