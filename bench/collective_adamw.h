// AdamW normalised for the collective batch. M miners each train on batches of B and
// their pseudo-gradients are averaged; synchronous data parallel on the same tokens
// normalises every step by the second moment of the M·B batch's gradient, E[g²] + σ²/(MB),
// while each miner's AdamW divides by its own E[g²] + σ²/B. The hypothesis this tests:
// where noise dominates, a miner's step along the true gradient is up to √M times
// shorter than the synchronous one, and averaging the miners cannot give it back. It did
// not hold: the gap is the same with four times larger miner batches (docs/results.md,
// "Where the gap comes from").
//
// This optimizer estimates the collective second moment on the miner's own gradients:
// consecutive gradients differ by the batch noise (the true gradient barely moves in one
// step), so ½·(g_t − g_{t−1})² estimates σ²/B, and
//     v_M = v − (1 − 1/M)·n,   n = EMA_β2 of ½·(g_t − g_{t−1})²,
// floored at v/M (a pure-noise coordinate's collective second moment) and never above v.
// Everything else is AdamW (decoupled weight decay, bias correction, the same groups and
// options as make_adamw); with collective = 1 it is AdamW (the same losses, checked over
// three windows of one miner).
//
// A study lever of bench/codec_study (`--inner collective`), measured and not kept
// (docs/results.md, "What was tried"): it lives here, not in the trainer.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <unordered_map>

#include "core/run_spec.h"
#include "model/gpt.h"

namespace tessera::bench {

class CollectiveAdamW : public torch::optim::Optimizer {
 public:
  // `collective`: the number of miners whose deltas are averaged (≥ 1).
  CollectiveAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, int collective);

  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  struct State {
    long steps = 0;
    torch::Tensor m, v, noise, previous;
  };
  int collective_;
  std::unordered_map<const void*, State> states_;
};

// make_adamw's groups and options for a CollectiveAdamW.
std::unique_ptr<CollectiveAdamW> make_collective_adamw(const model::GPT& model, const TrainSpec& spec, int collective);

}  // namespace tessera::bench
