#include <gtest/gtest.h>

#include <fstream>

#include "chain-bridge/fixed.h"
#include "chain-bridge/yuma.h"
#include "chain-bridge/yuma_vectors.h"
#include "tests/test_util.h"

namespace tessera::chain {
namespace {

const std::string kVectors = std::string(TESSERA_SOURCE_DIR) + "/tests/data/yuma/vectors.json";

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

}  // namespace
}  // namespace tessera::chain
