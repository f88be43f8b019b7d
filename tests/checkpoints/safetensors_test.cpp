#include "checkpoints/safetensors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace tessera::checkpoints {
namespace {

NamedTensors sample() {
  torch::manual_seed(3);
  return {{"wte.weight", torch::randn({5, 3})}, {"ln_f.bias", torch::randn({3})}, {"h.0.attn.c_attn.weight", torch::randn({2, 2, 2})}};
}

TEST(Safetensors, RoundTripsInTheStandardLayout) {
  testing::TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  ASSERT_TRUE(write_safetensors(path, sample(), {{"window", "7"}}).ok());
  auto back = read_safetensors(path);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_EQ(back->tensors.size(), 3u);
  const auto want = sample();
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(back->tensors[i].first, want[i].first);
    EXPECT_TRUE(torch::equal(back->tensors[i].second, want[i].second));
  }
  EXPECT_EQ(back->metadata.at("window"), "7");
  // The layout other tools expect: u64 LE length, 8-aligned JSON, then the data.
  const std::string bytes = *encode_safetensors(sample(), {});
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["wte.weight"]["dtype"], "F32");
  EXPECT_EQ(header["wte.weight"]["shape"], nlohmann::json({5, 3}));
  EXPECT_EQ(header["wte.weight"]["data_offsets"], nlohmann::json({0, 60}));
  EXPECT_EQ(bytes.size(), 8 + n + (15 + 3 + 8) * 4);
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  EXPECT_EQ(first, sample()[0].second[0][0].item<float>());
}

TEST(Safetensors, RejectsMalformedFilesNamingTheProblem) {
  const std::string good = *encode_safetensors(sample(), {});
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(good[i])) << (8 * i);
  auto with_header = [&](const std::string& json, std::size_t data_bytes) {
    std::string h = json;
    while (h.size() % 8) h.push_back(' ');
    std::string out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((h.size() >> (8 * i)) & 0xff));
    return out + h + std::string(data_bytes, '\0');
  };
  struct Case {
    std::string bytes, fragment;
  };
  const std::vector<Case> cases = {
      {good.substr(0, 5), "shorter than"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "header length"},
      {good.substr(0, good.size() - 4), "outside"},
      {with_header("{not json", 0), "not JSON"},
      {with_header("[1,2]", 0), "not a JSON object"},
      {with_header(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 2), "dtype F16"},
      {with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "shape needs 12"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4),
       "overlaps"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8), "trailing"},
      {with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "not a non-negative integer"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4), "not a non-negative integer"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}})", 4), "not a non-negative integer"},
      {with_header(R"({"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", 4), "shape is not an array"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", 4), "bad shape"},
      // nlohmann's get<std::uint64_t>() read 4.9 as 4 (and this file as valid) and 1e30 with
      // undefined behaviour.
      {with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.9]}})", 4), "data_offsets are not"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e30]}})", 4), "data_offsets are not"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4), "data_offsets are not"},
      {with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}})", 4), "data_offsets needs 2"},
      {with_header(R"({"a":{"dtype":"F32"}})", 0), "tensor a"},
      {with_header(R"({"__metadata__":{"k":3}})", 0), "not a string"},
  };
  for (const auto& c : cases) {
    auto r = decode_safetensors(c.bytes);
    ASSERT_FALSE(r.ok()) << "accepted a file that should fail with '" << c.fragment << "'";
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(encode_safetensors({{"x", torch::zeros({2}, torch::kInt)}}, {}).ok());
  EXPECT_FALSE(encode_safetensors({{"x", torch::zeros({2})}, {"x", torch::zeros({2})}}, {}).ok());
}

}  // namespace
}  // namespace tessera::checkpoints
