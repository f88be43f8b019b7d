#include "bench/collective_adamw.h"

#include <cmath>

#include "trainer/optim.h"

namespace tessera::bench {

CollectiveAdamW::CollectiveAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, int collective)
    : torch::optim::Optimizer(std::move(groups), std::make_unique<torch::optim::AdamWOptions>()),
      collective_(std::max(1, collective)) {}

torch::Tensor CollectiveAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode grad(true);
    loss = closure();
  }
  const double shrink = 1.0 - 1.0 / collective_;
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double lr = o.lr(), wd = o.weight_decay(), eps = o.eps();
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto& g = p.grad();
      State& s = states_[p.unsafeGetTensorImpl()];
      if (s.steps == 0) {
        s.m = torch::zeros_like(p);
        s.v = torch::zeros_like(p);
        s.noise = torch::zeros_like(p);
      }
      ++s.steps;
      if (wd != 0.0) p.mul_(1.0 - lr * wd);
      s.m.mul_(beta1).add_(g, 1.0 - beta1);
      s.v.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
      if (s.previous.defined()) {
        const auto d = g - s.previous;
        s.noise.mul_(beta2).addcmul_(d, d, 0.5 * (1.0 - beta2));
        s.previous.copy_(g);
      } else {
        s.previous = g.clone();
      }
      const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(s.steps));
      const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(s.steps));
      // The collective second moment, within [v/M, v].
      auto v = torch::maximum(s.v - shrink * s.noise, s.v / static_cast<double>(collective_));
      const auto denom = (v.sqrt() / std::sqrt(bias2)).add_(eps);
      p.addcdiv_(s.m, denom, -lr / bias1);
    }
  }
  return loss;
}

std::unique_ptr<CollectiveAdamW> make_collective_adamw(const model::GPT& model, const TrainSpec& spec, int collective) {
  return std::make_unique<CollectiveAdamW>(trainer::adamw_groups(model, spec), collective);
}

}  // namespace tessera::bench
