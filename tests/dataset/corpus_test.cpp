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

TEST(PrepareCorpus, ACrashHalfwayLeavesThePreviousDatasetAndTheNextRunCompletes) {
  testing::TempDir in, work;
  testing::write_text(in / "a.txt", testing::synthetic_text(40000, 1));
  testing::write_text(in / "b.txt", testing::synthetic_text(40000, 2));
  const auto out = work / "data";
  auto first = prepare_corpus({{in / "a.txt"}, out, 0.1, 4000});
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  const auto before = TokenDataset::load(out, "train");
  ASSERT_TRUE(before.ok());
  // A real run of the CLI, killed (SIGKILL) at its third synced file: shards half written.
  const auto crashed = testing::run_command("TESSERA_FAULT=file:written:3 " + std::string(TESSERA_BINARY) +
                                            " data prepare --input " + in.path().string() + " --out " + out.string() +
                                            " 2>&1");
  EXPECT_NE(crashed.exit_code, 0) << crashed.output;
  auto after = TokenDataset::load(out, "train");
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(after->size(), before->size()) << "the old dataset changed under a failed run";
  EXPECT_EQ(prepare_corpus({{in / "a.txt"}, out, 0.1, 4000})->train_tokens, first->train_tokens);
  // The dead run's staging folder is cleared by the next run.
  auto second = prepare_corpus({{in.path()}, out, 0.1, 4000});
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_GT(second->train_tokens, first->train_tokens);
  EXPECT_EQ(TokenDataset::load(out, "train")->size(), second->train_tokens);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(work.path())) ++entries;
  EXPECT_EQ(entries, 1u) << "staging folders were left beside the dataset";
}

TEST(PrepareCorpus, RefusesAnOutputFolderHoldingOtherFiles) {
  testing::TempDir in, out;
  testing::write_text(in / "a.txt", testing::synthetic_text(20000, 1));
  testing::write_text(out / "notes.txt", "mine");
  auto r = prepare_corpus({{in / "a.txt"}, out.path(), 0.1});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("notes.txt"), std::string::npos) << r.status().message();
  EXPECT_TRUE(std::filesystem::exists(out / "notes.txt"));
}

}  // namespace
}  // namespace tessera::dataset
