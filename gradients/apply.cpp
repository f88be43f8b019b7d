#include "gradients/apply.h"

#include <optional>

#include "gradients/dispatch.h"

namespace tessera::gradients {

namespace {

Status kernel_failed(const kernels::KernelBackend& k, const char* what, std::uint32_t param_index) {
  return Internal(std::string("the ") + k.name() + " " + what + " kernel failed on parameter " +
                  std::to_string(param_index));
}

// A kernel failed partway through a delta: restore what the log holds (every earlier
// tensor, and a dense tensor's own copy taken before its kernel ran) so that the caller's
// parameters do not keep half a delta. A sparse kernel's own saved values are not
// trusted after it failed, so its parameter is named as possibly changed.
Status rolled_back(const std::vector<torch::Tensor>& params, const UndoLog& log, Status failure, bool failed_one_logged) {
  const Status undone = undo_delta(params, log);
  std::string what = failure.message();
  if (!undone.ok()) {
    what += "; undoing the delta's earlier tensors failed too: " + undone.message();
  } else {
    what += failed_one_logged ? "; the delta was undone"
                              : "; its earlier tensors were undone, this parameter may hold part of its update";
  }
  return Internal(what);
}

}  // namespace

Result<UndoLog> apply_delta(const std::vector<torch::Tensor>& params, const DecodedDelta& delta, float alpha) {
  std::optional<torch::Device> device;
  std::int64_t sparse = 0;
  for (const auto& u : delta.tensors) {
    if (u.param_index >= params.size()) {
      return InvalidArgument("delta names parameter " + std::to_string(u.param_index) + " of " +
                             std::to_string(params.size()));
    }
    const auto& p = params[u.param_index];
    if (p.scalar_type() != torch::kFloat || !p.is_contiguous()) {
      return InvalidArgument("parameter " + std::to_string(u.param_index) + " must be contiguous float32");
    }
    if (u.is_dense() && u.dense.sizes() != p.sizes()) {
      return InvalidArgument("update of parameter " + std::to_string(u.param_index) + " has another shape");
    }
    if (device && *device != p.device()) {
      return InvalidArgument("parameters on " + device->str() + " and " + p.device().str() + ": a delta applies to one device");
    }
    device = p.device();
    sparse += u.is_dense() ? 0 : u.values.numel();
  }
  if (!device) return UndoLog{};
  TESSERA_ASSIGN_OR_RETURN(const kernels::KernelBackend* k, backend_for(*device));
  torch::NoGradGuard no_grad;
  UndoLog log;
  log.entries.reserve(delta.tensors.size());
  // One buffer on the device for every sparse update's saved values, each entry a view.
  const torch::Tensor saved_all = torch::empty({sparse}, torch::TensorOptions().dtype(torch::kFloat).device(*device));
  std::int64_t used = 0;
  for (const auto& u : delta.tensors) {
    const auto& p = params[u.param_index];
    float* data = p.data_ptr<float>();
    if (u.is_dense()) {
      log.entries.push_back({u.param_index, {}, p.detach().clone()});
      const torch::Tensor d = u.dense.to(p.device(), torch::kFloat).contiguous();
      if (!k->axpy(static_cast<std::size_t>(p.numel()), alpha, d.data_ptr<float>(), data)) {
        return rolled_back(params, log, kernel_failed(*k, "axpy", u.param_index), true);
      }
    } else {
      // The update's index and values go where the parameter lives (a no-op on the CPU).
      const torch::Tensor index = u.flat_index.to(p.device(), torch::kLong).contiguous();
      const torch::Tensor values = u.values.to(p.device(), torch::kFloat).contiguous();
      const torch::Tensor saved = slice_1d(saved_all, used, values.numel());
      used += values.numel();
      if (!k->scatter_apply(data, index.data_ptr<std::int64_t>(), values.data_ptr<float>(),
                            static_cast<std::size_t>(values.numel()), alpha, saved.data_ptr<float>())) {
        return rolled_back(params, log, kernel_failed(*k, "scatter-apply", u.param_index), false);
      }
      log.entries.push_back({u.param_index, index, saved});
    }
  }
  return log;
}

Status undo_delta(const std::vector<torch::Tensor>& params, const UndoLog& log) {
  torch::NoGradGuard no_grad;
  for (auto it = log.entries.rbegin(); it != log.entries.rend(); ++it) {
    const auto& p = params[it->param_index];
    if (!it->flat_index.defined()) {
      p.detach().copy_(it->saved);
      continue;
    }
    TESSERA_ASSIGN_OR_RETURN(const kernels::KernelBackend* k, backend_for(p.device()));
    if (!k->scatter_restore(p.data_ptr<float>(), it->flat_index.data_ptr<std::int64_t>(), it->saved.data_ptr<float>(),
                            static_cast<std::size_t>(it->saved.numel()))) {
      return kernel_failed(*k, "scatter-restore", it->param_index);
    }
  }
  return Status::Ok();
}

Status undo_deltas(const std::vector<torch::Tensor>& params, const std::vector<UndoLog>& logs) {
  for (auto it = logs.rbegin(); it != logs.rend(); ++it) TESSERA_RETURN_IF_ERROR(undo_delta(params, *it));
  return Status::Ok();
}

}  // namespace tessera::gradients
