#include "aggregator/outer.h"

namespace tessera::aggregator {

Result<OuterOptimizer> OuterOptimizer::from_spec(const OuterSpec& spec) {
  Kind kind;
  if (spec.optimizer == "sgd") {
    kind = Kind::kSgd;
  } else if (spec.optimizer == "nesterov") {
    kind = Kind::kNesterov;
  } else {
    return InvalidArgument("outer.optimizer = '" + spec.optimizer + "' (expected sgd | nesterov)");
  }
  if (!(spec.lr > 0.0) || !std::isfinite(spec.lr)) {
    return InvalidArgument("outer.lr = " + std::to_string(spec.lr) + " must be positive");
  }
  if (!(spec.momentum >= 0.0 && spec.momentum < 1.0)) {
    return InvalidArgument("outer.momentum = " + std::to_string(spec.momentum) + " must be in [0, 1)");
  }
  return OuterOptimizer(kind, spec.lr, spec.momentum);
}

namespace {
Status check_float_cpu(const torch::Tensor& t, const torch::Tensor& like, std::size_t i, const char* what) {
  if (t.scalar_type() != torch::kFloat || !t.is_contiguous() || !t.device().is_cpu() || t.sizes() != like.sizes()) {
    return InvalidArgument(std::string(what) + " " + std::to_string(i) +
                           " must be a contiguous CPU float32 tensor of the parameter's shape");
  }
  return Status::Ok();
}
}  // namespace

Status OuterOptimizer::restore(std::vector<torch::Tensor> buffers, const std::vector<torch::Tensor>& params) {
  if (!buffers.empty() && buffers.size() != params.size()) {
    return InvalidArgument("momentum state holds " + std::to_string(buffers.size()) + " tensors for " +
                           std::to_string(params.size()) + " parameters");
  }
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    TESSERA_RETURN_IF_ERROR(check_float_cpu(buffers[i], params[i], i, "momentum buffer"));
  }
  buffers_ = std::move(buffers);
  return Status::Ok();
}

Status OuterOptimizer::step(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
                            const std::vector<bool>& frozen) {
  if (grads.size() != params.size() || (!frozen.empty() && frozen.size() != params.size())) {
    return InvalidArgument("outer step got " + std::to_string(grads.size()) + " updates and " +
                           std::to_string(frozen.size()) + " frozen flags for " + std::to_string(params.size()) +
                           " parameters");
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    TESSERA_RETURN_IF_ERROR(check_float_cpu(params[i], params[i], i, "parameter"));
    if (grads[i].defined()) TESSERA_RETURN_IF_ERROR(check_float_cpu(grads[i], params[i], i, "update"));
  }
  const bool use_momentum = momentum_ > 0.0;
  if (use_momentum && buffers_.empty()) {
    for (const auto& p : params) buffers_.push_back(torch::zeros_like(p));
  }
  torch::NoGradGuard no_grad;
  const float lr = static_cast<float>(lr_), mu = static_cast<float>(momentum_);
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!frozen.empty() && frozen[i]) continue;
    float* p = params[i].data_ptr<float>();
    const std::int64_t n = params[i].numel();
    const float* g = grads[i].defined() ? grads[i].data_ptr<float>() : nullptr;
    if (!use_momentum) {
      if (g == nullptr) continue;
      for (std::int64_t j = 0; j < n; ++j) p[j] -= lr * g[j];
      continue;
    }
    // Momentum keeps moving parameters that got no update this window (g = 0).
    float* m = buffers_[i].data_ptr<float>();
    for (std::int64_t j = 0; j < n; ++j) {
      const float gj = g != nullptr ? g[j] : 0.0f;
      m[j] = mu * m[j] + gj;
      const float dir = kind_ == Kind::kNesterov ? gj + mu * m[j] : m[j];
      p[j] -= lr * dir;
    }
  }
  return Status::Ok();
}

}  // namespace tessera::aggregator
