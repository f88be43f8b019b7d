#include "dataset/token_shard.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera::dataset {
namespace {

std::string header_bytes(std::int32_t magic, std::int32_t version, std::int32_t count) {
  std::string h(kShardHeaderBytes, '\0');
  std::int32_t ints[3] = {magic, version, count};
  std::memcpy(h.data(), ints, sizeof ints);
  return h;
}

TEST(TokenShard, RoundTripInLlmcLayout) {
  testing::TempDir dir;
  std::vector<std::uint16_t> tokens = {0, 1, 255, 50256, 65535};
  ASSERT_TRUE(write_token_shard(dir / "s.bin", tokens).ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "s.bin"), 1024u + 10u);
  auto raw = *read_file(dir / "s.bin");
  EXPECT_EQ(raw.substr(0, 12), header_bytes(20240520, 1, 5).substr(0, 12));
  auto back = read_token_shard(dir / "s.bin");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, tokens);
}

TEST(TokenShard, EmptyShardRoundTrips) {
  testing::TempDir dir;
  ASSERT_TRUE(write_token_shard(dir / "e.bin", {}).ok());
  EXPECT_TRUE(read_token_shard(dir / "e.bin")->empty());
}

struct CorruptCase {
  const char* name;
  std::string bytes;
  const char* fragment;
};

TEST(TokenShard, CorruptedHeadersAreRejectedWithReasons) {
  testing::TempDir dir;
  const std::string two_tokens = "\x01\x00\x02\x00";
  std::vector<CorruptCase> cases = {
      {"short", std::string(100, '\0'), "shorter than the 1024-byte header"},
      {"magic", header_bytes(12345, 1, 2) + two_tokens, "bad magic 12345"},
      {"version", header_bytes(20240520, 7, 2) + two_tokens, "unsupported version 7"},
      {"negative", header_bytes(20240520, 1, -3), "negative token count"},
      {"truncated", header_bytes(20240520, 1, 3) + two_tokens, "header claims 3 tokens"},
      {"trailing", header_bytes(20240520, 1, 1) + two_tokens, "header claims 1 tokens"},
      {"huge claim", header_bytes(20240520, 1, 2000000000) + two_tokens, "header claims 2000000000"},
  };
  for (const auto& c : cases) {
    testing::write_text(dir / c.name, c.bytes);
    auto r = read_token_shard(dir / c.name);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupted) << c.name;
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << c.name << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(c.name), std::string::npos) << "error must name the file";
  }
  EXPECT_EQ(read_token_shard(dir / "missing").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::dataset
