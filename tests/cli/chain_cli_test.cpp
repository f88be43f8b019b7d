// The chain commands as a user runs them: a real `tessera chain start` process and the
// client commands against it over gRPC.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/test_util.h"

namespace tessera {
namespace {

std::string cmd(const testing::TempDir& home, const std::string& address, const std::string& args) {
  return std::string(TESSERA_BINARY) + " --home " + (home / "h").string() + " " + args + " --chain " + address;
}

TEST(ChainCli, SubnetLifecycleThroughTheCommands) {
  testing::TempDir home;
  testing::Process node({TESSERA_BINARY, "--home", (home / "h").string(), "chain", "start", "--listen", "127.0.0.1:0",
                         "--block-time-ms", "50", "--fund", "owner=1000", "--fund", "alice=10"},
                        home / "node.log");
  // The node prints the address it listens on (the OS's port) once it serves.
  const std::string port = testing::wait_for_match(home / "node.log", "chain node ready on 127\\.0\\.0\\.1:([0-9]+)",
                                                   std::chrono::seconds(30));
  ASSERT_FALSE(port.empty()) << "the node printed no address";
  const std::string address = "127.0.0.1:" + port;
  auto bal = testing::run_command(cmd(home, address, "wallet balance --name alice --json"));
  ASSERT_EQ(bal.exit_code, 0) << bal.output;
  EXPECT_EQ(nlohmann::json::parse(bal.output)["coldkey_rao"], 10'000'000'000ULL);

  auto created = testing::run_command(cmd(home, address, "subnet create --spec " + std::string(TESSERA_SOURCE_DIR) +
                                                             "/examples/tiny.toml --wallet owner"));
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_NE(created.output.find("netuid 1"), std::string::npos) << created.output;

  auto reg = testing::run_command(cmd(home, address, "subnet register --netuid 1 --wallet alice"));
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  EXPECT_NE(reg.output.find("as uid 0"), std::string::npos) << reg.output;
  auto stake = testing::run_command(cmd(home, address, "stake add --netuid 1 --wallet alice --amount 2.5"));
  ASSERT_EQ(stake.exit_code, 0) << stake.output;

  auto shown = testing::run_command(cmd(home, address, "subnet show --netuid 1 --json"));
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  const auto j = nlohmann::json::parse(shown.output);
  ASSERT_EQ(j["neurons"].size(), 1u);
  EXPECT_EQ(j["neurons"][0]["stake_rao"], 2'500'000'000ULL);
  EXPECT_EQ(j["tempo"], 100);
  auto table = testing::run_command(cmd(home, address, "subnet show --netuid 1"));
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find(" 2.5000 "), std::string::npos) << table.output;  // stake, in the "stake TAO" column

  // Rejections come back as clear errors with a non-zero exit.
  auto broke = testing::run_command(cmd(home, address, "wallet transfer --name alice --to owner --amount 100"));
  EXPECT_EQ(broke.exit_code, 1);
  EXPECT_NE(broke.output.find("insufficient balance"), std::string::npos) << broke.output;
  auto unknown = testing::run_command(cmd(home, address, "subnet show --netuid 9"));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("unknown subnet 9"), std::string::npos) << unknown.output;
  auto bad_amount = testing::run_command(cmd(home, address, "wallet transfer --name alice --to owner --amount -3"));
  EXPECT_EQ(bad_amount.exit_code, 1);
  EXPECT_NE(bad_amount.output.find("not a TAO amount"), std::string::npos) << bad_amount.output;

  // 10 - 0.1 burn - 2.5 stake.
  bal = testing::run_command(cmd(home, address, "wallet balance --name alice --json"));
  ASSERT_EQ(bal.exit_code, 0) << bal.output;
  EXPECT_EQ(nlohmann::json::parse(bal.output)["coldkey_rao"], 7'400'000'000ULL);
}

TEST(ChainCli, YumaCheckPrintsOneObjectPerVectorAndASummary) {
  auto r = testing::run_command(std::string(TESSERA_BINARY) + " chain yuma-check --json --vectors " +
                                std::string(TESSERA_SOURCE_DIR) + "/tests/data/yuma/vectors.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  int vectors = 0;
  nlohmann::json summary;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line);
    if (j.contains("summary")) {
      summary = j;
    } else {
      ++vectors;
      EXPECT_TRUE(j["pass"].get<bool>()) << line;
      EXPECT_TRUE(j.contains("max_abs_error"));
    }
  }
  EXPECT_EQ(vectors, 20);
  EXPECT_EQ(summary["passed"], 20);
  auto missing = testing::run_command(std::string(TESSERA_BINARY) + " chain yuma-check --vectors /nonexistent.json");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("cannot open"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace tessera
