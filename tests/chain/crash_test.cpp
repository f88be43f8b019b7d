// Crash testing of the chain node: the power-cut shim drops exactly what was not synced,
// and a short run of the crash harness (bench/chain_crash: random kills, a kill inside a
// snapshot write and between a log append and its fsync, under the shim) restarts the node
// every time with nothing acknowledged lost. The full runs are in bench/ (docs/chain.md).
#include <gtest/gtest.h>

#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera {
namespace {

std::string probe(const testing::TempDir& dir, const std::string& mode) {
  const auto r = testing::run_command("LD_PRELOAD=" + std::string(TESSERA_POWERCUT) + " TESSERA_POWERCUT_DIR=" +
                                      dir.path().string() + " " + TESSERA_POWERCUT_PROBE + " " + dir.path().string() +
                                      " " + mode);
  EXPECT_EQ(r.exit_code, 128 + 9) << "the probe should die by SIGKILL: " << r.output;
  auto contents = read_file(dir / "file");
  return contents.ok() ? *contents : std::string("(absent)");
}

TEST(PowerCut, DropsWhatWasNotSyncedAndKeepsWhatWas) {
  {
    testing::TempDir dir;
    EXPECT_EQ(probe(dir, "nosync"), "");  // the file was created, its data never synced
  }
  {
    testing::TempDir dir;
    EXPECT_EQ(probe(dir, "sync"), "hello");
  }
  {
    testing::TempDir dir;
    EXPECT_EQ(probe(dir, "rename"), "(absent)");  // the rename was never made durable
    const auto tmp = read_file(dir / "file.tmp");
    ASSERT_TRUE(tmp.ok()) << tmp.status().message();
    EXPECT_EQ(*tmp, "hello");
  }
  {
    testing::TempDir dir;
    EXPECT_EQ(probe(dir, "rename-sync"), "hello");
  }
}

TEST(ChainCrash, KillsFaultsAndPowerCutsLoseNothingAcknowledged) {
  const auto r = testing::run_command(std::string(TESSERA_CHAIN_CRASH) + " --tessera " + TESSERA_BINARY +
                                      " --kills 4 --faults --seed 11 --powercut " + TESSERA_POWERCUT);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"failed\":0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"file:written\":1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"file:renamed\":1"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tessera
