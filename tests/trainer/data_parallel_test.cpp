// --workers: K = 2 ranks of a c10d Gloo group (here two threads of one process, the same
// code the worker processes run) produce the same window delta as one process on the
// same pages, within float tolerance — also when rank 0 rebases a window onto a newer
// checkpoint (overlapped windows) or ends a window early (a late window sent before its
// deadline) and rank 1 follows it.
#include <gtest/gtest.h>

#include <thread>

#include "dataset/tokenizer.h"
#include "tests/test_util.h"
#include "trainer/data_parallel.h"
#include "trainer/inner_loop.h"
#include "model/parameters.h"
#include "trainer/optim.h"

namespace tessera::trainer {
namespace {

enum class Mode { kPlain, kRebased, kEndedEarly };

class DataParallel : public ::testing::TestWithParam<Mode> {};

TEST_P(DataParallel, TwoGlooRanksGiveTheOneProcessDelta) {
  const bool rebased = GetParam() == Mode::kRebased;
  const bool ended_early = GetParam() == Mode::kEndedEarly;
  testing::TempDir dir;
  RunSpec spec = *parse_run_spec("[run]\nseed = 4\n[model]\npreset = \"nano\"\n[data]\npage_tokens = 1024\n"
                                 "[train]\ninner_steps = 3\nbatch_size = 8\nseq_len = 32\nlr = 1e-2\nwarmup_steps = 0\n");
  dataset::ByteTokenizer tok;
  const auto train = dataset::TokenDataset::from_tokens(tok.encode(testing::synthetic_text(60000, 2)));
  const auto config = *model::resolve_config(spec.model);
  const auto pages = *dataset::assign_pages(spec.seed, 3, 1, 2, train.num_pages(1024));
  const auto start = model::snapshot_parameters(model::make_gpt(config, spec.seed));

  std::vector<torch::Tensor> newer;  // the checkpoint rank 0 rebases onto before step 2
  for (const auto& t : start) newer.push_back(t + 0.01 * torch::randn_like(t));
  auto run = [&](DataParallelGroup* group, std::vector<torch::Tensor>* delta, Status* status) {
    model::GPT m = model::make_gpt(config, spec.seed);
    auto opt = make_adamw(m, spec.train);
    InnerLoop loop{&spec};
    loop.group = group;
    if (rebased && (group == nullptr || group->rank() == 0)) {
      loop.rebase = [&](int step, bool) -> Result<InnerLoop::Base> {
        return step == 2 ? InnerLoop::Base(newer) : InnerLoop::Base();
      };
    } else if (rebased) {
      loop.follow_rebases = true;
    }
    if (ended_early && (group == nullptr || group->rank() == 0)) {
      loop.stop_before = [](int step, double step_s) {
        EXPECT_GT(step_s, 0.0);
        return step == 2;
      };
    } else if (ended_early) {
      loop.follow_stops = true;
    }
    // Two windows, so that the AdamW state carried across windows is exercised too.
    for (std::uint64_t w : {3, 4}) {
      auto r = loop.run(m, *opt, start, train, pages, w, 1);
      if (!r.ok()) {
        *status = r.status();
        return;
      }
      *delta = r->delta;
      EXPECT_EQ(r->steps, ended_early ? 2 : spec.train.inner_steps);
    }
  };
  std::vector<torch::Tensor> single, rank0, rank1;
  Status s0 = Status::Ok(), s1 = Status::Ok(), s2 = Status::Ok();
  run(nullptr, &single, &s0);
  ASSERT_TRUE(s0.ok()) << s0.to_string();
  at::set_num_threads(1);
  std::thread other([&] {
    auto g = DataParallelGroup::join(dir / "store", 1, 2);
    if (!g.ok()) {
      s2 = g.status();
      return;
    }
    run(g->get(), &rank1, &s2);
  });
  auto g = DataParallelGroup::join(dir / "store", 0, 2);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  run(g->get(), &rank0, &s1);
  other.join();
  ASSERT_TRUE(s1.ok()) << s1.to_string();
  ASSERT_TRUE(s2.ok()) << s2.to_string();
  ASSERT_EQ(single.size(), rank0.size());
  for (std::size_t i = 0; i < single.size(); ++i) {
    EXPECT_TRUE(torch::equal(rank0[i], rank1[i])) << "ranks diverged at parameter " << i;
    const double scale = single[i].abs().max().item<double>() + 1e-12;
    EXPECT_LT((rank0[i] - single[i]).abs().max().item<double>() / scale, 1e-3) << "parameter " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Window, DataParallel, ::testing::Values(Mode::kPlain, Mode::kRebased, Mode::kEndedEarly),
                         [](const ::testing::TestParamInfo<Mode>& i) {
                           return i.param == Mode::kPlain ? "Plain" : i.param == Mode::kRebased ? "Rebased" : "EndedEarly";
                         });

}  // namespace
}  // namespace tessera::trainer
