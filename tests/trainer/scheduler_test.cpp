// The miner's scheduler (trainer::choose_window): which window a miner trains given the
// newest checkpoint C_a and the chain's window h, and when it gives a window up. The
// case that matters most: a miner whose overlapped window is already open with too
// little of it left skips it, instead of training work that would miss its deadline and
// start the next window late as well.
#include <gtest/gtest.h>

#include <optional>

#include "trainer/miner.h"

namespace tessera::trainer {
namespace {

const auto kFits = [](std::uint64_t) { return true; };
const auto kLate = [](std::uint64_t) { return false; };

void expect_choice(const WindowChoice& c, WindowChoice::Kind kind, std::uint64_t window) {
  EXPECT_EQ(c.kind, kind);
  EXPECT_EQ(c.window, window);
}

TEST(MinerScheduler, TrainsTheOpenWindowWhenItsStepsFit) {
  expect_choice(choose_window(5, 5, 4, true, kFits), WindowChoice::kTrain, 5);
}

TEST(MinerScheduler, StartsTheNextWindowEarlyWhenTheOpenOneNoLongerFits) {
  // C_5 came with too little of window 5 left: 5 is given up (reported), then 6 planned.
  expect_choice(choose_window(5, 5, 4, true, kLate), WindowChoice::kSkip, 5);
  expect_choice(choose_window(5, 5, 5, true, kLate), WindowChoice::kTrainAhead, 6);
  // Without overlap the miner trains the open window regardless (the old loop).
  EXPECT_EQ(choose_window(5, 5, 4, false, kLate).kind, WindowChoice::kTrain);
}

TEST(MinerScheduler, TrainsAheadWhileTheNextWindowsCheckpointIsPending) {
  // Window 5 submitted; the chain is in 5 (6 not open yet) or already in 6 with time left.
  expect_choice(choose_window(5, 5, 5, true, kLate), WindowChoice::kTrainAhead, 6);
  expect_choice(choose_window(5, 6, 5, true, kFits), WindowChoice::kTrainAhead, 6);
}

TEST(MinerScheduler, WaitsForTheNextCheckpointWhenItLeavesTimeToSpare) {
  const auto kSpare = [](std::uint64_t) { return true; };
  // Window 5 submitted, the chain in 5 or already in 6: too early to start 6 ahead of C_6.
  EXPECT_EQ(choose_window(5, 5, 5, true, kFits, kSpare).kind, WindowChoice::kWait);
  expect_choice(choose_window(5, 5, 4, true, kLate, kSpare), WindowChoice::kSkip, 5);
  EXPECT_EQ(choose_window(5, 6, 5, true, kFits, kSpare).kind, WindowChoice::kWait);
  // An open window 6 that no longer fits is still given up.
  expect_choice(choose_window(5, 6, 5, true, kLate, kSpare), WindowChoice::kSkip, 6);
  // When C_6 comes, window 6 is trained from it.
  expect_choice(choose_window(6, 6, 5, true, kFits, kSpare), WindowChoice::kTrain, 6);
  // No time to spare: ahead, as before.
  expect_choice(choose_window(5, 5, 5, true, kFits, kLate), WindowChoice::kTrainAhead, 6);
}

// The latest start: a miner waits while the deadline is more than a quarter above its
// steps' time away, and never before a window was trained.
TEST(MinerScheduler, TooEarlyToStartWhileTheDeadlineIsMoreThanTheStepsAndAQuarterAway) {
  const double margin = MinerOptions{}.start_margin;
  EXPECT_EQ(margin, 1.25);
  EXPECT_TRUE(too_early_to_start(10.0, 4.4, margin));   // a window with room: 10 > 5.5, wait for C_{a+1}
  EXPECT_TRUE(too_early_to_start(5.6, 4.4, margin));    // 5.6 > 5.5: still 0.1 s early
  EXPECT_FALSE(too_early_to_start(5.5, 4.4, margin));   // the latest start: go, ahead of C_{a+1}
  EXPECT_FALSE(too_early_to_start(5.25, 5.0, margin));  // a window sized to the work: never waits
  EXPECT_FALSE(too_early_to_start(-0.5, 4.4, margin));  // past the deadline
  EXPECT_FALSE(too_early_to_start(10.0, 0.0, margin));  // no window trained yet: no pace to plan with
  EXPECT_FALSE(too_early_to_start(10.0, 4.4, 1000.0));  // `--start-margin 1000`: start at once
}

// A miner whose first window took longer than any window leaves (4.53 s of steps against
// 4.5-s windows with 0.5 s of grace, in a demo run) skipped every later window: a skip
// measures no new pace. With the pace lowered after each skip it tries again within a few
// windows, and a trained window's time replaces the planned one.
TEST(MinerScheduler, ASlowWindowDoesNotKeepTheMinerSkippingForGood) {
  const double left_at_start = 4.5 + 0.5 - 0.3;  // window and grace, less the merge before C_w comes
  double pace = 4.53;
  int trained = 0, skipped = 0;
  std::optional<std::uint64_t> attempted = 1;
  for (std::uint64_t w = 2; w < 14; ++w) {
    const auto fits = [&](std::uint64_t) { return left_at_start >= 1.1 * pace; };
    const WindowChoice c = choose_window(w, w, attempted, true, fits);
    attempted = c.window;
    if (c.kind == WindowChoice::kSkip) {
      ++skipped;
      pace = pace_after_skip(pace);
    } else {
      ASSERT_EQ(c.kind, WindowChoice::kTrain);
      ++trained;
      pace = 3.6;  // its steps' time once the start-up is over
    }
  }
  EXPECT_EQ(skipped, 1);
  EXPECT_EQ(trained, 11);
  // A miner three times too slow for the window still tries one window after 7 skips.
  pace = 3 * left_at_start;
  int skips = 0;
  while (left_at_start < 1.1 * pace && skips < 100) {
    pace = pace_after_skip(pace);
    ++skips;
  }
  EXPECT_EQ(skips, 7);
}

TEST(MinerScheduler, EndsALateWindowWhenAnotherStepWouldLeaveTooLittleToSendButNeverBeforeHalfOfH) {
  // 0.4 s a step, 0.2 s to encode and send: another step needs 0.64 s. `reads` counts the
  // chain reads behind the time left.
  int reads = 0;
  const auto ends = [&](int steps, int inner_steps, double left_s) {
    return end_window_now(steps, inner_steps, 0.4, 0.2, [&] {
      ++reads;
      return left_s;
    });
  };
  EXPECT_TRUE(ends(6, 10, 0.6));
  EXPECT_FALSE(ends(6, 10, 0.7)) << "another step still leaves time to send";
  reads = 0;
  EXPECT_FALSE(ends(4, 10, 0.1)) << "fewer than half of H: dropped as late instead";
  EXPECT_EQ(reads, 0) << "the time left is not read before half of H";
  EXPECT_TRUE(ends(5, 10, 0.1));
  EXPECT_TRUE(ends(9, 10, -1.0)) << "already past the close";
  EXPECT_TRUE(ends(2, 3, 0.5)) << "half of an odd H rounds up";
  EXPECT_FALSE(ends(1, 3, 0.5));
}

// A validator that stalls a miner's send must not cut the miner's later windows short:
// the reserve the early end keeps for the send is capped at a tenth of the window.
TEST(MinerScheduler, AStalledSendReservesAtMostATenthOfTheWindow) {
  EXPECT_DOUBLE_EQ(send_reserve(0.05, 0.15, 5.0), 0.2) << "an ordinary send: what it took";
  const double stalled = send_reserve(0.05, 30.0, 5.0);
  EXPECT_DOUBLE_EQ(stalled, 0.5) << "a 30-s stall in a 5-s window reserves 0.5 s";
  // The next window, at 0.4 s a step: it goes on while 0.94 s are left, as it would with
  // half a second to send, not from 30.49 s before the close (the whole window).
  const auto ends = [&](double left_s) { return end_window_now(8, 10, 0.4, stalled, [&] { return left_s; }); };
  EXPECT_FALSE(ends(1.0));
  EXPECT_TRUE(ends(0.9));
}

// A window whose steps are all in the learning rate's warm-up is never ended early
// (in_warmup): H = 4, 4 warm-up steps, the run's schedule counting from window 8.
TEST(MinerScheduler, AWindowWhollyInTheWarmUpIsNotEndedEarly) {
  EXPECT_TRUE(in_warmup(8, 8, 4, 4)) << "steps 0-3 of a 4-step warm-up";
  EXPECT_FALSE(in_warmup(9, 8, 4, 4)) << "steps 4-7: past the warm-up";
  EXPECT_TRUE(in_warmup(10, 8, 10, 30)) << "steps 20-29 of 30";
  EXPECT_FALSE(in_warmup(11, 8, 10, 30)) << "steps 30-39";
  EXPECT_FALSE(in_warmup(8, 8, 10, 5)) << "a window that leaves the warm-up part-way may end early";
  EXPECT_FALSE(in_warmup(8, 8, 10, 0)) << "no warm-up";
  EXPECT_TRUE(in_warmup(7, 8, 10, 0)) << "before the schedule's origin: nothing to measure it by";
}

TEST(MinerScheduler, SkipsAnOpenWindowItCanNoLongerFinish) {
  // Only the window that is already open is judged by the time left: one that has not
  // opened yet has all of its length ahead.
  std::vector<std::uint64_t> asked;
  expect_choice(choose_window(5, 6, 5, true,
                              [&](std::uint64_t w) {
                                asked.push_back(w);
                                return false;
                              }),
                WindowChoice::kSkip, 6);
  EXPECT_EQ(asked, std::vector<std::uint64_t>{6});
  // Once skipped it waits for C_6, then starts window 7 from it at once.
  EXPECT_EQ(choose_window(5, 6, 6, true, kLate).kind, WindowChoice::kWait);
  expect_choice(choose_window(6, 6, 6, true, kLate), WindowChoice::kTrainAhead, 7);
}

TEST(MinerScheduler, CatchesUpWhenTheAggregatorIsBehindAndNeverRepeatsAWindow) {
  // C_3 with the chain in window 6: too stale to train on; give window 3 up once.
  expect_choice(choose_window(3, 6, 2, true, kFits), WindowChoice::kSkip, 3);
  EXPECT_EQ(choose_window(3, 6, 3, true, kFits).kind, WindowChoice::kWait);
  // A window attempted before a restart is not trained again.
  EXPECT_EQ(choose_window(5, 5, 5, false, kFits).kind, WindowChoice::kWait);
  // The first window of a fresh miner.
  EXPECT_EQ(choose_window(0, 0, std::nullopt, true, kFits).kind, WindowChoice::kTrain);
}

}  // namespace
}  // namespace tessera::trainer
