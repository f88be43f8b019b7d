#include "gradients/apply.h"

#include "kernels/axpy.h"
#include "kernels/scatter.h"

namespace tessera::gradients {

Result<UndoLog> apply_delta(const std::vector<torch::Tensor>& params, const DecodedDelta& delta, float alpha) {
  for (const auto& u : delta.tensors) {
    if (u.param_index >= params.size()) {
      return InvalidArgument("delta names parameter " + std::to_string(u.param_index) + " of " +
                             std::to_string(params.size()));
    }
    const auto& p = params[u.param_index];
    if (p.scalar_type() != torch::kFloat || !p.is_contiguous() || !p.device().is_cpu()) {
      return InvalidArgument("parameter " + std::to_string(u.param_index) + " must be contiguous CPU float32");
    }
    if (u.is_dense() && u.dense.sizes() != p.sizes()) {
      return InvalidArgument("update of parameter " + std::to_string(u.param_index) + " has another shape");
    }
  }
  torch::NoGradGuard no_grad;
  UndoLog log;
  log.entries.reserve(delta.tensors.size());
  // One buffer for every sparse update's saved values, each entry a view into it.
  std::int64_t sparse = 0;
  for (const auto& u : delta.tensors) sparse += u.is_dense() ? 0 : u.values.numel();
  const torch::Tensor saved_all = torch::empty({sparse}, torch::kFloat);
  std::int64_t used = 0;
  for (const auto& u : delta.tensors) {
    const auto& p = params[u.param_index];
    float* data = p.data_ptr<float>();
    if (u.is_dense()) {
      log.entries.push_back({u.param_index, {}, p.detach().clone()});
      auto d = u.dense.contiguous();
      kernels::axpy_cpu(static_cast<std::size_t>(p.numel()), alpha, d.data_ptr<float>(), data);
    } else {
      auto saved = slice_1d(saved_all, used, u.values.numel());
      used += u.values.numel();
      kernels::scatter_apply_cpu(data, u.flat_index.data_ptr<std::int64_t>(), u.values.data_ptr<float>(),
                                 static_cast<std::size_t>(u.values.numel()), alpha, saved.data_ptr<float>());
      log.entries.push_back({u.param_index, u.flat_index, saved});
    }
  }
  return log;
}

void undo_delta(const std::vector<torch::Tensor>& params, const UndoLog& log) {
  torch::NoGradGuard no_grad;
  for (auto it = log.entries.rbegin(); it != log.entries.rend(); ++it) {
    const auto& p = params[it->param_index];
    if (!it->flat_index.defined()) {
      p.detach().copy_(it->saved);
    } else {
      kernels::scatter_restore_cpu(p.data_ptr<float>(), it->flat_index.data_ptr<std::int64_t>(),
                                   it->saved.data_ptr<float>(), static_cast<std::size_t>(it->saved.numel()));
    }
  }
}

}  // namespace tessera::gradients
