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

}  // namespace tessera::gradients
