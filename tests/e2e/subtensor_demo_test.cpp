// `tessera demo --subtensor` as a user runs it: the subtensor runtime under chopsticks
// (scripts/subtensor-localnet.sh), a validator that aggregates and two miners as real
// processes, four windows. The model learns, the validator's weights reach the runtime,
// and the runtime's own Yuma consensus pays the miners all of the incentive and the
// validator the dividends: the figures the summary shows are the runtime's, read after the
// epoch that follows the validator's last weights.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera {
namespace {

TEST(SubtensorDemo, FourWindowsOnTheRuntimeWithItsYumaRankingTheMiners) {
  const std::filesystem::path chopsticks =
      std::filesystem::path(TESSERA_SOURCE_DIR) / "tests/subtensor/node_modules/.bin/chopsticks";
  ASSERT_TRUE(std::filesystem::exists(chopsticks)) << "chopsticks is not installed: run scripts/install-deps.sh";
  // The demo's corpus (Debian's fortunes, as `make corpus` prepares it): on the synthetic
  // text of the other tests, tiny's evaluation finds no gain after the first windows.
  const std::filesystem::path fortunes = "/usr/share/games/fortunes";
  ASSERT_TRUE(std::filesystem::is_directory(fortunes)) << "the fortunes package is missing: run scripts/install-deps.sh";
  testing::TempDir home, corpus, out;
  const std::string tessera = std::string(TESSERA_BINARY) + " --home " + home.path().string() + " ";
  auto prepared = testing::run_command(tessera + "data prepare --input " + fortunes.string() + " --out " +
                                       (corpus / "data").string() + " --val-fraction 0.05 2>&1");
  ASSERT_EQ(prepared.exit_code, 0) << prepared.output;
  auto r = testing::run_command("cd " + std::string(TESSERA_SOURCE_DIR) + " && " + tessera +
                                "demo --subtensor --windows 4 --miners 2 --validators 1 --no-baseline --spec examples/tiny.toml"
                                " --data " + (corpus / "data").string() + " --out " + (out / "report").string() + " 2>&1");
  // The validator's log (its outcomes by window and its weight settings), for a failure
  // message: the demo keeps its state under --home, which the test removes.
  auto validator_log = [&] {
    std::string text;
    for (const auto& run : std::filesystem::directory_iterator(home.path())) {
      const auto path = run.path() / "logs" / "validator-0.log";
      if (auto log = read_file(path); log.ok()) text += "\n" + path.string() + ":\n" + *log;
    }
    return text;
  };
  ASSERT_EQ(r.exit_code, 0) << r.output << validator_log();
  EXPECT_NE(r.output.find("subtensor localnet at ws://"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dashboard: http://"), std::string::npos) << r.output;
  std::ifstream in(out / "report" / "summary.json");
  const auto summary = nlohmann::json::parse(in);
  EXPECT_EQ(summary["chain"], "subtensor (testfinney runtime under chopsticks)");
  EXPECT_EQ(summary["windows"], 4);
  EXPECT_LT(summary["val_loss_end"].get<double>(), summary["val_loss_start"].get<double>());
  double incentive = 0;
  for (const auto& m : summary["miners"]) incentive += m["incentive"].get<double>();
  EXPECT_NEAR(incentive, 1.0, 0.01) << "the runtime's epoch gave the miners no incentive:\n"
                                     << r.output << validator_log();
  ASSERT_EQ(summary["validators"].size(), 1u);
  EXPECT_GT(summary["validators"][0]["dividends"].get<double>(), 0.99) << r.output << validator_log();
  EXPECT_EQ(r.output.find("no epoch followed"), std::string::npos) << r.output;
  std::printf("%s\n", r.output.substr(r.output.find("summary:")).c_str());
}

}  // namespace
}  // namespace tessera
