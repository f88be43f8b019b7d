#include "gradients/norm.h"

#include <algorithm>
#include <cmath>

#include "gradients/dispatch.h"

namespace tessera::gradients {

double delta_norm(const DecodedDelta& delta) {
  double sum = 0.0;
  for (const auto& u : delta.tensors) {
    const torch::Tensor t = to_host(u.is_dense() ? u.dense : u.values);
    const float* p = t.data_ptr<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) sum += static_cast<double>(p[i]) * p[i];
  }
  return std::sqrt(sum);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t m = values.size();
  return m % 2 == 1 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
}

double next_norm_reference(double reference, const std::vector<double>& merged_norms) {
  if (merged_norms.empty()) return 2.0 * reference;
  const double m = median(merged_norms);
  if (!(reference > 0.0)) return m;
  return std::clamp(m, 0.5 * reference, 2.0 * reference);
}

ParamGroups ParamGroups::whole(std::size_t params) { return ParamGroups{std::vector<int>(params, 0), 1}; }

std::vector<DecodedDelta> split_by_group(const DecodedDelta& delta, const ParamGroups& groups) {
  std::vector<DecodedDelta> parts(static_cast<std::size_t>(std::max(1, groups.count)));
  for (const auto& t : delta.tensors) {
    const int g = t.param_index < groups.group_of.size() ? groups.group_of[t.param_index] : 0;
    parts[static_cast<std::size_t>(std::clamp(g, 0, static_cast<int>(parts.size()) - 1))].tensors.push_back(t);
  }
  return parts;
}

std::vector<double> next_norm_references(const std::vector<double>& references,
                                         const std::vector<std::vector<double>>& merged_norms) {
  std::vector<double> out(references.size());
  for (std::size_t g = 0; g < references.size(); ++g) {
    out[g] = next_norm_reference(references[g], g < merged_norms.size() ? merged_norms[g] : std::vector<double>{});
  }
  return out;
}

namespace {

// Σ a·b of one parameter's two updates.
double tensor_dot(const TensorUpdate& a, const TensorUpdate& b) {
  double sum = 0.0;
  if (a.is_dense() && b.is_dense()) {
    const torch::Tensor x = to_host(a.dense).contiguous(), y = to_host(b.dense).contiguous();
    const float* p = x.data_ptr<float>();
    const float* q = y.data_ptr<float>();
    const std::int64_t n = std::min(x.numel(), y.numel());
    for (std::int64_t i = 0; i < n; ++i) sum += static_cast<double>(p[i]) * q[i];
    return sum;
  }
  if (a.is_dense() != b.is_dense()) {
    const TensorUpdate& d = a.is_dense() ? a : b;
    const TensorUpdate& s = a.is_dense() ? b : a;
    const torch::Tensor dense = to_host(d.dense).contiguous();
    const torch::Tensor idx = to_host(s.flat_index), val = to_host(s.values);
    const float* p = dense.data_ptr<float>();
    const std::int64_t* i = idx.data_ptr<std::int64_t>();
    const float* v = val.data_ptr<float>();
    for (std::int64_t j = 0; j < idx.numel(); ++j) {
      if (i[j] >= 0 && i[j] < dense.numel()) sum += static_cast<double>(p[i[j]]) * v[j];
    }
    return sum;
  }
  const torch::Tensor xi = to_host(a.flat_index), yi = to_host(b.flat_index);
  const torch::Tensor xv = to_host(a.values), yv = to_host(b.values);
  const std::int64_t* x = xi.data_ptr<std::int64_t>();
  const std::int64_t* y = yi.data_ptr<std::int64_t>();
  const float* u = xv.data_ptr<float>();
  const float* v = yv.data_ptr<float>();
  for (std::int64_t p = 0, q = 0; p < xi.numel() && q < yi.numel();) {
    if (x[p] < y[q]) {
      ++p;
    } else if (y[q] < x[p]) {
      ++q;
    } else {
      sum += static_cast<double>(u[p++]) * v[q++];
    }
  }
  return sum;
}

}  // namespace

double delta_cosine(const DecodedDelta& a, const DecodedDelta& b, double norm_a, double norm_b) {
  const double na = norm_a < 0.0 ? delta_norm(a) : norm_a, nb = norm_b < 0.0 ? delta_norm(b) : norm_b;
  if (!(na > 0.0) || !(nb > 0.0)) return 0.0;
  double dot = 0.0;
  std::size_t j = 0;
  for (const auto& ta : a.tensors) {
    while (j < b.tensors.size() && b.tensors[j].param_index < ta.param_index) ++j;
    if (j == b.tensors.size()) break;
    if (b.tensors[j].param_index == ta.param_index) dot += tensor_dot(ta, b.tensors[j]);
  }
  return dot / (na * nb);
}

}  // namespace tessera::gradients
