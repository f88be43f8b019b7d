#include "model/parameters.h"

namespace tessera::model {

Status load_parameters(GPT& model, const std::vector<torch::Tensor>& values) {
  auto params = model->named_params();
  if (params.size() != values.size()) {
    return InvalidArgument("checkpoint holds " + std::to_string(values.size()) + " tensors, the model has " +
                           std::to_string(params.size()));
  }
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].second.sizes() != values[i].sizes()) {
      return InvalidArgument("tensor " + params[i].first + " has shape " + c10::str(values[i].sizes()) +
                             ", the model's is " + c10::str(params[i].second.sizes()));
    }
    params[i].second.copy_(values[i]);
  }
  return Status::Ok();
}

std::vector<torch::Tensor> snapshot_parameters(const GPT& model) {
  std::vector<torch::Tensor> out;
  for (const auto& [name, p] : model->named_params()) out.push_back(p.detach().clone());
  return out;
}

}  // namespace tessera::model
