#include "gradients/merge.h"

#include "gradients/norm.h"

#include <algorithm>
#include <cmath>

namespace tessera::gradients {

Result<std::vector<torch::Tensor>> merge_deltas(const std::vector<const gradients::DecodedDelta*>& deltas,
                                                const std::vector<std::vector<std::int64_t>>& param_shapes,
                                                double reference, MergeStats* stats) {
  return merge_deltas(deltas, param_shapes, ParamGroups::whole(param_shapes.size()), {reference}, stats);
}

Result<std::vector<torch::Tensor>> merge_deltas(const std::vector<const gradients::DecodedDelta*>& deltas,
                                                const std::vector<std::vector<std::int64_t>>& param_shapes,
                                                const ParamGroups& groups, const std::vector<double>& references,
                                                MergeStats* stats) {
  const std::size_t n_params = param_shapes.size();
  const auto n_groups = static_cast<std::size_t>(std::max(1, groups.count));
  if (groups.group_of.size() != n_params || references.size() != n_groups) {
    return InvalidArgument("merge: " + std::to_string(groups.group_of.size()) + " group entries and " +
                           std::to_string(references.size()) + " references for " + std::to_string(n_params) +
                           " parameters in " + std::to_string(n_groups) + " groups");
  }
  for (int g : groups.group_of) {
    if (g < 0 || static_cast<std::size_t>(g) >= n_groups) return InvalidArgument("merge: group " + std::to_string(g) + " out of range");
  }
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
  MergeStats local;
  local.deltas = deltas.size();
  local.group_norms.assign(n_groups, {});
  local.group_deltas.assign(n_groups, 0);
  // part_norm[d][g]: the L2 norm of delta d's part in group g (with one group, the whole).
  std::vector<std::vector<double>> part_norm(deltas.size(), std::vector<double>(n_groups, 0.0));
  // With one group every delta counts in it (an empty one too, as before groups existed);
  // otherwise a delta counts in the groups its parts touch.
  for (std::size_t d = 0; d < deltas.size(); ++d) {
    const auto parts = groups.one() ? std::vector<DecodedDelta>{} : split_by_group(*deltas[d], groups);
    for (std::size_t g = 0; g < n_groups; ++g) {
      if (!groups.one() && parts[g].tensors.empty()) continue;
      part_norm[d][g] = groups.one() ? norms[d] : gradients::delta_norm(parts[g]);
      local.group_norms[g].push_back(part_norm[d][g]);
      ++local.group_deltas[g];
    }
  }
  for (std::size_t g = 0; g < n_groups; ++g) {
    local.clip_norms.push_back(references[g] > 0.0 ? references[g] : gradients::median(local.group_norms[g]));
  }
  local.clip_norm = local.clip_norms[0];

  std::vector<torch::Tensor> sums(n_params), counts(n_params);
  for (std::size_t d = 0; d < deltas.size(); ++d) {
    std::vector<double>& scales = local.scales.emplace_back(n_groups, 1.0);
    bool clipped = false;
    for (std::size_t g = 0; g < n_groups; ++g) {
      const double clip = local.clip_norms[g];
      if (part_norm[d][g] > clip && part_norm[d][g] > 0.0) {
        scales[g] = clip / part_norm[d][g];
        clipped = true;
      }
    }
    if (clipped) ++local.clipped;
    for (const auto& u : deltas[d]->tensors) {
      const auto i = u.param_index;
      const auto scale = static_cast<float>(scales[static_cast<std::size_t>(groups.group_of[i])]);
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
