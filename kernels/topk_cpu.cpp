// Top-k per chunk without a full sort. The maxima of groups of 16 give a lower bound on
// the k-th largest magnitude: if m is the k-th largest group maximum, k values are >= m,
// so every value of the top k is >= m. Only groups whose maximum reaches m are rescanned
// (usually about k of them), and the exact selection (|v| desc, position asc) runs over
// those few candidates. Chunks are spread over OpenMP threads.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/topk.h"

namespace tessera::kernels {

namespace {

constexpr std::size_t kGroup = 16;

struct Entry {
  float mag;
  std::uint32_t pos;
};

__attribute__((target_clones("arch=x86-64-v3", "default")))
void group_maxima(const float* x, std::size_t groups, float* out) {
  for (std::size_t g = 0; g < groups; ++g) {
    float m = 0.0f;
    for (std::size_t i = 0; i < kGroup; ++i) m = std::max(m, std::fabs(x[g * kGroup + i]));
    out[g] = m;
  }
}

struct Scratch {
  std::vector<float> maxima, sorted;
  std::vector<Entry> candidates;
};

void select_chunk(const float* chunk, std::size_t len, std::size_t k, Scratch* s, std::uint32_t* positions,
                  float* values) {
  if (k == 0) return;
  auto& cand = s->candidates;
  cand.clear();
  const std::size_t groups = len / kGroup;
  if (groups >= k && groups >= 4) {
    s->maxima.resize(groups);
    group_maxima(chunk, groups, s->maxima.data());
    s->sorted = s->maxima;
    std::nth_element(s->sorted.begin(), s->sorted.begin() + static_cast<std::ptrdiff_t>(k - 1), s->sorted.end(),
                     std::greater<float>());
    const float bound = s->sorted[k - 1];
    for (std::size_t g = 0; g < groups; ++g) {
      if (s->maxima[g] < bound) continue;
      for (std::size_t i = g * kGroup; i < (g + 1) * kGroup; ++i) {
        const float m = std::fabs(chunk[i]);
        if (m >= bound) cand.push_back({m, static_cast<std::uint32_t>(i)});
      }
    }
    for (std::size_t i = groups * kGroup; i < len; ++i) {
      const float m = std::fabs(chunk[i]);
      if (m >= bound) cand.push_back({m, static_cast<std::uint32_t>(i)});
    }
  } else {
    for (std::size_t i = 0; i < len; ++i) cand.push_back({std::fabs(chunk[i]), static_cast<std::uint32_t>(i)});
  }
  if (cand.size() > k) {
    auto better = [](const Entry& a, const Entry& b) { return a.mag > b.mag || (a.mag == b.mag && a.pos < b.pos); };
    std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k - 1), cand.end(), better);
    cand.resize(k);
  }
  std::sort(cand.begin(), cand.end(), [](const Entry& a, const Entry& b) { return a.pos < b.pos; });
  for (std::size_t j = 0; j < k; ++j) {
    positions[j] = cand[j].pos;
    values[j] = chunk[cand[j].pos];
  }
}

}  // namespace

void topk_chunks_cpu(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                     const std::size_t* offsets, std::uint32_t* positions, float* values) {
  const std::size_t chunks = (n + chunk_len - 1) / chunk_len;
#pragma omp parallel if (chunks > 64)
  {
    Scratch scratch;
#pragma omp for schedule(static)
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t len = std::min(chunk_len, n - c * chunk_len);
      select_chunk(data + c * chunk_len, len, ks[c], &scratch, positions + offsets[c], values + offsets[c]);
    }
  }
}

}  // namespace tessera::kernels
