#include "core/schedule.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(WindowSchedule, WindowsPartitionBlocks) {
  WindowSchedule s{20};
  EXPECT_EQ(s.window_of(0), 0u);
  EXPECT_EQ(s.window_of(19), 0u);
  EXPECT_EQ(s.window_of(20), 1u);
  EXPECT_EQ(s.first_block(3), 60u);
  EXPECT_EQ(s.last_block(3), 79u);
  EXPECT_EQ(s.blocks_left(60), 20u);
  EXPECT_EQ(s.blocks_left(79), 1u);
}

TEST(WindowSchedule, AcceptsCurrentWindowAndGrace) {
  WindowSchedule s{10};
  EXPECT_TRUE(s.accepts(2, 25, 2));
  EXPECT_TRUE(s.accepts(2, 31, 2));   // first two blocks of window 3
  EXPECT_FALSE(s.accepts(2, 32, 2));
  EXPECT_FALSE(s.accepts(3, 25, 2));  // future window
  EXPECT_FALSE(s.accepts(1, 25, 2));  // stale
}

// The ledger's phase (core/schedule.h: subtensor's documented one; its runtime's code
// runs one block earlier).
TEST(EpochSchedule, FallsWhereBlockPlusNetuidPlusOneFillsATempo) {
  EpochSchedule e{1, 10};  // epochs where (b + 2) % 11 == 0
  EXPECT_TRUE(e.is_epoch_block(9));
  EXPECT_TRUE(e.is_epoch_block(20));
  EXPECT_FALSE(e.is_epoch_block(10));
  EXPECT_EQ(e.blocks_until_next_epoch(9), 11u);
  EXPECT_EQ(e.blocks_until_next_epoch(10), 10u);
  EXPECT_EQ(e.next_epoch_block(9), 20u);
  EXPECT_EQ(e.next_epoch_block(10), 20u);
  EXPECT_EQ((EpochSchedule{1, 0}.next_epoch_block(10)), UINT64_MAX);
  EXPECT_EQ(e.epochs_through(8), 0u);
  EXPECT_EQ(e.epochs_through(9), 1u);
  EXPECT_EQ(e.epochs_through(20), 2u);
  EXPECT_FALSE(EpochSchedule({1, 0}).is_epoch_block(9));
}

// The warm-up rate of a window: the mean of its steps' factors (step + 1) / warmup,
// counted from the run's origin window, 1 once the warm-up is over or without one.
TEST(WarmupRate, IsTheMeanFactorOfTheWindowsSteps) {
  EXPECT_DOUBLE_EQ(window_warmup_rate(4, 4, 10, 30), 5.5 / 30.0);   // steps 0–9
  EXPECT_DOUBLE_EQ(window_warmup_rate(6, 4, 10, 30), 25.5 / 30.0);  // steps 20–29
  EXPECT_EQ(window_warmup_rate(7, 4, 10, 30), 1.0);
  EXPECT_EQ(window_warmup_rate(3, 4, 10, 30), window_warmup_rate(4, 4, 10, 30));  // before the origin: the first
  EXPECT_DOUBLE_EQ(window_warmup_rate(5, 4, 10, 15), (65.0 / 15.0 + 5.0) / 10.0);  // steps 10–14 warm, 15–19 full
  EXPECT_EQ(window_warmup_rate(0, 0, 10, 0), 1.0);
  EXPECT_EQ(warmup_factor(29, 30), 1.0);
  EXPECT_EQ(warmup_factor(30, 30), 1.0);
}

}  // namespace
}  // namespace tessera
