#include "aggregator/outer.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace tessera::aggregator {

std::string describe_outer(const OuterSpec& o) {
  std::ostringstream s;
  s << o.optimizer << " lr=" << o.lr << " momentum=" << o.momentum;
  if (o.warmup_windows > 0) s << " warmup=" << o.warmup_windows;
  if (o.rescale != "none") s << " rescale=" << o.rescale << ":" << o.rescale_max;
  return s.str();
}

Result<OuterOptimizer> OuterOptimizer::from_spec(const OuterSpec& spec, std::uint64_t step_index) {
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
  if (spec.warmup_windows < 0) {
    return InvalidArgument("outer.warmup_windows = " + std::to_string(spec.warmup_windows) + " must be ≥ 0");
  }
  if (spec.rescale != "none" && spec.rescale != "norm") {
    return InvalidArgument("outer.rescale = '" + spec.rescale + "' (expected none | norm)");
  }
  if (!(spec.rescale_max >= 1.0) || !std::isfinite(spec.rescale_max)) {
    return InvalidArgument("outer.rescale_max = " + std::to_string(spec.rescale_max) + " must be at least 1");
  }
  double momentum = spec.momentum;
  if (spec.warmup_windows > 0 && step_index < static_cast<std::uint64_t>(spec.warmup_windows)) {
    momentum *= static_cast<double>(step_index + 1) / static_cast<double>(spec.warmup_windows);
  }
  return OuterOptimizer(kind, spec.lr, momentum, spec.momentum > 0.0);
}

std::vector<float> rescale_factors(const OuterSpec& spec, const std::vector<torch::Tensor>& merged,
                                   const gradients::MergeStats& stats, const gradients::ParamGroups& groups) {
  std::vector<float> factors(merged.size(), 1.0f);
  if (spec.rescale != "norm" || groups.group_of.size() != merged.size()) return factors;
  const auto n_groups = static_cast<std::size_t>(std::max(1, groups.count));
  std::vector<double> sumsq(n_groups, 0.0);
  for (std::size_t i = 0; i < merged.size(); ++i) {
    if (!merged[i].defined()) continue;
    const torch::Tensor t = merged[i].to(torch::kFloat).contiguous();
    const float* v = t.data_ptr<float>();
    double s = 0.0;
    for (std::int64_t j = 0; j < t.numel(); ++j) s += static_cast<double>(v[j]) * v[j];
    sumsq[static_cast<std::size_t>(groups.group_of[i])] += s;
  }
  std::vector<float> per_group(n_groups, 1.0f);
  for (std::size_t g = 0; g < n_groups && g < stats.group_norms.size(); ++g) {
    const double clip = g < stats.clip_norms.size() ? stats.clip_norms[g] : 0.0;
    std::vector<double> norms;
    for (double n : stats.group_norms[g]) norms.push_back(clip > 0.0 ? std::min(n, clip) : n);
    const double target = gradients::median(norms);
    const double merged_norm = std::sqrt(sumsq[g]);
    if (!(merged_norm > 0.0) || !(target > 0.0)) continue;
    per_group[g] = static_cast<float>(std::clamp(target / merged_norm, 1.0, spec.rescale_max));
  }
  for (std::size_t i = 0; i < merged.size(); ++i) factors[i] = per_group[static_cast<std::size_t>(groups.group_of[i])];
  return factors;
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
                            const std::vector<bool>& frozen, const std::vector<float>& scales) {
  if (grads.size() != params.size() || (!frozen.empty() && frozen.size() != params.size()) ||
      (!scales.empty() && scales.size() != params.size())) {
    return InvalidArgument("outer step got " + std::to_string(grads.size()) + " updates, " +
                           std::to_string(frozen.size()) + " frozen flags and " + std::to_string(scales.size()) +
                           " scales for " + std::to_string(params.size()) + " parameters");
  }
  for (float s : scales) {
    if (!std::isfinite(s) || s <= 0.0f) return InvalidArgument("outer step: scale " + std::to_string(s) + " is not positive");
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    TESSERA_RETURN_IF_ERROR(check_float_cpu(params[i], params[i], i, "parameter"));
    if (grads[i].defined()) TESSERA_RETURN_IF_ERROR(check_float_cpu(grads[i], params[i], i, "update"));
  }
  const bool use_momentum = keeps_buffers_;
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
    const float s = scales.empty() ? 1.0f : scales[i];
    if (!use_momentum) {
      if (g == nullptr) continue;
      for (std::int64_t j = 0; j < n; ++j) p[j] -= lr * (s * g[j]);
      continue;
    }
    // Momentum keeps moving parameters that got no update this window (g = 0).
    float* m = buffers_[i].data_ptr<float>();
    for (std::int64_t j = 0; j < n; ++j) {
      const float gj = g != nullptr ? s * g[j] : 0.0f;
      m[j] = mu * m[j] + gj;
      const float dir = kind_ == Kind::kNesterov ? gj + mu * m[j] : m[j];
      p[j] -= lr * dir;
    }
  }
  return Status::Ok();
}

}  // namespace tessera::aggregator
