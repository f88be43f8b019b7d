// Merged updates for catch-up: parent + update reproduces the child bit for bit; a
// malformed or mismatching update is refused.
#include <gtest/gtest.h>

#include "checkpoints/update.h"
#include "proto/checkpoint.pb.h"

namespace tessera::checkpoints {
namespace {

TEST(CheckpointUpdate, ReproducesTheChildBitForBit) {
  Checkpoint parent;
  parent.hash = std::string(64, 'a');
  torch::manual_seed(1);
  parent.tensors = {{"a", torch::randn({64, 32})}, {"b", torch::randn({100})}, {"c", torch::randn({7})}};
  NamedTensors child;
  for (const auto& [n, t] : parent.tensors) child.emplace_back(n, t.clone());
  child[0].second.view({-1})[5] += 1.0f;   // sparse change
  child[0].second.view({-1})[2047] = -0.0f;
  child[1].second.mul_(0.5);              // dense change
  const std::string child_hash(64, 'b');
  auto update = make_update(parent, child, child_hash);
  ASSERT_TRUE(update.ok()) << update.status().to_string();
  proto::CheckpointUpdate u;
  ASSERT_TRUE(u.ParseFromString(*update));
  ASSERT_EQ(u.patches_size(), 2);  // tensor c unchanged
  EXPECT_FALSE(u.patches(0).dense());
  EXPECT_TRUE(u.patches(1).dense());
  EXPECT_LT(update->size(), 100u * 4 + 64 * 32 * 4 / 10);
  auto applied = apply_update(parent, *update, child_hash);
  ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  for (std::size_t i = 0; i < child.size(); ++i) {
    EXPECT_EQ(std::memcmp((*applied)[i].second.data_ptr<float>(), child[i].second.contiguous().data_ptr<float>(),
                          child[i].second.numel() * 4),
              0)
        << child[i].first;
  }
  EXPECT_FALSE(apply_update(parent, *update, std::string(64, 'c')).ok());  // another child
  u.mutable_patches(0)->mutable_indices()->replace(0, 4, std::string("\xff\xff\xff\x00", 4));
  auto bad = apply_update(parent, u.SerializeAsString(), child_hash);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("out of order or range"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(apply_update(parent, "garbage", child_hash).ok());
}

}  // namespace
}  // namespace tessera::checkpoints
