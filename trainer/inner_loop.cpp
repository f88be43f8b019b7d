#include "trainer/inner_loop.h"

#include "trainer/data_parallel.h"

#include <algorithm>

#include <chrono>
#include <cmath>

#include "core/process.h"
#include "core/rng.h"
#include "model/parameters.h"
#include "trainer/lr_schedule.h"
#include "trainer/optim.h"

namespace tessera::trainer {

Result<InnerResult> InnerLoop::run(model::GPT& model, torch::optim::Optimizer& optimizer,
                                   const std::vector<torch::Tensor>& start, const dataset::TokenDataset& train,
                                   const std::vector<std::uint64_t>& pages, std::uint64_t window,
                                   std::uint64_t uid) const {
  const TrainSpec& ts = spec->train;
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_seconds();
  double hook_cpu_seconds = 0.0;
  if (group != nullptr && ts.batch_size % group->world() != 0) {
    return InvalidArgument("train.batch_size = " + std::to_string(ts.batch_size) + " does not split over " +
                           std::to_string(group->world()) + " workers");
  }
  TESSERA_RETURN_IF_ERROR(model::load_parameters(model, start));
  model->train();
  const long horizon = total_steps > 0 ? total_steps : ts.baseline_steps;
  CosineSchedule schedule{ts.lr, ts.min_lr_ratio, ts.warmup_steps, horizon};
  InnerResult result;
  std::vector<torch::Tensor> base = start;
  // Before step `step` (and after the last): ask the hook, share its answer with the
  // group, and move the model by new base − old base.
  auto consult = [&](int step, bool last) -> Status {
    if (result.rebased_at_step >= 0 || (!rebase && !follow_rebases)) return Status::Ok();
    const auto t_hook = std::chrono::steady_clock::now();
    const double cpu_hook = process_cpu_seconds();
    Result<Base> decision = Base();
    if (rebase) decision = rebase(step, last);
    if (group != nullptr && group->world() > 1) {
      // 0: keep the base, 1: rebase (the base follows), 2: rank 0 abandons the window.
      const std::int64_t code = !decision.ok() ? 2 : decision->has_value() ? 1 : 0;
      std::vector<torch::Tensor> flag{torch::tensor({code}, torch::kLong)};
      TESSERA_RETURN_IF_ERROR(group->broadcast(flag));
      const std::int64_t f = flag[0].item<std::int64_t>();
      if (f == 2 && decision.ok()) return DeadlineExceeded("rank 0 abandoned window " + std::to_string(window));
      if (f == 1) {
        auto& next = *decision;
        if (!next) {
          next.emplace();
          for (const auto& t : base) next->push_back(torch::zeros(t.sizes(), torch::kFloat));
        } else {
          for (auto& t : *next) t = t.to(torch::kFloat).contiguous().clone();
        }
        TESSERA_RETURN_IF_ERROR(group->broadcast(*next));
      }
    }
    result.hook_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_hook).count();
    hook_cpu_seconds += process_cpu_seconds() - cpu_hook;
    if (!decision.ok()) return decision.status();
    auto& next = *decision;
    if (!next) return Status::Ok();
    if (next->size() != base.size()) {
      return Internal("rebase: the new base has " + std::to_string(next->size()) + " tensors, the model " +
                      std::to_string(base.size()));
    }
    torch::NoGradGuard no_grad;
    const auto params = model->named_params();
    for (std::size_t i = 0; i < params.size(); ++i) {
      auto& p = params[i].second;
      if (!(*next)[i].sizes().equals(p.sizes())) return Internal("rebase: parameter " + params[i].first + " changed shape");
      p.add_((*next)[i].to(p.device(), p.scalar_type()) - base[i].to(p.device(), p.scalar_type()));
    }
    base = std::move(*next);
    result.rebased_at_step = step;
    return Status::Ok();
  };
  // Before step `step` (> 0): whether to end the window there, rank 0's answer shared
  // with the group.
  auto stop_here = [&](int step) -> Result<bool> {
    if (!stop_before && !follow_stops) return false;
    bool stop = false;
    if (stop_before) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      stop = stop_before(step, (elapsed - result.hook_seconds) / step);
    }
    if (group != nullptr && group->world() > 1) {
      std::vector<torch::Tensor> flag{torch::tensor({stop ? 1L : 0L}, torch::kLong)};
      TESSERA_RETURN_IF_ERROR(group->broadcast(flag));
      stop = flag[0].item<std::int64_t>() != 0;
    }
    return stop;
  };
  int step = 0;
  for (; step < ts.inner_steps; ++step) {
    if (step > 0) {
      TESSERA_RETURN_IF_ERROR(consult(step, false));
      TESSERA_ASSIGN_OR_RETURN(const bool stop, stop_here(step));
      if (stop) break;
    }
    auto [x, y] = dataset::inner_batch(train, *spec, pages, window, uid, step);
    Status reduced = Status::Ok();
    std::function<void()> after_backward;
    if (group != nullptr && group->world() > 1) {
      const auto rows = torch::arange(group->rank(), x.size(0), group->world(), torch::kLong);
      x = x.index_select(0, rows);
      y = y.index_select(0, rows);
      after_backward = [&] { reduced = group->allreduce_mean_gradients(model); };
    }
    const double value = train_step(model, optimizer, x, y,
                                    schedule.at(window_schedule_step(window, origin_window, ts.inner_steps, step)),
                                    ts.grad_clip, after_backward, ts.autocast == "bf16");
    TESSERA_RETURN_IF_ERROR(reduced);
    if (!std::isfinite(value)) {
      return Internal("inner training diverged: loss " + std::to_string(value) + " at window " +
                      std::to_string(window) + " step " + std::to_string(step) + " (lower train.lr?)");
    }
    if (step == 0) result.first_loss = value;
    result.last_loss = value;
  }
  result.steps = step;
  TESSERA_RETURN_IF_ERROR(consult(step, true));
  torch::NoGradGuard no_grad;
  const auto params = model->named_params();
  for (std::size_t i = 0; i < params.size(); ++i) {
    // A parameter the miner does not train (trainer/shard_assignment.h) has no delta.
    result.delta.push_back(params[i].second.requires_grad()
                               ? base[i].to(params[i].second.device()) - params[i].second.detach()
                               : torch::Tensor());
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() - result.hook_seconds;
  result.cpu_seconds = process_cpu_seconds() - cpu0 - hook_cpu_seconds;
  return result;
}

}  // namespace tessera::trainer
