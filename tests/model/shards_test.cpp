#include "model/shards.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace tessera::model {
namespace {

TEST(BalancedPartition, MinimisesTheLargestGroup) {
  auto starts = balanced_contiguous_partition({10, 10, 10, 10}, 2);
  ASSERT_TRUE(starts.ok());
  EXPECT_EQ(*starts, (std::vector<std::size_t>{0, 2}));
  starts = balanced_contiguous_partition({30, 5, 5, 5, 5, 30}, 3);
  ASSERT_TRUE(starts.ok());
  EXPECT_EQ(*starts, (std::vector<std::size_t>{0, 1, 5}));
  // Every group non-empty even when the capacity would allow fewer groups.
  starts = balanced_contiguous_partition({100, 1, 1}, 3);
  EXPECT_EQ(*starts, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_FALSE(balanced_contiguous_partition({1, 2}, 3).ok());
  EXPECT_FALSE(balanced_contiguous_partition({1, 2}, 0).ok());
}

TEST(Shards, CoverEveryParameterOnceInOrderAndBalance) {
  auto model = make_gpt(*preset("tiny"), 1);
  for (int s : {1, 2, 3, 4, 8}) {
    auto shards = partition_shards(model, s);
    ASSERT_TRUE(shards.ok()) << shards.status().to_string();
    ASSERT_EQ(shards->size(), static_cast<std::size_t>(s));
    std::vector<std::string> all;
    std::int64_t largest = 0, total = 0;
    for (const auto& shard : *shards) {
      EXPECT_FALSE(shard.parameter_names.empty());
      all.insert(all.end(), shard.parameter_names.begin(), shard.parameter_names.end());
      largest = std::max(largest, shard.numel);
      total += shard.numel;
    }
    std::vector<std::string> expected;
    for (const auto& [name, p] : model->named_params()) expected.push_back(name);
    EXPECT_EQ(all, expected) << "shards must be contiguous and in model order";
    EXPECT_EQ(total, model->config().parameter_count());
    // A block of tiny is ~1/7 of the model; balance within one unit of the ideal.
    const std::int64_t block = 12LL * 128 * 128 + 13 * 128;
    EXPECT_LE(largest, total / s + block) << "S=" << s;
  }
}

ModelSpec sharded(int shards, int per_miner, int epoch_windows = 4) {
  ModelSpec m;
  m.preset = "tiny";
  m.shards = shards;
  m.shards_per_miner = per_miner;
  m.shard_epoch_windows = epoch_windows;
  return m;
}

TEST(ShardAssignment, IsDeterministicStickyForAnEpochAndNamesKShards) {
  const ModelSpec m = sharded(4, 2, 4);
  for (std::uint32_t uid = 0; uid < 20; ++uid) {
    const auto a = assign_shards(7, m, 8, uid);
    EXPECT_EQ(a, assign_shards(7, m, 8, uid));
    EXPECT_EQ(a, assign_shards(7, m, 11, uid)) << "windows 8..11 are one shard epoch";
    ASSERT_EQ(a.size(), 2u);
    EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
    EXPECT_NE(a[0], a[1]);
    for (int s : a) EXPECT_TRUE(s >= 0 && s < 4);
  }
  // Unsharded runs: everyone trains every shard.
  EXPECT_EQ(assign_shards(7, sharded(3, 0), 5, 9), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(assign_shards(7, sharded(3, 3), 5, 9), (std::vector<int>{0, 1, 2}));
}

TEST(ShardAssignment, AnySConsecutiveUidsCoverEveryShardExactlyKTimes) {
  for (int S : {2, 3, 4, 5, 8}) {
    for (int k = 1; k < S; ++k) {
      const ModelSpec m = sharded(S, k, 3);
      for (std::uint64_t window : {0ULL, 3ULL, 100ULL, 12345ULL}) {
        for (std::uint32_t first : {0u, 1u, 5u, 77u}) {
          std::vector<int> count(static_cast<std::size_t>(S), 0);
          for (std::uint32_t u = first; u < first + static_cast<std::uint32_t>(S); ++u) {
            for (int s : assign_shards(99, m, window, u)) ++count[static_cast<std::size_t>(s)];
          }
          for (int c : count) EXPECT_EQ(c, k) << "S=" << S << " k=" << k << " window " << window << " from uid " << first;
          // ⌈S/k⌉ consecutive uids already cover every shard.
          std::set<int> covered;
          for (std::uint32_t u = first; u < first + static_cast<std::uint32_t>((S + k - 1) / k); ++u) {
            for (int s : assign_shards(99, m, window, u)) covered.insert(s);
          }
          EXPECT_EQ(covered.size(), static_cast<std::size_t>(S));
        }
      }
    }
  }
}

TEST(ShardAssignment, RotatesAcrossEpochsSoNoShardIsLeftOutForever) {
  // A lone miner (uid 3) of a 4-shard run, one shard each: over 32 epochs it trains
  // every shard at some point.
  const ModelSpec m = sharded(4, 1, 2);
  std::set<int> seen;
  for (std::uint64_t epoch = 0; epoch < 32; ++epoch) {
    const auto a = assign_shards(5, m, epoch * 2, 3);
    seen.insert(a.begin(), a.end());
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(ShardAssignment, ParameterGroupsFromNamesMatchThePartition) {
  auto model = make_gpt(*preset("tiny"), 1);
  std::vector<std::string> names;
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& [name, p] : model->named_params()) {
    names.push_back(name);
    shapes.push_back(p.sizes().vec());
  }
  auto partition = partition_shards(model, 3);
  ASSERT_TRUE(partition.ok());
  auto groups = parameter_groups(sharded(3, 1), names, shapes);
  ASSERT_TRUE(groups.ok()) << groups.status().to_string();
  EXPECT_EQ(groups->second, 3);
  for (const auto& shard : *partition) {
    for (const auto& name : shard.parameter_names) {
      const auto i = static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
      EXPECT_EQ(groups->first[i], shard.index) << name;
    }
  }
  // Unsharded: one group.
  auto whole = parameter_groups(sharded(3, 0), names, shapes);
  EXPECT_EQ(whole->second, 1);
  EXPECT_EQ(whole->first, std::vector<int>(names.size(), 0));
  // A name that is no layer of the model is refused, not mapped somewhere.
  names.push_back("h.x.attn");
  shapes.push_back({4});
  EXPECT_FALSE(parameter_groups(sharded(3, 1), names, shapes).ok());
  // More shards per miner than shards: refused by the spec check.
  EXPECT_FALSE(resolve_config(sharded(2, 3)).ok());
}

}  // namespace
}  // namespace tessera::model
