// The miner's scheduler (trainer::choose_window): which window a miner trains given the
// newest checkpoint C_a and the chain's window h, and when it gives a window up. The
// case that matters most: a miner whose overlapped window is already open with too
// little of it left skips it, instead of training work that would miss its deadline and
// start the next window late as well.
#include <gtest/gtest.h>

#include "trainer/miner.h"

namespace tessera::trainer {
namespace {

const auto kFits = [](std::uint64_t) { return true; };
const auto kLate = [](std::uint64_t) { return false; };

TEST(MinerScheduler, TrainsTheOpenWindowWhenItsStepsFit) {
  const auto c = choose_window(5, 5, 4, true, kFits);
  EXPECT_EQ(c.kind, WindowChoice::kTrain);
  EXPECT_EQ(c.window, 5u);
}

TEST(MinerScheduler, StartsTheNextWindowEarlyWhenTheOpenOneNoLongerFits) {
  const auto c = choose_window(5, 5, 4, true, kLate);
  EXPECT_EQ(c.kind, WindowChoice::kTrainAhead);
  EXPECT_EQ(c.window, 6u);
  // Without overlap the miner trains the open window regardless (the old loop).
  EXPECT_EQ(choose_window(5, 5, 4, false, kLate).kind, WindowChoice::kTrain);
}

TEST(MinerScheduler, TrainsAheadWhileTheNextWindowsCheckpointIsPending) {
  // Window 5 submitted; the chain is in 5 (6 not open yet) or already in 6 with time left.
  auto c = choose_window(5, 5, 5, true, kLate);
  EXPECT_EQ(c.kind, WindowChoice::kTrainAhead);
  EXPECT_EQ(c.window, 6u);
  c = choose_window(5, 6, 5, true, kFits);
  EXPECT_EQ(c.kind, WindowChoice::kTrainAhead);
  EXPECT_EQ(c.window, 6u);
}

TEST(MinerScheduler, SkipsAnOpenWindowItCanNoLongerFinish) {
  // Only the window that is already open is judged by the time left: one that has not
  // opened yet has all of its length ahead.
  std::vector<std::uint64_t> asked;
  const auto c = choose_window(5, 6, 5, true, [&](std::uint64_t w) {
    asked.push_back(w);
    return false;
  });
  EXPECT_EQ(c.kind, WindowChoice::kSkip);
  EXPECT_EQ(c.window, 6u);
  EXPECT_EQ(asked, std::vector<std::uint64_t>{6});
  // Once skipped it waits for C_6, then starts window 7 from it at once.
  EXPECT_EQ(choose_window(5, 6, 6, true, kLate).kind, WindowChoice::kWait);
  const auto next = choose_window(6, 6, 6, true, kLate);
  EXPECT_EQ(next.kind, WindowChoice::kTrainAhead);
  EXPECT_EQ(next.window, 7u);
}

TEST(MinerScheduler, CatchesUpWhenTheAggregatorIsBehindAndNeverRepeatsAWindow) {
  // C_3 with the chain in window 6: too stale to train on; give window 3 up once.
  const auto c = choose_window(3, 6, 2, true, kFits);
  EXPECT_EQ(c.kind, WindowChoice::kSkip);
  EXPECT_EQ(c.window, 3u);
  EXPECT_EQ(choose_window(3, 6, 3, true, kFits).kind, WindowChoice::kWait);
  // A window attempted before a restart is not trained again.
  EXPECT_EQ(choose_window(5, 5, 5, false, kFits).kind, WindowChoice::kWait);
  // The first window of a fresh miner.
  EXPECT_EQ(choose_window(0, 0, std::nullopt, true, kFits).kind, WindowChoice::kTrain);
}

}  // namespace
}  // namespace tessera::trainer
