// --device on this machine's build (Debian's CPU-only libtorch): a clear error for CUDA,
// never a crash, and `tessera info` says what the build holds. The device check
// (bench/device_check, stage 2 of scripts/gpu-check.sh) runs its whole path on the CPU
// and prints every section; the script's argument handling answers without a GPU.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera {
namespace {

std::string tessera_cmd(const testing::TempDir& home, const std::string& args) {
  return std::string(TESSERA_BINARY) + " --home " + home.path().string() + " " + args;
}

TEST(Device, CudaOnACpuOnlyBuildIsAClearError) {
  testing::TempDir home;
  for (const std::string role : {"miner --netuid 1 --wallet w", "validator --netuid 1 --wallet w"}) {
    const auto r = testing::run_command(tessera_cmd(home, role + " --device cuda"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("error: --device cuda: this build's libtorch"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("CPU-only"), std::string::npos) << r.output;
  }
  const auto bad = testing::run_command(tessera_cmd(home, "train --spec x.toml --device tpu"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("expected cpu, cuda or cuda:N"), std::string::npos) << bad.output;
}

TEST(Device, InfoNamesTheLibtorchBuildAndTheKernels) {
  testing::TempDir home;
  const auto r = testing::run_command(tessera_cmd(home, "info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libtorch 1."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(CPU only)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kernels: cuda:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NCCL"), std::string::npos) << r.output;
}

TEST(Device, DeviceCheckRunsEverySectionOnTheCpu) {
  testing::TempDir home;
  testing::write_text(home / "corpus.txt", testing::synthetic_text(120000, 3));
  const auto prep = testing::run_command(tessera_cmd(home, "data prepare --input " + (home / "corpus.txt").string() +
                                                               " --out " + (home / "data").string()));
  ASSERT_EQ(prep.exit_code, 0) << prep.output;
  testing::write_text(home / "spec.toml",
                      "[model]\npreset = \"nano\"\n[data]\npage_tokens = 1024\npages_per_window = 2\n"
                      "[train]\ninner_steps = 2\nbatch_size = 4\nseq_len = 32\n[validator]\neval_batch_size = 4\n");
  const auto r = testing::run_command(std::string(TESSERA_DEVICE_CHECK) + " --spec " + (home / "spec.toml").string() +
                                      " --data " + (home / "data").string() +
                                      " --device cpu --windows 1 --submissions 3 --agreement 2 --reps 1 --out " +
                                      (home / "out.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("device_check: validator done"), std::string::npos) << r.output;  // progress on stderr
  const auto json = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_TRUE(json["ok"].get<bool>());
  EXPECT_EQ(json["device"], "cpu");
  ASSERT_EQ(json["miner"]["windows"].size(), 2u);  // one fp32 window and the bf16 one
  EXPECT_TRUE(json["miner"]["windows"][0]["cpu_decode_matches_device_reconstruction"].get<bool>());
  EXPECT_EQ(json["miner"]["windows"][1]["autocast"], "bf16 (unsupported: fp32)");
  ASSERT_EQ(json["codec"]["presets"].size(), 4u);
  for (const auto& p : json["codec"]["presets"]) EXPECT_TRUE(p["bytes_equal_cpu_encoder"].get<bool>()) << p;
  EXPECT_EQ(json["validator"]["submissions"], 3);
  EXPECT_EQ(json["validator"]["cpu_agreement"]["same_outcome"], 2);
  EXPECT_EQ(json["validator"]["cpu_agreement"]["max_abs_score_difference"], 0.0);  // CPU against CPU: identical
  EXPECT_EQ(nlohmann::json::parse(*read_file(home / "out.json")), json);
}

TEST(Device, GpuCheckScriptExplainsItself) {
  const std::string script = std::string(TESSERA_SOURCE_DIR) + "/scripts/gpu-check.sh";
  const auto help = testing::run_command(script + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("Stage 1 needs no torch"), std::string::npos) << help.output;
  const auto wrong = testing::run_command(script + " frobnicate");
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.output.find("expected 'prepare' or 'run'"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace tessera
