#include "gradients/merge.h"

#include "gradients/norm.h"

#include <algorithm>
#include <cmath>

namespace tessera::gradients {

Result<std::vector<torch::Tensor>> merge_deltas(const std::vector<const gradients::DecodedDelta*>& deltas,
                                                const std::vector<std::vector<std::int64_t>>& param_shapes,
                                                double reference, MergeStats* stats) {
  const std::size_t n_params = param_shapes.size();
  std::vector<double> norms;
  for (std::size_t d = 0; d < deltas.size(); ++d) {
    for (const auto& u : deltas[d]->tensors) {
      if (u.param_index >= n_params) {
        return InvalidArgument("delta " + std::to_string(d) + " names parameter " + std::to_string(u.param_index) +
                               " of " + std::to_string(n_params));
      }
      std::int64_t numel = 1;
      for (auto s : param_shapes[u.param_index]) numel *= s;
      if (u.is_dense() ? u.dense.numel() != numel
                       : (u.flat_index.numel() != u.values.numel() ||
                          (u.flat_index.numel() > 0 &&
                           (u.flat_index.min().item<std::int64_t>() < 0 ||
                            u.flat_index.max().item<std::int64_t>() >= numel)))) {
        return InvalidArgument("delta " + std::to_string(d) + ": update of parameter " +
                               std::to_string(u.param_index) + " does not fit its shape");
      }
    }
    norms.push_back(gradients::delta_norm(*deltas[d]));
  }
  const double clip = reference > 0.0 ? reference : gradients::median(norms);
  MergeStats local;
  local.deltas = deltas.size();
  local.clip_norm = clip;

  std::vector<torch::Tensor> sums(n_params), counts(n_params);
  for (std::size_t d = 0; d < deltas.size(); ++d) {
    float scale = 1.0f;
    if (norms[d] > clip && norms[d] > 0.0) {
      scale = static_cast<float>(clip / norms[d]);
      ++local.clipped;
    }
    for (const auto& u : deltas[d]->tensors) {
      const auto i = u.param_index;
      if (!sums[i].defined()) {
        sums[i] = torch::zeros(param_shapes[i], torch::kFloat);
        counts[i] = torch::zeros(param_shapes[i], torch::kFloat);
      }
      float* s = sums[i].data_ptr<float>();
      float* c = counts[i].data_ptr<float>();
      if (u.is_dense()) {
        const torch::Tensor t = u.dense.contiguous();
        const float* v = t.data_ptr<float>();
        for (std::int64_t j = 0; j < t.numel(); ++j) {
          s[j] += scale * v[j];
          c[j] += 1.0f;
        }
      } else {
        const std::int64_t* idx = u.flat_index.data_ptr<std::int64_t>();
        const float* v = u.values.data_ptr<float>();
        for (std::int64_t j = 0; j < u.values.numel(); ++j) {
          s[idx[j]] += scale * v[j];
          c[idx[j]] += 1.0f;
        }
      }
    }
  }
  for (std::size_t i = 0; i < n_params; ++i) {
    if (!sums[i].defined()) continue;
    float* s = sums[i].data_ptr<float>();
    const float* c = counts[i].data_ptr<float>();
    for (std::int64_t j = 0; j < sums[i].numel(); ++j) {
      if (c[j] > 0.0f) {
        s[j] /= c[j];
        ++local.touched;
      }
    }
  }
  local.norms = std::move(norms);
  if (stats != nullptr) *stats = std::move(local);
  return sums;
}

}  // namespace tessera::gradients
