#include "core/run_spec.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

void expect_error(const std::string& toml, const std::string& fragment) {
  auto spec = parse_run_spec(toml, "test.toml");
  ASSERT_FALSE(spec.ok()) << "accepted: " << toml;
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(fragment), std::string::npos)
      << "message '" << spec.status().message() << "' lacks '" << fragment << "'";
}

TEST(RunSpec, EmptyTextGivesDefaults) {
  auto spec = parse_run_spec("", "empty.toml");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  EXPECT_EQ(spec->model.preset, "tiny");
  EXPECT_EQ(spec->train.inner_steps, 10);
  EXPECT_EQ(spec->codec.quant, "int2");
  EXPECT_EQ(spec->data.sampling, "uniform");
}

TEST(RunSpec, ReadsEverySection) {
  auto spec = parse_run_spec(R"(
[run]
name = "demo"
seed = 99
[model]
preset = "nano"
shards = 2
[data]
dir = "somewhere"
page_tokens = 1024
sampling = "disjoint"
[schedule]
blocks_per_window = 5
tempo = 50
block_time_ms = 250
[train]
inner_steps = 3
lr = 1e-3
seq_len = 64
[outer]
optimizer = "sgd"
lr = 1
[codec]
transform = "none"
topk = 8
quant = "sign"
embedding_quant = "int8"
[validator]
eval_lr = 0.5
[emission]
owner_share = 0.2
miner_share = 0.4
validator_share = 0.4
)",
                             "full.toml");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  EXPECT_EQ(spec->name, "demo");
  EXPECT_EQ(spec->seed, 99u);
  EXPECT_EQ(spec->model.preset, "nano");
  EXPECT_EQ(spec->model.shards, 2);
  EXPECT_EQ(spec->data.dir, "somewhere");
  EXPECT_EQ(spec->data.sampling, "disjoint");
  EXPECT_EQ(spec->schedule.block_time_ms, 250);
  EXPECT_EQ(spec->train.inner_steps, 3);
  EXPECT_DOUBLE_EQ(spec->outer.lr, 1.0);  // integer accepted for a real key
  EXPECT_EQ(spec->codec.quant, "sign");
  EXPECT_EQ(spec->codec.embedding_quant, "int8");
  EXPECT_DOUBLE_EQ(spec->validator.eval_lr, 0.5);
  EXPECT_DOUBLE_EQ(spec->emission.owner_share, 0.2);
}

TEST(RunSpec, ErrorsNameKeyValueAndLine) {
  expect_error("[model]\nn_layer = -1\n", "test.toml:2: model.n_layer = -1: must be in [1, 256]");
  expect_error("[model]\npreset = \"huge\"\n", "model.preset = \"huge\": must be one of nano | tiny | small | gpt2-124m");
  expect_error("[train]\nlr = 0\n", "train.lr = 0");
  expect_error("[train]\nlr = \"fast\"\n", "train.lr = \"fast\": must be a number");
  expect_error("[train]\ninner_steps = 2.5\n", "train.inner_steps = 2.5: must be an integer");
  expect_error("[codec]\nquant = \"int3\"\n", "codec.quant = \"int3\"");
  expect_error("[codec]\nembedding_quant = \"fp32\"\n", "codec.embedding_quant = \"fp32\"");
  expect_error("[outer]\nmomentum = 1.0\n", "outer.momentum = 1.0");
  expect_error("[outer]\nrescale = \"cubic\"\n", "outer.rescale = \"cubic\": must be one of none | norm");
  expect_error("[outer]\nrescale_max = 0.5\n", "outer.rescale_max = 0.5");
  expect_error("[outer]\nwarmup_windows = -2\n", "outer.warmup_windows = -2");
  expect_error("[data]\nsampling = \"sequential\"\n", "data.sampling = \"sequential\": must be one of uniform | disjoint");
}

TEST(RunSpec, RejectsUnknownKeysAndSections) {
  expect_error("[train]\ninner_stpes = 3\n", "unknown key train.inner_stpes");
  expect_error("[trian]\ninner_steps = 3\n", "unknown section [trian]");
  expect_error("model = 3\n", "[model] must be a table");
}

TEST(RunSpec, CrossKeyChecks) {
  expect_error("[emission]\nowner_share = 0.5\n", "must sum to 1");
  expect_error("[codec]\ntopk = 5000\n", "codec.topk = 5000");
  expect_error("[data]\npage_tokens = 64\n[train]\nseq_len = 128\n", "data.page_tokens = 64");
  expect_error("[model]\nd_model = 100\nn_head = 3\n", "model.d_model = 100: must be divisible");
}

TEST(RunSpec, SyntaxErrorsNameTheLine) {
  expect_error("[train]\nlr = = 3\n", "test.toml:2: TOML syntax error");
}

TEST(RunSpec, MissingFileIsNotFound) {
  auto spec = load_run_spec("/nonexistent/spec.toml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kNotFound);
}

// Every spec shipped in examples/ loads; the study spec's miners see, over its 96 windows,
// the tokens of the demo spec's 12 windows, and its baseline trains with batch 8.
TEST(RunSpec, ShippedExamplesLoad) {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_SOURCE_DIR) / "examples";
  int loaded = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".toml") continue;
    auto spec = load_run_spec(e.path());
    EXPECT_TRUE(spec.ok()) << e.path() << ": " << spec.status().to_string();
    ++loaded;
  }
  EXPECT_GE(loaded, 4);
  auto demo = load_run_spec(dir / "tiny.toml");
  auto study = load_run_spec(dir / "tiny-study.toml");
  ASSERT_TRUE(demo.ok() && study.ok());
  const auto sequences = [](const TrainSpec& t, long windows) { return windows * t.inner_steps * t.batch_size; };
  EXPECT_EQ(sequences(study->train, 96), sequences(demo->train, 12));
  EXPECT_EQ(study->train.centralized_batch(), demo->train.centralized_batch());
  EXPECT_EQ(study->seed, demo->seed);
  EXPECT_EQ(study->model.preset, demo->model.preset);
}

}  // namespace
}  // namespace tessera
