#include "dataset/corpus.h"

#include <gtest/gtest.h>

#include "dataset/token_dataset.h"
#include "dataset/tokenizer.h"
#include "tests/test_util.h"

namespace tessera::dataset {
namespace {

TEST(ByteTokenizer, RoundTripsAnyBytes) {
  ByteTokenizer tok;
  std::string text = "héllo\n\x01\xff";
  auto ids = tok.encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(PrepareCorpus, SplitsEachFileSkipsBinaryAndSymlinks) {
  testing::TempDir in, out;
  std::filesystem::create_directories(in / "sub");
  testing::write_text(in / "a.txt", testing::synthetic_text(20000, 1));
  testing::write_text(in / "sub" / "b", testing::synthetic_text(10000, 2));
  testing::write_text(in / "a.dat", std::string("\x00\x01\x02", 3));
  std::filesystem::create_symlink(in / "a.txt", in / "a.u8");
  PrepareOptions options{{in.path()}, out.path(), 0.1};
  auto report = prepare_corpus(options);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->files_used, 2u);
  EXPECT_EQ(report->files_skipped, 2u);
  EXPECT_EQ(report->train_tokens + report->val_tokens, 30000u);
  EXPECT_NEAR(static_cast<double>(report->val_tokens), 3000.0, 800.0);  // cut at a line boundary in each file
  auto train = TokenDataset::load(out.path(), "train");
  auto val = TokenDataset::load(out.path(), "val");
  ASSERT_TRUE(train.ok() && val.ok());
  EXPECT_EQ(train->size(), report->train_tokens);
  EXPECT_EQ(val->size(), report->val_tokens);
  EXPECT_TRUE(std::filesystem::exists(out / "meta.json"));
}

TEST(PrepareCorpus, ShardsLargeSplitsAndRemovesStaleShards) {
  testing::TempDir in, out;
  testing::write_text(in / "t.txt", testing::synthetic_text(50000, 3));
  testing::write_text(out / "train_000009.bin", "stale");
  PrepareOptions options{{in / "t.txt"}, out.path(), 0.2, 10000};
  auto report = prepare_corpus(options);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_FALSE(std::filesystem::exists(out / "train_000009.bin"));
  EXPECT_TRUE(std::filesystem::exists(out / "train_000003.bin"));
  EXPECT_EQ(TokenDataset::load(out.path(), "train")->size(), report->train_tokens);
}

TEST(PrepareCorpus, ClearErrors) {
  testing::TempDir out;
  EXPECT_EQ(prepare_corpus({{"/no/such/input"}, out.path(), 0.1}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(prepare_corpus({{out.path()}, out.path(), 0.1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(prepare_corpus({{out.path()}, out.path(), 1.5}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenDataset::load(out / "absent", "train").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::dataset
