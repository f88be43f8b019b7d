// One window of local training, as a miner does it (DESIGN.md §1, step 2): start from
// the shared checkpoint, run H = train.inner_steps AdamW steps on batches drawn only
// from the window's assigned pages, and return the pseudo-gradient Δ = θ_start − θ_end.
// The inner optimizer's state persists across windows (DiLoCo); the learning rate
// follows the spec's warm-up + cosine schedule over the run's global inner step.
//
// Overlapped windows (docs/architecture.md "Overlapped windows"): a miner may start
// window w+1 from C_w while C_{w+1} is still being merged. When C_{w+1} arrives, the
// `rebase` hook hands it over and the loop moves the model by C_{w+1} − C_w, keeping the
// progress made so far; Δ is then measured from C_{w+1}, the base the submission declares.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"
#include "dataset/token_dataset.h"
#include "model/gpt.h"

namespace tessera::trainer {

struct InnerResult {
  // One float32 tensor per parameter, θ_start − θ_end, on the model's device; undefined
  // for parameters the model does not train (requires_grad false).
  std::vector<torch::Tensor> delta;
  double first_loss = 0.0;           // training loss of the first inner step
  double last_loss = 0.0;            // training loss of the last inner step
  double seconds = 0.0;               // in training steps only (not in the rebase hook)
  // The process's CPU time over the same steps: below `seconds` when the steps share the
  // cores with other processes (the demo's miners and validators on one machine).
  double cpu_seconds = 0.0;
  double hook_seconds = 0.0;          // waiting in the rebase hook (pulls, the final wait)
  int rebased_at_step = -1;           // the step before which the base changed; -1: never
  int steps = 0;                      // inner steps taken: H, or fewer when `stop_before` ended the window
};

class DataParallelGroup;

struct InnerLoop {
  const RunSpec* spec = nullptr;
  long total_steps = 0;  // schedule horizon (windows × H); 0: the spec's baseline_steps
  std::uint64_t origin_window = 0;  // the run's first window: the schedule counts from it
  // With a group of K ranks, each trains on rows r, r+K, … of every batch and the
  // gradients are averaged across ranks before clipping (train.batch_size % K == 0).
  DataParallelGroup* group = nullptr;
  // Called before inner steps 1 … H−1 and once after the last step (`step` = the steps
  // taken, `last` true); returns the new base (one tensor per parameter) when it changed, else nullopt.
  // At most one rebase per window; with `last` the hook must return the base the delta
  // is measured from, when that changed (it may block until it knows). With a group,
  // rank 0's hook decides and the loop broadcasts the decision and the base to the other
  // ranks, whose hook must be unset (they follow rank 0).
  using Base = std::optional<std::vector<torch::Tensor>>;
  std::function<Result<Base>(int step, bool last)> rebase = nullptr;
  bool follow_rebases = false;  // a worker rank of a miner whose rank 0 has a rebase hook
  // Called before inner steps 1 … H−1, after the rebase hook, with the mean wall time of
  // the steps taken so far; true ends the window there (the rebase hook is then asked
  // with `last` as after the last step, and Δ is the trajectory so far). A miner whose
  // steps run late uses it to send the steps it has before its deadline instead of
  // dropping them all. With a group, rank 0's hook decides and the other ranks, whose
  // hook must be unset, follow (`follow_stops`).
  std::function<bool(int step, double step_s)> stop_before = nullptr;
  bool follow_stops = false;

  // Loads `start` into `model`, trains on `pages` and returns Δ. `window` seeds the
  // batch draw together with the run seed and `uid`.
  Result<InnerResult> run(model::GPT& model, torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& start,
                          const dataset::TokenDataset& train, const std::vector<std::uint64_t>& pages,
                          std::uint64_t window, std::uint64_t uid) const;
};

}  // namespace tessera::trainer
