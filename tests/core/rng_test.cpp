#include "core/rng.h"

#include <gtest/gtest.h>

#include <vector>

namespace tessera {
namespace {

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    auto x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
  }
  EXPECT_NE(Rng(42).next_u64(), c.next_u64());
  EXPECT_NE(Rng::derive("a", 1).next_u64(), Rng::derive("b", 1).next_u64());
}

TEST(Rng, FixedOutputAcrossMachines) {
  // Pinned values: the stream is part of the protocol (page assignment, sampling).
  Rng r(1);
  EXPECT_EQ(r.next_u64(), 0xb3f2af6d0fc710c5ULL);
}

TEST(Rng, UniformIsInRangeAndRoughlyFlat) {
  Rng r(7);
  std::vector<int> counts(10, 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    auto v = r.uniform(10);
    ASSERT_LT(v, 10u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, n / 10, 600);  // ~6 sigma
  for (int i = 0; i < 1000; ++i) {
    double d = r.uniform_double();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
  }
}

}  // namespace
}  // namespace tessera
