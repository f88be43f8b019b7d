#include <cmath>
#include <limits>

#include "kernels/cross_entropy.h"

namespace tessera::kernels {

bool cross_entropy_sum_cpu(const float* logits, const std::int64_t* targets, std::size_t rows, std::size_t vocab,
                           float* row_loss, double* sum) {
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = logits + r * vocab;
    const std::int64_t t = targets[r];
    if (t < 0 || static_cast<std::size_t>(t) >= vocab) return false;
    float m = -std::numeric_limits<float>::infinity();
    for (std::size_t v = 0; v < vocab; ++v) m = x[v] > m ? x[v] : m;
    double s = 0.0;
    for (std::size_t v = 0; v < vocab; ++v) s += std::exp(static_cast<double>(x[v] - m));
    const double loss = static_cast<double>(m) + std::log(s) - static_cast<double>(x[t]);
    if (row_loss != nullptr) row_loss[r] = static_cast<float>(loss);
    total += loss;
  }
  *sum = total;
  return true;
}

}  // namespace tessera::kernels
