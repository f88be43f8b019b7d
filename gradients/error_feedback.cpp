#include "gradients/error_feedback.h"

#include <algorithm>

namespace tessera::gradients {

torch::Tensor& ErrorFeedback::slot(std::uint32_t param_index, const torch::Tensor& like) {
  auto it = std::lower_bound(buffers_.begin(), buffers_.end(), param_index,
                             [](const auto& entry, std::uint32_t i) { return entry.first < i; });
  if (it == buffers_.end() || it->first != param_index) {
    it = buffers_.insert(it, {param_index, torch::zeros_like(like, torch::kFloat)});
  }
  return it->second;
}

torch::Tensor ErrorFeedback::buffer(std::uint32_t param_index) const {
  auto it = std::lower_bound(buffers_.begin(), buffers_.end(), param_index,
                             [](const auto& entry, std::uint32_t i) { return entry.first < i; });
  return it != buffers_.end() && it->first == param_index ? it->second : torch::Tensor();
}

Result<EncodedDelta> ErrorFeedback::step(const std::vector<IndexedTensor>& delta, const CodecSettings& settings) {
  std::vector<IndexedTensor> accumulated;
  accumulated.reserve(delta.size());
  for (const auto& [index, value] : delta) {
    torch::Tensor& e = slot(index, value);
    if (e.sizes() != value.sizes()) {
      return InvalidArgument("error-feedback buffer of parameter " + std::to_string(index) + " has another shape");
    }
    e.mul_(beta_).add_(value.detach().to(torch::kFloat));
    accumulated.push_back({index, e});
  }
  auto encoded = encode_delta(accumulated, settings);
  if (!encoded.ok()) return encoded.status();
  for (std::size_t i = 0; i < accumulated.size(); ++i) {
    const auto& update = encoded->reconstruction.tensors[i];
    torch::Tensor& e = slot(update.param_index, accumulated[i].value);
    if (update.is_dense()) {
      e.sub_(update.dense);
    } else {
      e.view({-1}).index_add_(0, update.flat_index, -update.values);
    }
  }
  return encoded;
}

}  // namespace tessera::gradients
