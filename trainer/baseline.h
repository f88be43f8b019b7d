// Centralized single-process training (`tessera train`): the baseline the decentralized
// run is measured against. AdamW, warm-up + cosine schedule, gradient-norm clipping,
// uniform random windows of the training split, validation on a fixed set of batches.
#pragma once

#include <torch/torch.h>

#include "dataset/token_dataset.h"

#include <cstdint>
#include <functional>
#include <string>

#include "core/run_spec.h"
#include "core/status.h"

namespace tessera::trainer {

struct BaselineOptions {
  long steps = 0;        // 0: the spec's train.baseline_steps
  int threads = 0;       // 0: every core
  std::string data_dir;  // empty: the spec's data.dir
  torch::Device device = torch::kCPU;
};

struct BaselineProgress {
  long step = 0;
  long total_steps = 0;
  double loss = 0.0;           // this step's training loss
  double lr = 0.0;
  double tokens_per_second = 0.0;
  double val_loss = -1.0;      // set on evaluation steps, else negative
  double elapsed_seconds = 0.0;
};

struct BaselineResult {
  std::string model;  // ModelConfig::describe()
  std::int64_t parameters = 0;
  long steps = 0;
  std::int64_t tokens = 0;
  double initial_val_loss = 0.0;
  double final_train_loss = 0.0;  // mean over the last 10 steps
  double final_val_loss = 0.0;
  double tokens_per_second = 0.0;
  double wall_seconds = 0.0;
  bool interrupted = false;
  std::string to_json() const;
};

// The fixed validation batches of a run (train.eval_batches batches of
// validator.eval_batch_size sequences from the val split, drawn from the run seed): the
// baseline, `tessera demo` and `tessera sim` measure on the same ones. They do not depend
// on the training batch, so runs that differ only in it are measured on the same text.
std::vector<std::pair<torch::Tensor, torch::Tensor>> validation_batches(const RunSpec& spec,
                                                                        const dataset::TokenDataset& val);

// Runs the baseline. `progress` is called after each step; stops early (with the
// results so far) when the process is interrupted.
Result<BaselineResult> train_baseline(const RunSpec& spec, const BaselineOptions& options,
                                      const std::function<void(const BaselineProgress&)>& progress = {});

}  // namespace tessera::trainer
