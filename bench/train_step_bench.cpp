// Measures one training step of a preset, split into forward, backward and optimizer,
// next to the machine's own baseline measured in the same run: a plain libtorch matmul
// of the model's largest layer shape (GFLOP/s), so the step's achieved FLOP rate is a
// ratio against what this machine's BLAS delivers. Prints JSON.
//
//   train_step_bench [preset=tiny] [batch=8] [seq_len=128] [steps=20] [threads=0]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "core/run_spec.h"
#include "model/gpt.h"
#include "model/runtime.h"
#include "trainer/optim.h"

using namespace tessera;
using Clock = std::chrono::steady_clock;

static double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

int main(int argc, char** argv) {
  const std::string preset_name = argc > 1 ? argv[1] : "tiny";
  const int batch = argc > 2 ? std::stoi(argv[2]) : 8;
  const int seq_len = argc > 3 ? std::stoi(argv[3]) : 128;
  const int steps = argc > 4 ? std::stoi(argv[4]) : 20;
  const int threads = model::configure_cpu_threads(argc > 5 ? std::stoi(argv[5]) : 0);
  auto config = model::preset(preset_name);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  auto gpt = model::make_gpt(*config, 1);
  TrainSpec ts;
  auto optimizer = trainer::make_adamw(gpt, ts);
  auto x = torch::randint(0, config->vocab_size, {batch, seq_len}, torch::kLong);
  auto y = torch::randint(0, config->vocab_size, {batch, seq_len}, torch::kLong);

  double fwd = 0, bwd = 0, opt = 0;
  for (int s = -2; s < steps; ++s) {  // two warm-up steps
    auto t0 = Clock::now();
    optimizer->zero_grad();
    auto loss = gpt->loss(x, y);
    auto t1 = Clock::now();
    loss.backward();
    auto t2 = Clock::now();
    optimizer->step();
    auto t3 = Clock::now();
    if (s >= 0) {
      fwd += seconds(t0, t1);
      bwd += seconds(t1, t2);
      opt += seconds(t2, t3);
    }
  }
  const double step_s = (fwd + bwd + opt) / steps;
  const double tokens = static_cast<double>(batch) * seq_len;
  // 6·N·tokens for the dense weights plus attention (12·L·T·d per token, fwd+bwd).
  const double flops = 6.0 * static_cast<double>(config->parameter_count()) * tokens +
                       12.0 * config->n_layer * seq_len * config->d_model * tokens;

  // Baseline: [tokens, d] × [d, 4d] matmul, the MLP's shape, same threads.
  auto a = torch::randn({static_cast<long>(tokens), config->d_model});
  auto b = torch::randn({config->d_model, 4L * config->d_model});
  for (int i = 0; i < 3; ++i) a.mm(b);
  const int reps = 50;
  auto m0 = Clock::now();
  for (int i = 0; i < reps; ++i) a.mm(b);
  const double mm_s = seconds(m0, Clock::now()) / reps;
  const double mm_gflops = 2.0 * tokens * config->d_model * 4.0 * config->d_model / mm_s / 1e9;

  nlohmann::json out = {
      {"bench", "train_step"},
      {"model", config->describe()},
      {"threads", threads},
      {"batch", batch},
      {"seq_len", seq_len},
      {"steps", steps},
      {"forward_s", fwd / steps},
      {"backward_s", bwd / steps},
      {"optimizer_s", opt / steps},
      {"step_s", step_s},
      {"tokens_per_second", tokens / step_s},
      {"achieved_gflops", flops / step_s / 1e9},
      {"baseline_matmul_gflops", mm_gflops},
      {"fraction_of_matmul_peak", flops / step_s / 1e9 / mm_gflops},
  };
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
