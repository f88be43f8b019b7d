// Top-k per chunk without a full sort. The maxima of groups of 16 give a lower bound on
// the k-th largest magnitude: if m is the k-th largest group maximum, k values are >= m,
// so every value of the top k is >= m. Only groups whose maximum reaches m are rescanned
// (usually about k of them), and the exact selection (|v| desc, position asc) runs over
// those few candidates. Chunks are spread over OpenMP threads.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels/topk.h"

namespace tessera::kernels {

namespace {

constexpr std::size_t kGroup = 16;

struct Entry {
  float mag;
  std::uint32_t pos;
};

// max |x| of each group of 16. A plain loop would be a serial chain of maxss (GCC may
// not reorder a float max reduction), so the lanes are kept explicitly.
void group_maxima(const float* x, std::size_t groups, float* out) {
#if defined(__SSE2__)
  const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
  for (std::size_t g = 0; g < groups; ++g) {
    const float* p = x + g * kGroup;
    const __m128 a = _mm_and_ps(_mm_loadu_ps(p), abs_mask), b = _mm_and_ps(_mm_loadu_ps(p + 4), abs_mask);
    const __m128 c = _mm_and_ps(_mm_loadu_ps(p + 8), abs_mask), d = _mm_and_ps(_mm_loadu_ps(p + 12), abs_mask);
    __m128 m = _mm_max_ps(_mm_max_ps(a, b), _mm_max_ps(c, d));
    m = _mm_max_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
    out[g] = _mm_cvtss_f32(m);
  }
#else
  for (std::size_t g = 0; g < groups; ++g) {
    float lanes[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < kGroup; ++i) lanes[i % 4] = std::max(lanes[i % 4], std::fabs(x[g * kGroup + i]));
    out[g] = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
  }
#endif
}

struct Scratch {
  std::vector<float> maxima, sample;
  std::vector<Entry> candidates, ties;
};

std::size_t count_at_least(const float* v, std::size_t n, float t) {
  std::size_t count = 0, i = 0;
#if defined(__SSE2__)
  // Bits set in a 4-bit mask (x86-64 baseline has no popcnt instruction).
  static constexpr std::uint8_t kBits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
  const __m128 tv = _mm_set1_ps(t);
  for (; i + 4 <= n; i += 4) count += kBits[_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(v + i), tv))];
#endif
  for (; i < n; ++i) count += v[i] >= t ? 1 : 0;
  return count;
}

// A lower bound on the k-th largest of `maxima` that is as tight as cheaply possible:
// the largest value of an evenly spaced sample (sorted) with at least k maxima >= it.
// Exact nth_element on the sample only; counting runs over all maxima (vectorised).
float maxima_bound(const std::vector<float>& maxima, std::size_t k, std::vector<float>* sample) {
  const std::size_t g = maxima.size();
  constexpr std::size_t kSample = 32;
  if (g <= 2 * kSample) {
    *sample = maxima;
    std::nth_element(sample->begin(), sample->begin() + static_cast<std::ptrdiff_t>(k - 1), sample->end(),
                     std::greater<float>());
    return (*sample)[k - 1];
  }
  sample->clear();
  for (std::size_t i = 0; i < kSample; ++i) sample->push_back(maxima[i * g / kSample]);
  std::sort(sample->begin(), sample->end(), std::greater<float>());
  // Binary search for the smallest sample index whose value still has >= k maxima above.
  std::size_t lo = 0, hi = kSample - 1;
  if (count_at_least(maxima.data(), g, (*sample)[hi]) < k) return 0.0f;  // fall back: everything qualifies
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (count_at_least(maxima.data(), g, (*sample)[mid]) >= k) hi = mid;
    else lo = mid + 1;
  }
  return (*sample)[lo];
}

void select_chunk(const float* chunk, std::size_t len, std::size_t k, Scratch* s, std::uint32_t* positions,
                  float* values) {
  if (k == 0) return;
  auto& cand = s->candidates;
  auto& ties = s->ties;
  cand.clear();
  ties.clear();
  const std::size_t groups = len / kGroup;
  // Values above the bound are candidates; values equal to it only matter in position
  // order, so at most k of them are kept (this keeps all-zero chunks cheap).
  auto visit = [&](std::size_t i, float bound) {
    const float m = std::fabs(chunk[i]);
    if (m > bound) cand.push_back({m, static_cast<std::uint32_t>(i)});
    else if (m == bound && ties.size() < k) ties.push_back({m, static_cast<std::uint32_t>(i)});
  };
  if (groups >= k && groups >= 4) {
    s->maxima.resize(groups);
    group_maxima(chunk, groups, s->maxima.data());
    float bound = maxima_bound(s->maxima, k, &s->sample);
    // Tighten to the exact k-th largest group maximum: only the maxima at or above the
    // sampled bound can be it, usually a little over k of them.
    auto& top = s->sample;
    top.clear();
    for (float m : s->maxima) {
      if (m >= bound) top.push_back(m);
    }
    if (top.size() > k) {
      std::nth_element(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(k - 1), top.end(), std::greater<float>());
      bound = top[k - 1];
    }
#if defined(__SSE2__)
    const __m128 b = _mm_set1_ps(bound);
    const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
#endif
    for (std::size_t g = 0; g < groups; ++g) {
      if (s->maxima[g] < bound) continue;
#if defined(__SSE2__)
      unsigned gt = 0, eq = 0;
      for (unsigned q = 0; q < 4; ++q) {
        const __m128 v = _mm_and_ps(_mm_loadu_ps(chunk + g * kGroup + 4 * q), abs_mask);
        gt |= static_cast<unsigned>(_mm_movemask_ps(_mm_cmpgt_ps(v, b))) << (4 * q);
        eq |= static_cast<unsigned>(_mm_movemask_ps(_mm_cmpeq_ps(v, b))) << (4 * q);
      }
      for (unsigned bits = gt | eq; bits != 0; bits &= bits - 1) {
        const unsigned j = static_cast<unsigned>(__builtin_ctz(bits));
        const auto i = static_cast<std::uint32_t>(g * kGroup + j);
        if (gt >> j & 1u) cand.push_back({std::fabs(chunk[i]), i});
        else if (ties.size() < k) ties.push_back({bound, i});
      }
#else
      for (std::size_t i = g * kGroup; i < (g + 1) * kGroup; ++i) visit(i, bound);
#endif
    }
    for (std::size_t i = groups * kGroup; i < len; ++i) visit(i, bound);
  } else {
    for (std::size_t i = 0; i < len; ++i) cand.push_back({std::fabs(chunk[i]), static_cast<std::uint32_t>(i)});
  }
  // `cand` and `ties` are in position order.
  if (cand.size() < k) {
    // All values above the bound are in; the lowest positions among the ties fill up.
    const std::size_t need = std::min(k - cand.size(), ties.size());
    const std::size_t mid = cand.size();
    cand.insert(cand.end(), ties.begin(), ties.begin() + static_cast<std::ptrdiff_t>(need));
    std::inplace_merge(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(mid), cand.end(),
                       [](const Entry& a, const Entry& b) { return a.pos < b.pos; });
  }
  if (cand.size() > k) {
    // The k-th largest magnitude t; keep everything above t and the first of those equal
    // to t, walking in position order so the output stays sorted.
    auto& mags = s->sample;
    mags.clear();
    for (const auto& e : cand) mags.push_back(e.mag);
    std::nth_element(mags.begin(), mags.begin() + static_cast<std::ptrdiff_t>(k - 1), mags.end(), std::greater<float>());
    const float t = mags[k - 1];
    std::size_t above = 0;
    for (const auto& e : cand) above += e.mag > t ? 1 : 0;
    std::size_t equal_left = k - above, out = 0;
    for (const auto& e : cand) {
      if (e.mag > t || (e.mag == t && equal_left > 0)) {
        if (e.mag == t) --equal_left;
        positions[out] = e.pos;
        values[out] = chunk[e.pos];
        ++out;
      }
    }
    return;
  }
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
