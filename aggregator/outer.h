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
#include "gradients/merge.h"

namespace tessera::aggregator {

// The outer step in words, as a checkpoint's manifest records it ("nesterov lr=1
// momentum=0.5 warmup=8").
std::string describe_outer(const OuterSpec& o);

class OuterOptimizer {
 public:
  enum class Kind { kSgd, kNesterov };
  // `step_index`: outer steps taken since the run's initial checkpoint (C_w's window
  // minus its origin window), for the momentum warm-up.
  static Result<OuterOptimizer> from_spec(const OuterSpec& spec, std::uint64_t step_index = 0);
  // `keeps_buffers`: the run has momentum (a warm-up may make this step's `momentum` 0).
  OuterOptimizer(Kind kind, double lr, double momentum, bool keeps_buffers)
      : kind_(kind), lr_(lr), momentum_(momentum), keeps_buffers_(keeps_buffers) {}

  // params[i] ← params[i] − lr · direction, where direction is g (sgd without momentum),
  // m (sgd with momentum) or g + μ·m (nesterov), m ← μ·m + g. `grads` holds one float32
  // tensor per parameter (undefined = no update for that parameter this window).
  // `frozen` (empty, or one flag per parameter): parameters that take no step at all
  // this window, momentum included — a shard no accepted miner trained (aggregator/window.h).
  // `scales` (empty, or one per parameter): g is multiplied by it before the step
  // (rescale_factors).
  Status step(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
              const std::vector<bool>& frozen = {}, const std::vector<float>& scales = {});

  const std::vector<torch::Tensor>& momentum_buffers() const { return buffers_; }
  Status restore(std::vector<torch::Tensor> buffers, const std::vector<torch::Tensor>& params);
  Kind kind() const { return kind_; }
  double lr() const { return lr_; }
  double momentum() const { return momentum_; }

 private:
  Kind kind_;
  double lr_;
  double momentum_;  // this step's (after the warm-up)
  bool keeps_buffers_;
  std::vector<torch::Tensor> buffers_;  // one per parameter, created on first step
};

// The `outer.rescale = "norm"` factors, one per parameter: for each group, the median of
// the norms its deltas were merged with (each raw norm capped at the group's clip norm)
// over the norm of the merged update, clamped to [1, rescale_max]. Averaging deltas whose
// noisy parts point different ways shrinks the mean below any one of them; the factor
// gives the step back the length of a typical accepted delta, and never shortens it. All
// ones for `rescale = "none"`, for a group nothing touched, and for a zero merged update.
// Norms accumulate in double in parameter order: the factors are consensus arithmetic.
std::vector<float> rescale_factors(const OuterSpec& spec, const std::vector<torch::Tensor>& merged,
                                   const gradients::MergeStats& stats, const gradients::ParamGroups& groups);

}  // namespace tessera::aggregator
