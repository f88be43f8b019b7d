#include "gradients/error_feedback.h"

#include <algorithm>

namespace tessera::gradients {

torch::Tensor ErrorFeedback::buffer(std::uint32_t param_index) const {
  auto it = std::lower_bound(buffers_.begin(), buffers_.end(), param_index,
                             [](const auto& entry, std::uint32_t i) { return entry.first < i; });
  return it != buffers_.end() && it->first == param_index ? it->second : torch::Tensor();
}

Result<EncodedDelta> ErrorFeedback::step(const std::vector<IndexedTensor>& delta, const CodecSettings& settings) {
  // The next buffers are computed beside the current ones and replace them only once the
  // encoding succeeded.
  std::vector<IndexedTensor> accumulated;
  accumulated.reserve(delta.size());
  torch::NoGradGuard no_grad;
  for (const auto& [index, value] : delta) {
    const torch::Tensor previous = buffer(index);
    const torch::Tensor v = value.detach().to(torch::kFloat);
    if (previous.defined() && previous.sizes() != value.sizes()) {
      return InvalidArgument("error-feedback buffer of parameter " + std::to_string(index) + " has another shape");
    }
    // β·E + Δ, rounded as two operations (torch's add with alpha may fuse them).
    accumulated.push_back({index, previous.defined() ? previous.to(v.device()).mul(beta_).add_(v) : v.clone()});
  }
  auto encoded = encode_delta(accumulated, settings);
  if (!encoded.ok()) return encoded.status();
  for (std::size_t i = 0; i < accumulated.size(); ++i) {
    const auto& update = encoded->reconstruction.tensors[i];
    torch::Tensor& e = accumulated[i].value;
    if (update.is_dense()) {
      e.sub_(update.dense);
    } else {
      e.view({-1}).index_add_(0, update.flat_index, -update.values);
    }
    const std::uint32_t index = accumulated[i].param_index;
    auto it = std::lower_bound(buffers_.begin(), buffers_.end(), index,
                               [](const auto& entry, std::uint32_t j) { return entry.first < j; });
    if (it != buffers_.end() && it->first == index) {
      it->second = e;
    } else {
      buffers_.insert(it, {index, e});
    }
  }
  return encoded;
}

void ErrorFeedback::keep_only(const std::vector<std::uint32_t>& kept) {
  // erase/remove_if rather than std::erase_if: the fuzz build compiles this file as C++17
  // (torch's headers under clang 14, tests/fuzz/CMakeLists.txt).
  buffers_.erase(std::remove_if(buffers_.begin(), buffers_.end(),
                                [&](const auto& b) { return !std::binary_search(kept.begin(), kept.end(), b.first); }),
                 buffers_.end());
}

}  // namespace tessera::gradients
