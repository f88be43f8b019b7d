// The checkpoint fuzz harness reaches what its comment claims: a real manifest and a real
// safetensors file get through every check, and damaged ones stop where they should.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoints/safetensors.h"
#include "checkpoints/store.h"
#include "core/file_io.h"
#include "tests/fuzz/checkpoint_harness.h"
#include "tests/test_util.h"

namespace tessera::fuzz {
namespace {

CheckpointStage run(std::uint8_t mode, const std::string& body) {
  std::vector<std::uint8_t> in{mode};
  in.insert(in.end(), body.begin(), body.end());
  return check_checkpoint_input(in.data(), in.size());
}

TEST(CheckpointFuzzHarness, RealInputsReachTheEndAndDamagedOnesStop) {
  testing::TempDir dir;
  auto store = *checkpoints::CheckpointStore::open(dir.path() / "store");
  checkpoints::Manifest m;
  m.run_id = "fuzz";
  checkpoints::NamedTensors t = {{"a", torch::randn({3, 4})}, {"b", torch::randn({5})}};
  const std::string hash = *store.put(t, m, Keypair::generate());
  const std::string manifest = *read_file(dir.path() / "store" / "objects" / hash / "manifest.json");
  const std::string model = *read_file(dir.path() / "store" / "objects" / hash / "model.safetensors");

  EXPECT_EQ(run(0, manifest), CheckpointStage::kAccepted);
  std::string resigned = manifest;
  const auto key = resigned.find("\"signature\"");
  ASSERT_NE(key, std::string::npos);
  char& digit = resigned[resigned.find('"', resigned.find(':', key)) + 1];  // the signature's first hex digit
  digit = digit == '0' ? '1' : '0';
  EXPECT_EQ(run(0, resigned), CheckpointStage::kParsed);
  EXPECT_EQ(run(0, manifest.substr(0, manifest.size() / 2)), CheckpointStage::kRejected);

  EXPECT_EQ(run(1, model), CheckpointStage::kAccepted);
  EXPECT_EQ(run(1, model.substr(0, model.size() - 4)), CheckpointStage::kRejected);
  EXPECT_EQ(run(1, model.substr(0, 7)), CheckpointStage::kRejected);
}

// Inputs the fuzzer found, kept as regressions: a header of "{}" then a NUL and garbage
// (the JSON parser stopped at the NUL and accepted it; and an empty tensor list encoded
// as "null", which the decoder refuses).
TEST(CheckpointFuzzHarness, FoundInputsStayFixed) {
  std::string header = "{}";
  header += std::string(2, '\0') + std::string(22, '\xe3') + std::string(32, '\0') + "model" + std::string(30, '\0');
  std::string file(8, '\0');
  file[0] = static_cast<char>(header.size());
  EXPECT_EQ(run(1, file + header), CheckpointStage::kRejected);
  EXPECT_EQ(run(1, std::string("\x02\0\0\0\0\0\0\0{}", 10)), CheckpointStage::kAccepted);
}

}  // namespace
}  // namespace tessera::fuzz
