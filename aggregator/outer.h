// The outer optimizer of a run: turns the merged pseudo-gradient of a window (the mean
// of what the miners moved away from the shared checkpoint, θ_w − θ_miner) into the
// next checkpoint. SGD (optionally with heavy-ball momentum) or Nesterov momentum, as in
// DiLoCo. The momentum buffers belong to the checkpoint and travel with it.
//
// Deterministic: element-wise loops in a fixed order, no reductions — the same inputs
// give bit-identical outputs on any thread count.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"

namespace tessera::aggregator {

class OuterOptimizer {
 public:
  enum class Kind { kSgd, kNesterov };
  static Result<OuterOptimizer> from_spec(const OuterSpec& spec);
  OuterOptimizer(Kind kind, double lr, double momentum) : kind_(kind), lr_(lr), momentum_(momentum) {}

  // params[i] ← params[i] − lr · direction, where direction is g (sgd without momentum),
  // m (sgd with momentum) or g + μ·m (nesterov), m ← μ·m + g. `grads` holds one float32
  // tensor per parameter (undefined = no update for that parameter this window).
  // `frozen` (empty, or one flag per parameter): parameters that take no step at all
  // this window, momentum included — a shard no accepted miner trained (aggregator/window.h).
  Status step(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
              const std::vector<bool>& frozen = {});

  const std::vector<torch::Tensor>& momentum_buffers() const { return buffers_; }
  Status restore(std::vector<torch::Tensor> buffers, const std::vector<torch::Tensor>& params);
  Kind kind() const { return kind_; }
  double lr() const { return lr_; }
  double momentum() const { return momentum_; }

 private:
  Kind kind_;
  double lr_;
  double momentum_;
  std::vector<torch::Tensor> buffers_;  // one per parameter, created on first step
};

}  // namespace tessera::aggregator
