#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/topk.h"

namespace tessera::kernels {

void topk_chunks_cpu(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                     const std::size_t* offsets, std::uint32_t* positions, float* values) {
  const std::size_t chunks = (n + chunk_len - 1) / chunk_len;
#pragma omp parallel
  {
    std::vector<std::uint32_t> order;
#pragma omp for schedule(static)
    for (std::size_t c = 0; c < chunks; ++c) {
      const float* chunk = data + c * chunk_len;
      const std::size_t len = std::min(chunk_len, n - c * chunk_len);
      const std::size_t k = ks[c];
      order.resize(len);
      std::iota(order.begin(), order.end(), 0u);
      auto larger = [chunk](std::uint32_t a, std::uint32_t b) {
        const float fa = std::fabs(chunk[a]), fb = std::fabs(chunk[b]);
        return fa > fb || (fa == fb && a < b);
      };
      std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k) - 1, order.end(), larger);
      std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
      for (std::size_t i = 0; i < k; ++i) {
        positions[offsets[c] + i] = order[i];
        values[offsets[c] + i] = chunk[order[i]];
      }
    }
  }
}

}  // namespace tessera::kernels
