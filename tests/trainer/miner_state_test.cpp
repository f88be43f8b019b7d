// The miner's resume state: error-feedback buffers and AdamW state come back exactly;
// a damaged record or tensor file is detected and reported, never loaded.
#include <gtest/gtest.h>

#include "core/file_io.h"
#include "model/gpt.h"
#include "tests/test_util.h"
#include "trainer/miner_state.h"
#include "trainer/optim.h"

namespace tessera::trainer {
namespace {

struct Trained {
  model::GPT gpt{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt;
};

Trained trained_model(const RunSpec& spec) {
  Trained t;
  t.gpt = model::make_gpt(*model::resolve_config(spec.model), 3);
  t.opt = make_adamw(t.gpt, spec.train);
  auto x = torch::randint(0, 256, {4, 16}, torch::kLong), y = torch::randint(0, 256, {4, 16}, torch::kLong);
  for (int i = 0; i < 3; ++i) train_step(t.gpt, *t.opt, x, y, 1e-3, 1.0);
  return t;
}

TEST(MinerState, ResumesErrorFeedbackAndOptimizerExactly) {
  testing::TempDir dir;
  RunSpec spec;
  spec.model.preset = "nano";
  Trained a = trained_model(spec);
  MinerSnapshot s;
  s.record.netuid = 2;
  s.record.hotkey = "ab";
  s.record.has_window = true;
  s.record.last_window = 17;
  s.record.nonce = 99;
  s.ef = {{0, torch::randn({8, 3})}, {5, torch::randn({7})}};
  s.optimizer = save_optimizer(*a.opt);
  ASSERT_TRUE(save_miner_state(dir.path(), s).ok());

  auto back = load_miner_state(dir.path());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->record.last_window, 17u);
  EXPECT_EQ(back->record.nonce, 99u);
  ASSERT_EQ(back->ef.size(), 2u);
  EXPECT_EQ(back->ef[1].first, 5u);
  EXPECT_TRUE(torch::equal(back->ef[0].second, s.ef[0].second));
  // A fresh optimizer loaded from the state takes the same next step as the original.
  Trained b;
  b.gpt = model::make_gpt(*model::resolve_config(spec.model), 3);
  {
    torch::NoGradGuard g;
    auto pa = a.gpt->named_params(), pb = b.gpt->named_params();
    for (std::size_t i = 0; i < pa.size(); ++i) pb[i].second.copy_(pa[i].second);
  }
  b.opt = make_adamw(b.gpt, spec.train);
  ASSERT_TRUE(load_optimizer(*b.opt, back->optimizer).ok());
  auto x = torch::randint(0, 256, {4, 16}, torch::kLong), y = torch::randint(0, 256, {4, 16}, torch::kLong);
  train_step(a.gpt, *a.opt, x, y, 1e-3, 1.0);
  train_step(b.gpt, *b.opt, x, y, 1e-3, 1.0);
  EXPECT_EQ(model::parameters_digest(a.gpt), model::parameters_digest(b.gpt));
}

TEST(MinerState, DamagedFilesAreDetected) {
  testing::TempDir dir;
  MinerSnapshot s;
  s.ef = {{0, torch::ones({4})}};
  s.optimizer = "opaque optimizer bytes";
  ASSERT_TRUE(save_miner_state(dir.path(), s).ok());
  EXPECT_EQ(load_miner_state(dir / "nowhere").status().code(), StatusCode::kNotFound);

  for (const char* file : {"ef.safetensors", "optimizer.pt", "state.bin"}) {
    ASSERT_TRUE(save_miner_state(dir.path(), s).ok());
    std::string bytes = *read_file(dir / file);
    bytes[bytes.size() / 2] ^= 0x20;
    testing::write_text(dir / file, bytes);
    auto r = load_miner_state(dir.path());
    ASSERT_FALSE(r.ok()) << file;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupted) << file;
    const std::string named = std::string(file) == "state.bin" ? "state.bin" : file;
    EXPECT_NE(r.status().message().find(named), std::string::npos) << r.status().message();
  }
  RunSpec spec;
  spec.model.preset = "nano";
  Trained t = trained_model(spec);
  EXPECT_EQ(load_optimizer(*t.opt, "not a torch archive").code(), StatusCode::kCorrupted);
}

}  // namespace
}  // namespace tessera::trainer
