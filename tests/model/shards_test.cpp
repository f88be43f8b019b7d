#include "model/shards.h"

#include <gtest/gtest.h>

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

TEST(Shards, ParseShardList) {
  EXPECT_EQ(*parse_shard_list("0,2-3", 4), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(*parse_shard_list("3,1,1", 4), (std::vector<int>{1, 3}));
  EXPECT_FALSE(parse_shard_list("4", 4).ok());
  EXPECT_FALSE(parse_shard_list("a", 4).ok());
  EXPECT_FALSE(parse_shard_list("3-1", 4).ok());
  EXPECT_FALSE(parse_shard_list("", 4).ok());
}

}  // namespace
}  // namespace tessera::model
