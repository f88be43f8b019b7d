// Which parameters a miner trains: the shards the protocol assigns to its uid for the
// window (model/shards.h), or the whole model when the run is not sharded. The miner,
// its local workers, `tessera sim` and `bench miner` apply it the same way.
//
// A miner holds every weight (the forward pass needs them) but keeps gradients, AdamW
// moments, error-feedback residuals and the pseudo-gradient only for the parameters it
// trains; autograd stops the backward pass below the lowest of them. When the rotation
// moves a shard away from the miner, the shard's gradient, moments and residual are
// dropped, not flushed: the residual is what the codec had not yet sent of a direction
// the shard's new miners are now responsible for, and sending it late would add stale
// work to their cohort. A shard the miner gains starts cold.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"
#include "gradients/error_feedback.h"
#include "model/gpt.h"

namespace tessera::trainer {

class ShardAssignment {
 public:
  // Applies the assignment of (run seed, `window`, `uid`) to `model` (requires_grad),
  // `optimizer` and `ef` (either may be null). Returns whether it changed.
  Result<bool> update(model::GPT& model, torch::optim::Optimizer* optimizer, gradients::ErrorFeedback* ef,
                      const RunSpec& spec, std::uint64_t window, std::uint32_t uid);

  // The assigned shards (empty before the first update, or when the run is not sharded).
  const std::vector<int>& shards() const { return shards_; }
  // Indices of the trained parameters, ascending.
  const std::vector<std::uint32_t>& trained() const { return trained_; }
  // Trained elements / all elements.
  double fraction() const { return fraction_; }

 private:
  std::optional<std::vector<int>> assigned_;
  std::vector<int> shards_;
  std::vector<std::uint32_t> trained_;
  double fraction_ = 1.0;
};

// Bytes a miner holds for training beyond the weights themselves: gradients, the inner
// optimizer's state and the error-feedback residuals. What sharding shrinks.
struct TrainingStateBytes {
  std::int64_t gradients = 0, optimizer = 0, error_feedback = 0;
  std::int64_t total() const { return gradients + optimizer + error_feedback; }
};
TrainingStateBytes training_state_bytes(const model::GPT& model, torch::optim::Optimizer& optimizer,
                                        const gradients::ErrorFeedback* ef);

}  // namespace tessera::trainer
