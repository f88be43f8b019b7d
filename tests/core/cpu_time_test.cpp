#include "core/cpu_time.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "core/process.h"
#include "tests/test_util.h"

namespace tessera {
namespace {

// A group whose leader sleeps while a process it started spins: the group's CPU time is
// the spinning grandchild's, which a per-process reading of the leader would miss.
TEST(CpuTime, CountsEveryLiveProcessOfTheGroup) {
  testing::TempDir dir;
  Subprocess group({"/bin/sh", "-c", "sh -c 'while :; do :; done' & sleep 30"}, dir / "out.log");
  Subprocess idle({"/bin/sleep", "30"}, dir / "idle.log");
  const double start = process_group_cpu_seconds({group.pid()}).at(group.pid());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // One pass reads every group asked for.
  const auto both = process_group_cpu_seconds({group.pid(), idle.pid()});
  const double spun = both.at(group.pid()) - start;
  ::kill(-group.pid(), SIGKILL);  // the spinning grandchild too
  // On a loaded machine the spinner gets less than a core; it still gets some.
  EXPECT_GT(spun, 0.2);
  EXPECT_LE(spun, 1.5 * 1.1 + 0.05);  // one spinning thread: at most the wall time, a tick of slack
  EXPECT_LT(both.at(idle.pid()), 0.1);
  // No such group, or no group at all: nothing.
  const auto none = process_group_cpu_seconds({0, -1});
  EXPECT_EQ(none.at(0), 0.0);
  EXPECT_EQ(none.at(-1), 0.0);
}

}  // namespace
}  // namespace tessera
