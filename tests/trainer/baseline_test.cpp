#include "trainer/baseline.h"

#include <gtest/gtest.h>

#include "dataset/corpus.h"
#include "dataset/token_dataset.h"
#include "tests/test_util.h"
#include "trainer/lr_schedule.h"

namespace tessera::trainer {
namespace {

TEST(CosineSchedule, WarmupPeakAndFloor) {
  CosineSchedule s{1.0, 0.1, 10, 110};
  EXPECT_NEAR(s.at(0), 0.1, 1e-12);
  EXPECT_NEAR(s.at(9), 1.0, 1e-12);
  EXPECT_NEAR(s.at(10), 1.0, 1e-12);
  EXPECT_NEAR(s.at(60), 0.55, 1e-12);
  EXPECT_NEAR(s.at(110), 0.1, 1e-12);
  EXPECT_NEAR(s.at(500), 0.1, 1e-12);
}

TEST(Baseline, ShortRunLowersTheLoss) {
  testing::TempDir in, data;
  testing::write_text(in / "corpus.txt", testing::synthetic_text(60000, 5));
  ASSERT_TRUE(dataset::prepare_corpus({{in / "corpus.txt"}, data.path(), 0.1}).ok());
  auto spec = parse_run_spec(R"(
[model]
preset = "nano"
[train]
batch_size = 8
seq_len = 32
lr = 1e-2
warmup_steps = 5
eval_every = 0
eval_batches = 4
)");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  BaselineOptions options;
  options.steps = 60;
  options.threads = 1;
  options.data_dir = data.path().string();
  long calls = 0;
  auto result = train_baseline(*spec, options, [&](const BaselineProgress& p) {
    ++calls;
    EXPECT_EQ(p.step, calls);
    EXPECT_GT(p.tokens_per_second, 0.0);
  });
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->steps, 60);
  EXPECT_EQ(calls, 60);
  EXPECT_EQ(result->tokens, 60 * 8 * 32);
  EXPECT_NEAR(result->initial_val_loss, std::log(256.0), 0.3);
  // The synthetic language has ~2 bits/char of entropy; 60 steps get well below uniform.
  EXPECT_LT(result->final_val_loss, result->initial_val_loss - 1.5);
  EXPECT_LT(result->final_train_loss, 3.8);
  EXPECT_NE(result->to_json().find("\"final_val_loss\""), std::string::npos);
}

TEST(Baseline, ValidationBatchesDoNotDependOnTheTrainingBatch) {
  testing::TempDir in, data;
  testing::write_text(in / "corpus.txt", testing::synthetic_text(60000, 5));
  ASSERT_TRUE(dataset::prepare_corpus({{in / "corpus.txt"}, data.path(), 0.1}).ok());
  auto val = dataset::TokenDataset::load(data.path(), "val");
  ASSERT_TRUE(val.ok()) << val.status().to_string();
  auto spec = parse_run_spec("[train]\nbatch_size = 8\nseq_len = 32\neval_batches = 3\n[validator]\neval_batch_size = 5\n");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  const auto a = validation_batches(*spec, *val);
  spec->train.batch_size = 2;
  const auto b = validation_batches(*spec, *val);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first.sizes(), (std::vector<std::int64_t>{5, 32}));
    EXPECT_TRUE(torch::equal(a[i].first, b[i].first));
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second));
  }
  // A different seed draws other text.
  spec->seed += 1;
  EXPECT_FALSE(torch::equal(validation_batches(*spec, *val)[0].first, a[0].first));
}

TEST(Baseline, TrainsWithItsOwnBatchWhenTheSpecSetsOne) {
  testing::TempDir in, data;
  testing::write_text(in / "corpus.txt", testing::synthetic_text(60000, 5));
  ASSERT_TRUE(dataset::prepare_corpus({{in / "corpus.txt"}, data.path(), 0.1}).ok());
  auto spec = parse_run_spec("[model]\npreset = \"nano\"\n[train]\nbatch_size = 2\nbaseline_batch_size = 6\nseq_len = 32\n"
                             "eval_every = 0\neval_batches = 2\n");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  EXPECT_EQ(spec->train.centralized_batch(), 6);
  BaselineOptions options;
  options.steps = 3;
  options.threads = 1;
  options.data_dir = data.path().string();
  auto result = train_baseline(*spec, options);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->tokens, 3 * 6 * 32);
  // Unset, the baseline trains with the miners' batch.
  spec->train.baseline_batch_size = 0;
  EXPECT_EQ(spec->train.centralized_batch(), 2);
  EXPECT_FALSE(parse_run_spec("[train]\nbaseline_batch_size = 0\n").ok());
}

TEST(Baseline, ClearErrorsForBadSetups) {
  testing::TempDir empty;
  auto spec = parse_run_spec("[model]\npreset = \"nano\"\n[train]\nseq_len = 32\n");
  BaselineOptions options;
  options.data_dir = (empty / "absent").string();
  auto r = train_baseline(*spec, options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tessera data prepare"), std::string::npos) << r.status().message();
  auto long_seq = parse_run_spec("[model]\npreset = \"nano\"\n[train]\nseq_len = 100\n");
  r = train_baseline(*long_seq, options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("train.seq_len = 100"), std::string::npos);
}

}  // namespace
}  // namespace tessera::trainer
