// Overlapped windows (docs/architecture.md): the inner loop's rebase hook moves the model
// by new base − old base and measures Δ from the new base. A rebase after the last step
// leaves the progress exactly as it was; a rebase by zero changes nothing; the hook is
// asked once per step until it rebases and never after; a mid-window rebase makes every
// later step start from the new base; a window ended early measures the steps it took;
// and a failing hook fails the window.
#include <gtest/gtest.h>

#include "dataset/tokenizer.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "tests/test_util.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"

namespace tessera::trainer {
namespace {

class OverlapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec = *parse_run_spec("[run]\nseed = 9\n[model]\npreset = \"nano\"\n[data]\npage_tokens = 1024\n"
                           "[train]\ninner_steps = 4\nbatch_size = 4\nseq_len = 32\nlr = 1e-2\nwarmup_steps = 0\n");
    dataset::ByteTokenizer tok;
    train = dataset::TokenDataset::from_tokens(tok.encode(testing::synthetic_text(60000, 3)));
    config = *model::resolve_config(spec.model);
    start = model::snapshot_parameters(model::make_gpt(config, spec.seed));
    for (const auto& t : start) newer.push_back(t + 0.02 * torch::randn_like(t));
  }

  // One window from `start` with `hook`; the final parameters in *end.
  InnerResult window(const decltype(InnerLoop::rebase)& hook, std::vector<torch::Tensor>* end = nullptr) {
    model::GPT m = model::make_gpt(config, spec.seed);
    auto opt = make_adamw(m, spec.train);
    InnerLoop loop{&spec};
    loop.rebase = hook;
    auto r = loop.run(m, *opt, start, train, {0, 1}, 5, 2);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (end != nullptr) *end = model::snapshot_parameters(m);
    return r.ok() ? *r : InnerResult{};
  }

  RunSpec spec;
  model::ModelConfig config;
  dataset::TokenDataset train = dataset::TokenDataset::from_tokens({});
  std::vector<torch::Tensor> start, newer;
};

TEST_F(OverlapTest, ARebaseAfterTheLastStepKeepsTheProgressAndMovesTheModel) {
  std::vector<torch::Tensor> plain_end, rebased_end;
  const InnerResult plain = window({}, &plain_end);
  int calls = 0, last_calls = 0;
  const InnerResult rebased = window(
      [&](int step, bool last) -> Result<InnerLoop::Base> {
        ++calls;
        if (!last) return InnerLoop::Base();
        ++last_calls;
        EXPECT_EQ(step, spec.train.inner_steps);
        return InnerLoop::Base(newer);
      },
      &rebased_end);
  EXPECT_EQ(calls, spec.train.inner_steps) << "asked before steps 1 … H−1 and once after the last";
  EXPECT_EQ(last_calls, 1);
  EXPECT_EQ(plain.rebased_at_step, -1);
  EXPECT_EQ(rebased.rebased_at_step, spec.train.inner_steps);
  EXPECT_DOUBLE_EQ(plain.last_loss, rebased.last_loss) << "the steps themselves are the same";
  for (std::size_t i = 0; i < start.size(); ++i) {
    EXPECT_TRUE(torch::allclose(rebased.delta[i], plain.delta[i], 1e-5, 1e-6)) << "parameter " << i;
    EXPECT_TRUE(torch::allclose(rebased_end[i], plain_end[i] + (newer[i] - start[i]), 1e-5, 1e-6)) << "parameter " << i;
  }
}

TEST_F(OverlapTest, ARebaseByZeroChangesNothing) {
  const InnerResult plain = window({});
  const InnerResult same = window([&](int step, bool) -> Result<InnerLoop::Base> {
    return step == 2 ? InnerLoop::Base(start) : InnerLoop::Base();
  });
  EXPECT_EQ(same.rebased_at_step, 2);
  for (std::size_t i = 0; i < start.size(); ++i) EXPECT_TRUE(torch::equal(same.delta[i], plain.delta[i])) << "parameter " << i;
}

TEST_F(OverlapTest, AMidWindowRebaseTrainsTheRestFromTheNewBaseAndIsAskedNoMore) {
  // The same window started from the new base (no hook) and rebased onto it before step
  // 1 must agree from step 1 on; only step 0's gradient was taken at the old base.
  int calls_after = 0;
  const InnerResult early = window([&](int step, bool) -> Result<InnerLoop::Base> {
    if (step > 1) ++calls_after;
    return step == 1 ? InnerLoop::Base(newer) : InnerLoop::Base();
  });
  EXPECT_EQ(early.rebased_at_step, 1);
  EXPECT_EQ(calls_after, 0) << "after a rebase the hook is not asked again";
  const InnerResult plain = window({});
  double moved = 0, scale = 0;
  for (std::size_t i = 0; i < start.size(); ++i) {
    ASSERT_TRUE(torch::isfinite(early.delta[i]).all().item<bool>());
    moved += (early.delta[i] - plain.delta[i]).abs().sum().item<double>();
    scale += plain.delta[i].abs().sum().item<double>();
  }
  EXPECT_GT(moved, 1e-3 * scale) << "steps 1 … H−1 ran at the new base, so the progress differs";
}

TEST_F(OverlapTest, AWindowEndedEarlyGivesTheDeltaOfTheStepsTakenMeasuredFromTheLastBase) {
  // Ended before step 2 of 4, the window's delta is that of its first two steps: the same
  // as a window of H = 2 on the same pages (the batches depend on the step only; the run
  // starts at this window, so the learning rates of steps 0 and 1 agree too). The rebase
  // hook is still asked for the final base, as after a last step.
  std::vector<double> step_times;
  auto ended = [&](const decltype(InnerLoop::rebase)& hook, std::vector<torch::Tensor>* end) {
    model::GPT m = model::make_gpt(config, spec.seed);
    auto opt = make_adamw(m, spec.train);
    InnerLoop loop{&spec};
    loop.origin_window = 5;
    loop.rebase = hook;
    loop.stop_before = [&](int step, double step_s) {
      step_times.push_back(step_s);
      return step == 2;
    };
    auto r = loop.run(m, *opt, start, train, {0, 1}, 5, 2);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    *end = model::snapshot_parameters(m);
    return r.ok() ? *r : InnerResult{};
  };
  std::vector<torch::Tensor> end, rebased_end, short_end;
  const InnerResult two = ended({}, &end);
  EXPECT_EQ(two.steps, 2);
  ASSERT_EQ(step_times.size(), 2u) << "asked before steps 1 and 2, not after it ended";
  for (double t : step_times) EXPECT_GT(t, 0.0);
  int last_step = -1;
  const InnerResult rebased = ended(
      [&](int step, bool last) -> Result<InnerLoop::Base> {
        if (!last) return InnerLoop::Base();
        last_step = step;
        return InnerLoop::Base(newer);
      },
      &rebased_end);
  EXPECT_EQ(last_step, 2) << "the final ask names the steps taken";
  EXPECT_EQ(rebased.rebased_at_step, 2);
  RunSpec short_spec = spec;
  short_spec.train.inner_steps = 2;
  model::GPT m = model::make_gpt(config, spec.seed);
  auto opt = make_adamw(m, short_spec.train);
  InnerLoop short_loop{&short_spec};
  short_loop.origin_window = 5;
  auto plain_two = short_loop.run(m, *opt, start, train, {0, 1}, 5, 2);
  ASSERT_TRUE(plain_two.ok()) << plain_two.status().to_string();
  EXPECT_EQ(plain_two->steps, 2);
  EXPECT_EQ(window({}).steps, spec.train.inner_steps);
  for (std::size_t i = 0; i < start.size(); ++i) {
    EXPECT_TRUE(torch::equal(two.delta[i], plain_two->delta[i])) << "parameter " << i;
    EXPECT_TRUE(torch::allclose(rebased.delta[i], two.delta[i], 1e-5, 1e-6)) << "parameter " << i;
    EXPECT_TRUE(torch::allclose(rebased_end[i], end[i] + (newer[i] - start[i]), 1e-5, 1e-6)) << "parameter " << i;
  }
}

TEST_F(OverlapTest, AFailingHookFailsTheWindow) {
  model::GPT m = model::make_gpt(config, spec.seed);
  auto opt = make_adamw(m, spec.train);
  InnerLoop loop{&spec};
  loop.rebase = [](int, bool last) -> Result<InnerLoop::Base> {
    if (last) return DeadlineExceeded("window 6 closed before its checkpoint was announced");
    return InnerLoop::Base();
  };
  auto r = loop.run(m, *opt, start, train, {0, 1}, 5, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("closed before"), std::string::npos);
  loop.rebase = [&](int step, bool) -> Result<InnerLoop::Base> {
    if (step != 1) return InnerLoop::Base();
    std::vector<torch::Tensor> wrong(newer.begin(), newer.end() - 1);
    return InnerLoop::Base(wrong);
  };
  r = loop.run(m, *opt, start, train, {0, 1}, 5, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("rebase"), std::string::npos) << r.status().to_string();
}

}  // namespace
}  // namespace tessera::trainer
