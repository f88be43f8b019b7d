#include "trainer/baseline.h"

#include <torch/torch.h>

#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/interrupt.h"
#include "core/rng.h"
#include "dataset/token_dataset.h"
#include "model/gpt.h"
#include "model/runtime.h"
#include "trainer/lr_schedule.h"
#include "trainer/optim.h"

namespace tessera::trainer {

std::string BaselineResult::to_json() const {
  nlohmann::json j = {
      {"model", model},
      {"parameters", parameters},
      {"steps", steps},
      {"tokens", tokens},
      {"initial_val_loss", initial_val_loss},
      {"final_train_loss", final_train_loss},
      {"final_val_loss", final_val_loss},
      {"tokens_per_second", tokens_per_second},
      {"wall_seconds", wall_seconds},
      {"interrupted", interrupted},
  };
  return j.dump(2);
}

std::vector<std::pair<torch::Tensor, torch::Tensor>> validation_batches(const RunSpec& spec,
                                                                        const dataset::TokenDataset& val) {
  std::vector<std::pair<torch::Tensor, torch::Tensor>> out;
  for (int i = 0; i < spec.train.eval_batches; ++i) {
    out.push_back(val.sample_batch(Rng::derive("tessera/baseline-val", spec.seed, i).next_u64(), spec.validator.eval_batch_size,
                                   spec.train.seq_len));
  }
  return out;
}

Result<BaselineResult> train_baseline(const RunSpec& spec, const BaselineOptions& options,
                                      const std::function<void(const BaselineProgress&)>& progress) {
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  const TrainSpec& ts = spec.train;
  if (ts.seq_len > config.context_length) {
    return InvalidArgument(spec.source + ": train.seq_len = " + std::to_string(ts.seq_len) +
                           ": exceeds the model's context length " + std::to_string(config.context_length));
  }
  const std::string data_dir = options.data_dir.empty() ? spec.data.dir : options.data_dir;
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(data_dir, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(data_dir, "val"));
  for (auto* split : {&train, &val}) TESSERA_RETURN_IF_ERROR(dataset::check_split(*split, data_dir, ts.seq_len, config.vocab_size));

  model::configure_cpu_threads(options.threads);
  const long steps = options.steps > 0 ? options.steps : ts.baseline_steps;
  model::GPT gpt = model::make_gpt(config, spec.seed);
  gpt->to(options.device);
  gpt->train();
  auto optimizer = make_adamw(gpt, ts);
  CosineSchedule schedule{ts.lr, ts.min_lr_ratio, ts.warmup_steps, steps};

  const auto val_batches = validation_batches(spec, val);

  BaselineResult result;
  result.model = config.describe();
  result.parameters = config.parameter_count();
  result.initial_val_loss = evaluate_loss(gpt, val_batches);

  const auto start = std::chrono::steady_clock::now();
  auto seconds_since = [](auto t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  std::deque<double> recent;
  Rng batch_rng = Rng::derive("tessera/baseline-train", spec.seed);
  const int batch = ts.centralized_batch();
  const std::int64_t tokens_per_step = static_cast<std::int64_t>(batch) * ts.seq_len;
  long step = 0;
  for (; step < steps && !interrupted(); ++step) {
    auto [x, y] = train.sample_batch(batch_rng.next_u64(), batch, ts.seq_len);
    const double lr = schedule.at(step);
    const double loss_value = train_step(gpt, *optimizer, x, y, lr, ts.grad_clip, {}, ts.autocast == "bf16");
    if (!std::isfinite(loss_value)) {
      return Internal("training diverged: loss is " + std::to_string(loss_value) + " at step " + std::to_string(step) +
                      " (lower train.lr?)");
    }
    recent.push_back(loss_value);
    if (recent.size() > 10) recent.pop_front();

    BaselineProgress p;
    p.step = step + 1;
    p.total_steps = steps;
    p.loss = loss_value;
    p.lr = lr;
    p.elapsed_seconds = seconds_since(start);
    p.tokens_per_second = static_cast<double>(tokens_per_step * (step + 1)) / p.elapsed_seconds;
    const bool last = step + 1 == steps;
    if (!last && ts.eval_every > 0 && (step + 1) % ts.eval_every == 0) p.val_loss = evaluate_loss(gpt, val_batches);
    if (progress) progress(p);
  }
  result.wall_seconds = seconds_since(start);
  result.steps = step;
  result.interrupted = step < steps;
  result.tokens = tokens_per_step * step;
  result.tokens_per_second = result.wall_seconds > 0 ? static_cast<double>(result.tokens) / result.wall_seconds : 0;
  result.final_train_loss =
      recent.empty() ? 0.0 : std::accumulate(recent.begin(), recent.end(), 0.0) / static_cast<double>(recent.size());
  result.final_val_loss = evaluate_loss(gpt, val_batches);
  return result;
}

}  // namespace tessera::trainer
