#include "trainer/shard_assignment.h"

#include <algorithm>

#include "model/shards.h"

namespace tessera::trainer {

Result<bool> ShardAssignment::update(model::GPT& model, torch::optim::Optimizer* optimizer, gradients::ErrorFeedback* ef,
                                     const RunSpec& spec, std::uint64_t window, std::uint32_t uid) {
  std::vector<int> assigned = model::assign_shards(spec.seed, spec.model, window, uid);
  if (assigned_ && *assigned_ == assigned) return false;
  const auto named = model->named_params();
  std::vector<std::string> names;
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& [name, p] : named) {
    names.push_back(name);
    shapes.push_back(p.sizes().vec());
  }
  TESSERA_ASSIGN_OR_RETURN(auto grouping, model::parameter_groups(spec.model, names, shapes));
  const bool sharded = spec.model.sharded();
  trained_.clear();
  std::int64_t trained_numel = 0, total_numel = 0;
  for (std::uint32_t i = 0; i < named.size(); ++i) {
    torch::Tensor p = named[i].second;
    total_numel += p.numel();
    const bool train = !sharded || std::binary_search(assigned.begin(), assigned.end(), grouping.first[i]);
    if (train) {
      trained_.push_back(i);
      trained_numel += p.numel();
    } else {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
      if (optimizer != nullptr) optimizer->state().erase(c10::guts::to_string(p.unsafeGetTensorImpl()));
    }
    p.set_requires_grad(train);
  }
  if (ef != nullptr) ef->keep_only(trained_);
  shards_ = sharded ? assigned : std::vector<int>{};
  fraction_ = total_numel > 0 ? static_cast<double>(trained_numel) / static_cast<double>(total_numel) : 1.0;
  assigned_ = std::move(assigned);
  return true;
}

TrainingStateBytes training_state_bytes(const model::GPT& model, torch::optim::Optimizer& optimizer,
                                        const gradients::ErrorFeedback* ef) {
  auto bytes = [](const torch::Tensor& t) { return t.defined() ? static_cast<std::int64_t>(t.nbytes()) : 0; };
  TrainingStateBytes out;
  for (const auto& p : model->parameters()) out.gradients += bytes(p.grad());
  for (const auto& [key, state] : optimizer.state()) {
    if (const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(state.get())) {
      out.optimizer += bytes(adamw->exp_avg()) + bytes(adamw->exp_avg_sq()) + bytes(adamw->max_exp_avg_sq());
    }
  }
  if (ef != nullptr) {
    for (const auto& [index, buffer] : ef->buffers()) out.error_feedback += bytes(buffer);
  }
  return out;
}

}  // namespace tessera::trainer
