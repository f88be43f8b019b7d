// Top-k per chunk without a full sort. The maxima of groups of 16 give a lower bound on
// the k-th largest magnitude: if k group maxima are >= m, k values are >= m, so every
// value of the top k is >= m. m is the exact k-th largest group maximum (a histogram of
// the maxima's bits, then a selection inside one bucket); only groups whose maximum
// reaches m are rescanned (a little over k of them), and the exact selection (|v| desc,
// position asc) runs over those few candidates.
//
// A chunk is read in place as rows of a matrix — a 2-D block with the tensor's row
// stride, or a 1-D chunk as one row — each row cut into groups of 16 and a tail. The
// group-maxima pass also detects infinities and NaNs, so the encoder needs no separate
// pass over the delta. Large calls spread chunks over OpenMP threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/numeric.h"
#include "kernels/parallel.h"
#include "kernels/topk.h"
#include "kernels/topk_detail.h"

namespace tessera::kernels {

namespace {

constexpr std::size_t kGroup = 16;

struct Entry {
  float mag;
  std::uint32_t pos;
  float value;
};

// max |x| of each group of 16, and the largest of them. Non-negative floats
// order like their bit patterns, so the maxima are integer maxima of the bits with the
// sign cleared; an infinity or NaN then shows as a maximum >= 0x7f800000, so the
// finiteness check costs nothing extra (the encoder needs it and would otherwise read
// the whole delta once more). AVX2 or SSE4.1 when the CPU has them, else a portable loop.
constexpr std::uint32_t kNonFinite = 0x7f800000u;

#if defined(__x86_64__)
__attribute__((target("sse4.1"))) std::uint32_t group_maxima_sse41(const float* x, std::size_t groups, float* out) {
  const __m128i abs_mask = _mm_set1_epi32(0x7fffffff);
  __m128i top = _mm_setzero_si128();
  for (std::size_t g = 0; g < groups; ++g) {
    const auto* p = reinterpret_cast<const __m128i*>(x + g * kGroup);
    const __m128i a = _mm_and_si128(_mm_loadu_si128(p), abs_mask), b = _mm_and_si128(_mm_loadu_si128(p + 1), abs_mask);
    const __m128i c = _mm_and_si128(_mm_loadu_si128(p + 2), abs_mask), d = _mm_and_si128(_mm_loadu_si128(p + 3), abs_mask);
    __m128i m = _mm_max_epi32(_mm_max_epi32(a, b), _mm_max_epi32(c, d));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    top = _mm_max_epi32(top, m);
    out[g] = bits_float(static_cast<std::uint32_t>(_mm_cvtsi128_si32(m)));
  }
  return static_cast<std::uint32_t>(_mm_cvtsi128_si32(top));
}
const bool kHaveSse41 = __builtin_cpu_supports("sse4.1");

// Two groups per step: each group's 16 values fold to 8 lanes, the two groups' halves are
// paired across the 128-bit lanes, and the last two folds serve both groups at once.
__attribute__((target("avx2"))) std::uint32_t group_maxima_avx2(const float* x, std::size_t groups, float* out) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
  __m256i top = _mm256_setzero_si256();
  std::size_t g = 0;
  for (; g + 2 <= groups; g += 2) {
    const auto* p = reinterpret_cast<const __m256i*>(x + g * kGroup);
    const __m256i a = _mm256_max_epi32(_mm256_and_si256(_mm256_loadu_si256(p), abs_mask),
                                       _mm256_and_si256(_mm256_loadu_si256(p + 1), abs_mask));
    const __m256i b = _mm256_max_epi32(_mm256_and_si256(_mm256_loadu_si256(p + 2), abs_mask),
                                       _mm256_and_si256(_mm256_loadu_si256(p + 3), abs_mask));
    __m256i m = _mm256_max_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
    m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    top = _mm256_max_epi32(top, m);
    out[g] = bits_float(static_cast<std::uint32_t>(_mm256_extract_epi32(m, 0)));
    out[g + 1] = bits_float(static_cast<std::uint32_t>(_mm256_extract_epi32(m, 4)));
  }
  std::uint32_t result = std::max(static_cast<std::uint32_t>(_mm256_extract_epi32(top, 0)),
                                  static_cast<std::uint32_t>(_mm256_extract_epi32(top, 4)));
  if (g < groups) result = std::max(result, group_maxima_sse41(x + g * kGroup, groups - g, out + g));
  return result;
}
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif

std::uint32_t group_maxima_portable(const float* x, std::size_t groups, float* out) {
  std::uint32_t top = 0;
  for (std::size_t g = 0; g < groups; ++g) {
    std::uint32_t lanes[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < kGroup; ++i) lanes[i % 4] = std::max(lanes[i % 4], float_bits(x[g * kGroup + i]) & 0x7fffffffu);
    const std::uint32_t m = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
    top = std::max(top, m);
    out[g] = bits_float(m);
  }
  return top;
}

// Returns the bits of the largest maximum (>= kNonFinite: not every value is finite).
std::uint32_t group_maxima(const float* x, std::size_t groups, float* out) {
#if defined(__x86_64__)
  if (kHaveAvx2) return group_maxima_avx2(x, groups, out);
  if (kHaveSse41) return group_maxima_sse41(x, groups, out);
#endif
  return group_maxima_portable(x, groups, out);
}

bool finite_values(const float* x, std::size_t n) {
  std::uint32_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad |= static_cast<std::uint32_t>((float_bits(x[i]) & 0x7fffffffu) >= kNonFinite);
  return bad == 0;
}

// What a chunk with a non-finite value yields: defined output (positions 0..k-1, zero
// values), which the caller discards.
bool reject_chunk(std::size_t k, std::uint32_t* positions, float* values) {
  for (std::size_t j = 0; j < k; ++j) {
    positions[j] = static_cast<std::uint32_t>(j);
    values[j] = 0.0f;
  }
  return false;
}

// Scratch that only grows: resizing down and up again would zero-fill every chunk.
template <class T>
T* grow(std::vector<T>* v, std::size_t n) {
  if (v->size() < n) v->resize(n);
  return v->data();
}

struct Scratch {
  std::vector<float> maxima, kept, band;
  std::vector<std::uint64_t> mask;
  std::vector<Entry> candidates;
};

// The selection below avoids data-dependent branches where it can (which maxima fall in a
// bucket, which candidates stay): they would follow random data and mispredict. Appends
// write unconditionally and advance by a 0/1 count.

// One round of a k-th largest search over non-negative finite floats (they order like
// their bits): histograms src[0..n) into 64 buckets by `bucket_of` (order-preserving,
// 0..63), finds the bucket holding the *need-th largest, and copies its members to dst
// (dst may be src: compaction in place). Returns their count; *need becomes the rank
// inside that bucket. The histogram is two interleaved ones: values often share a
// bucket, and one array would make every increment wait for the previous one.
template <class BucketOf>
std::size_t keep_bucket(const float* src, std::size_t n, std::size_t* need, const BucketOf& bucket_of, float* dst) {
  std::uint32_t counts[2][64] = {};
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    ++counts[0][bucket_of(src[i])];
    ++counts[1][bucket_of(src[i + 1])];
  }
  if (i < n) ++counts[0][bucket_of(src[i])];
  std::uint32_t bucket = 63;
  std::size_t above = 0;
  for (;; --bucket) {  // ends at bucket 0 at the latest, as *need <= n
    const std::size_t here = counts[0][bucket] + counts[1][bucket];
    if (above + here >= *need) break;
    above += here;
  }
  *need -= above;
  std::size_t kept = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const float x = src[j];
    dst[kept] = x;
    kept += bucket_of(x) == bucket ? 1 : 0;
  }
  return kept;
}

// The `need`-th largest (1 <= need <= n) of v[0..n), non-negative finite floats; v is
// reordered. Each round spreads the bits' span over the 64 buckets and keeps the one
// holding the answer, so the span shrinks 64-fold per round; a dozen values or fewer are
// settled by pairwise counts: the answer is the smallest value with fewer than `need`
// values above it.
float kth_largest(float* v, std::size_t n, std::size_t need) {
  for (;;) {
    if (n <= 12) {
      float t = INFINITY;
      for (std::size_t i = 0; i < n; ++i) {
        std::size_t above = 0;
        for (std::size_t j = 0; j < n; ++j) above += v[j] > v[i] ? 1 : 0;
        t = above < need && v[i] < t ? v[i] : t;
      }
      return t;
    }
    std::uint32_t lo = ~0u, hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
      lo = std::min(lo, float_bits(v[i]));
      hi = std::max(hi, float_bits(v[i]));
    }
    if (lo == hi) return v[0];
    const std::uint32_t span = hi - lo;
    const unsigned shift = span >> 6 ? 32u - static_cast<unsigned>(__builtin_clz(span >> 6)) : 0u;
    n = keep_bucket(v, n, &need, [lo, shift](float x) { return (float_bits(x) - lo) >> shift; }, v);
  }
}

// The bound m: the k-th largest group maximum (0 when there are fewer than k groups:
// every value is then a candidate). A first round buckets the maxima by their bits (8
// buckets per binade over the 8 binades below the largest, everything lower in bucket 0);
// kth_largest settles the rest among the members of the bucket holding it.
float maxima_bound(const float* maxima, std::size_t n, std::uint32_t top, std::size_t k, std::vector<float>* in_bucket) {
  if (n < k) return 0.0f;
  constexpr unsigned kShift = 20, kBuckets = 64;
  const std::uint32_t key_hi = top >> kShift;
  const std::int32_t key_lo = static_cast<std::int32_t>(key_hi >= kBuckets - 1 ? key_hi - (kBuckets - 1) : 0);
  auto bucket_of = [key_lo](float m) {
    const std::int32_t d = static_cast<std::int32_t>(float_bits(m) >> kShift) - key_lo;
    return static_cast<std::uint32_t>(d & ~(d >> 31));  // max(d, 0)
  };
  std::size_t need = k;
  const std::size_t count = keep_bucket(maxima, n, &need, bucket_of, grow(in_bucket, n));
  return kth_largest(in_bucket->data(), count, need);
}

// Marks in `mask` (64 groups per word) the groups whose maximum reaches the bound.
void candidate_groups(const float* maxima, std::size_t n, float bound, std::vector<std::uint64_t>* mask) {
  std::uint64_t* words = grow(mask, (n + 63) / 64);
  std::size_t g = 0;
#if defined(__SSE2__)
  const __m128 b = _mm_set1_ps(bound);
#endif
  for (std::size_t w = 0; w < (n + 63) / 64; ++w) {
    std::uint64_t bits = 0;
    const std::size_t end = std::min(n, (w + 1) * 64);
#if defined(__SSE2__)
    for (; g + 4 <= end; g += 4) {
      bits |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(maxima + g), b))) << (g % 64);
    }
#endif
    for (; g < end; ++g) bits |= static_cast<std::uint64_t>(maxima[g] >= bound) << (g % 64);
    words[w] = bits;
  }
}

// The k entries of cand[0..n) (position order; n >= k) with the largest magnitudes, ties
// to the lower position, written in position order.
void finish_selection(const Entry* cand, std::size_t n, std::size_t k, Scratch* s, std::uint32_t* positions,
                      float* values) {
  if (n == k) {
    for (std::size_t j = 0; j < k; ++j) {
      positions[j] = cand[j].pos;
      values[j] = cand[j].value;
    }
    return;
  }
  // The k-th largest magnitude t; then everything above t is kept, and of those equal
  // to t the first ones in position order.
  float* mags = grow(&s->kept, n);
  for (std::size_t i = 0; i < n; ++i) mags[i] = cand[i].mag;
  const float t = kth_largest(mags, n, k);
  std::size_t above = 0;
  for (std::size_t i = 0; i < n; ++i) above += cand[i].mag > t ? 1 : 0;
  // Output slot `out` may run one past k while skipping: written to a spare slot, never
  // past this chunk's k outputs.
  std::size_t equal_left = k - above, out = 0;
  std::uint32_t spare_pos;
  float spare_value;
  for (std::size_t i = 0; i < n; ++i) {
    const float m = cand[i].mag;
    const bool equal = m == t;
    const bool keep = (m > t) | (equal & (equal_left > 0));
    equal_left -= equal & keep ? 1 : 0;
    std::uint32_t* pos_slot = out < k ? positions + out : &spare_pos;
    float* value_slot = out < k ? values + out : &spare_value;
    *pos_slot = cand[i].pos;
    *value_slot = cand[i].value;
    out += keep ? 1 : 0;
  }
}

// The selection once the chunk's group maxima (maxima[r * (cols / 16) + q]) and the bits
// of the largest (`top`) are known. Tails of cols % 16 values are scanned here.
bool select_with_maxima(const float* base, std::size_t stride, std::size_t rows, std::size_t cols, std::size_t k,
                        const float* maxima, std::uint32_t top, Scratch* s, std::uint32_t* positions, float* values) {
  const std::size_t per_row = cols / kGroup, tail = cols % kGroup;
  const std::size_t groups = rows * per_row;
  if (top >= kNonFinite) return reject_chunk(k, positions, values);
  if (k == 0) return true;
  const float bound = maxima_bound(maxima, groups, top, k, &s->kept);
  candidate_groups(maxima, groups, bound, &s->mask);
  // Candidates: values above the bound, and values equal to it while fewer than k of
  // those were seen (only the first k in position order can be chosen; this keeps
  // all-zero chunks cheap). Position order throughout. At most rows · cols entries.
  Entry* cand = grow(&s->candidates, rows * cols + kGroup);
  std::size_t n = 0, ties = 0;
  auto visit = [&](float v, std::uint32_t pos) {
    const float m = std::fabs(v);
    const bool equal = m == bound;
    const bool take = (m > bound) | (equal & (ties < k));
    ties += equal & take ? 1 : 0;
    cand[n] = {m, pos, v};
    n += take ? 1 : 0;
  };
#if defined(__SSE2__)
  const __m128 b = _mm_set1_ps(bound);
  const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
#endif
  const Divider row_of(std::max<std::size_t>(per_row, 1), groups);  // g / per_row, without a division per group
  auto scan_group = [&](std::size_t g) {
    const std::size_t r = row_of(g);
    const std::size_t q = g - r * per_row;
    const float* p = base + r * stride + q * kGroup;
    const auto pos0 = static_cast<std::uint32_t>(r * cols + q * kGroup);
#if defined(__SSE2__)
    // Only the values at or above the bound (usually one or two of 16) are visited.
    unsigned reach = 0;
    for (unsigned h = 0; h < 4; ++h) {
      const __m128 v = _mm_and_ps(_mm_loadu_ps(p + 4 * h), abs_mask);
      reach |= static_cast<unsigned>(_mm_movemask_ps(_mm_cmpge_ps(v, b))) << (4 * h);
    }
    for (; reach != 0; reach &= reach - 1) {
      const unsigned j = static_cast<unsigned>(__builtin_ctz(reach));
      visit(p[j], pos0 + j);
    }
#else
    for (unsigned j = 0; j < kGroup; ++j) visit(p[j], pos0 + j);
#endif
  };
  const auto& mask = s->mask;
  if (tail == 0) {
    // Groups in index order are in position order.
    for (std::size_t w = 0; w < (groups + 63) / 64; ++w) {
      for (std::uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
        scan_group(w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits)));
      }
    }
  } else {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t q = 0; q < per_row; ++q) {
        const std::size_t g = r * per_row + q;
        if (mask[g / 64] >> (g % 64) & 1u) scan_group(g);
      }
      const auto row_pos = static_cast<std::uint32_t>(r * cols);
      for (std::size_t j = per_row * kGroup; j < cols; ++j) visit(base[r * stride + j], row_pos + static_cast<std::uint32_t>(j));
    }
  }
  finish_selection(cand, n, k, s, positions, values);
  return true;
}

// Top k of a chunk viewed as a rows × cols matrix at `base` with row stride `stride`
// (a 2-D block in place, or a 1-D chunk as one row); the chunk-local position of (r, j)
// is r·cols + j. Each row is cut into groups of 16 and a tail of cols % 16 values, which
// is always scanned. Returns false (and defined output) when a value is not finite.
bool select_matrix(const float* base, std::size_t stride, std::size_t rows, std::size_t cols, std::size_t k,
                   Scratch* s, std::uint32_t* positions, float* values) {
  const std::size_t per_row = cols / kGroup, tail = cols % kGroup;
  const std::size_t groups = rows * per_row;
  float* maxima = grow(&s->maxima, groups);
  bool finite = true;
  std::uint32_t top = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    top = std::max(top, group_maxima(base + r * stride, per_row, maxima + r * per_row));
    if (tail) finite &= finite_values(base + r * stride + per_row * kGroup, tail);
  }
  if (!finite) return reject_chunk(k, positions, values);
  return select_with_maxima(base, stride, rows, cols, k, maxima, top, s, positions, values);
}

// The calling thread's scratch, reused from call to call.
Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Runs select(c, scratch) → "all finite" for every chunk c: on the calling thread with
// its reused scratch unless the work is worth OpenMP threads (kernels/parallel.h).
template <class Select>
bool for_each_chunk(std::size_t chunks, const Select& select) {
  if (!detail::worth_threads(chunks, 64)) {
    Scratch& scratch = thread_scratch();
    bool finite = true;
    for (std::size_t c = 0; c < chunks; ++c) finite &= select(c, &scratch);
    return finite;
  }
  int bad = 0;
#pragma omp parallel
  {
    Scratch local;
#pragma omp for schedule(static) reduction(| : bad)
    for (std::size_t c = 0; c < chunks; ++c) bad |= select(c, &local) ? 0 : 1;
  }
  return bad == 0;
}

}  // namespace

namespace detail {

bool maxima_isa_available(MaximaIsa isa) {
  switch (isa) {
    case MaximaIsa::kPortable: return true;
#if defined(__x86_64__)
    case MaximaIsa::kSse41: return kHaveSse41;
    case MaximaIsa::kAvx2: return kHaveAvx2 && kHaveSse41;
#else
    default: return false;
#endif
  }
  return false;
}

std::uint32_t group_maxima_with(MaximaIsa isa, const float* x, std::size_t groups, float* out) {
#if defined(__x86_64__)
  if (isa == MaximaIsa::kAvx2 && maxima_isa_available(isa)) return group_maxima_avx2(x, groups, out);
  if (isa == MaximaIsa::kSse41 && maxima_isa_available(isa)) return group_maxima_sse41(x, groups, out);
#endif
  (void)isa;
  return group_maxima_portable(x, groups, out);
}

}  // namespace detail

void topk_chunks_cpu(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                     const std::size_t* offsets, std::uint32_t* positions, float* values, bool* all_finite) {
  const std::size_t chunks = (n + chunk_len - 1) / chunk_len;
  const bool finite = for_each_chunk(chunks, [&](std::size_t c, Scratch* scratch) {
    const std::size_t len = std::min(chunk_len, n - c * chunk_len);
    return select_matrix(data + c * chunk_len, len, 1, len, ks[c], scratch, positions + offsets[c], values + offsets[c]);
  });
  if (all_finite) *all_finite = finite;
}

void topk_blocks_cpu(const float* data, std::size_t rows, std::size_t cols, std::size_t block_rows,
                     std::size_t block_cols, const std::uint32_t* ks, const std::size_t* offsets,
                     std::uint32_t* positions, float* values, bool* all_finite) {
  const std::size_t per_row = cols / block_cols;
  const std::size_t chunks = (rows / block_rows) * per_row;
  if (block_cols % kGroup == 0 && !detail::worth_threads(chunks, 64)) {
    // One thread: the group maxima of a whole band of blocks come from one sequential pass
    // over its rows (the block-by-block walk jumps a row stride every 64 values), then
    // each block is selected from its share of them.
    Scratch& scratch = thread_scratch();
    const std::size_t row_groups = cols / kGroup, block_groups = block_cols / kGroup;
    float* band = grow(&scratch.band, block_rows * row_groups);
    bool finite = true;
    for (std::size_t b = 0; b < rows / block_rows; ++b) {
      const float* band_base = data + b * block_rows * cols;
      for (std::size_t r = 0; r < block_rows; ++r) group_maxima(band_base + r * cols, row_groups, band + r * row_groups);
      for (std::size_t q = 0; q < per_row; ++q) {
        const std::size_t c = b * per_row + q;
        float* maxima = grow(&scratch.maxima, block_rows * block_groups);
        std::uint32_t top = 0;
        for (std::size_t r = 0; r < block_rows; ++r) {
          const float* from = band + r * row_groups + q * block_groups;
          for (std::size_t j = 0; j < block_groups; ++j) {
            top = std::max(top, float_bits(from[j]));
            maxima[r * block_groups + j] = from[j];
          }
        }
        finite &= select_with_maxima(band_base + q * block_cols, cols, block_rows, block_cols, ks[c], maxima, top,
                                     &scratch, positions + offsets[c], values + offsets[c]);
      }
    }
    if (all_finite) *all_finite = finite;
    return;
  }
  const bool finite = for_each_chunk(chunks, [&](std::size_t c, Scratch* scratch) {
    const float* first = data + (c / per_row) * block_rows * cols + (c % per_row) * block_cols;
    return select_matrix(first, cols, block_rows, block_cols, ks[c], scratch, positions + offsets[c], values + offsets[c]);
  });
  if (all_finite) *all_finite = finite;
}

}  // namespace tessera::kernels
