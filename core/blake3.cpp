#include "core/blake3.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera {
namespace {

constexpr std::uint32_t kIv[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                                  0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};
constexpr std::uint32_t kChunkStart = 1, kChunkEnd = 2, kParent = 4, kRoot = 8;
constexpr std::size_t kBlockLen = 64, kChunkLen = kBlake3ChunkBytes, kSubtree = 64;
// Message word order of each of the 7 rounds (the permutation applied repeatedly).
constexpr std::uint8_t kSchedule[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1}, {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4}, {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13}};

inline std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
inline std::uint32_t load32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian host (x86-64, aarch64)
  return v;
}

// The seven rounds over state s with message words m, for one block (W = uint32) or
// eight (W = __m256i); `g` is the quarter-round for that word type. Always inlined, so
// the eight-lane instance compiles inside its AVX2 function.
template <class W, class G>
__attribute__((always_inline)) inline void rounds(W* s, const W* m, const G& g) {
#pragma GCC unroll 7
  for (const auto& r : kSchedule) {
    g(s, 0, 4, 8, 12, m[r[0]], m[r[1]]);
    g(s, 1, 5, 9, 13, m[r[2]], m[r[3]]);
    g(s, 2, 6, 10, 14, m[r[4]], m[r[5]]);
    g(s, 3, 7, 11, 15, m[r[6]], m[r[7]]);
    g(s, 0, 5, 10, 15, m[r[8]], m[r[9]]);
    g(s, 1, 6, 11, 12, m[r[10]], m[r[11]]);
    g(s, 2, 7, 8, 13, m[r[12]], m[r[13]]);
    g(s, 3, 4, 9, 14, m[r[14]], m[r[15]]);
  }
}

inline void g(std::uint32_t* s, int a, int b, int c, int d, std::uint32_t mx, std::uint32_t my) {
  s[a] = s[a] + s[b] + mx;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] + my;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 7);
}

// The compression function; out gets all 16 words (the first 8 are the chaining value).
void compress(const std::uint32_t cv[8], const std::uint8_t block[64], std::uint64_t counter, std::uint32_t len,
              std::uint32_t flags, std::uint32_t out[16]) {
  std::uint32_t m[16];
  for (int i = 0; i < 16; ++i) m[i] = load32(block + 4 * i);
  std::uint32_t s[16] = {cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7], kIv[0], kIv[1], kIv[2], kIv[3],
                         static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), len, flags};
  rounds(s, m, g);
  for (int i = 0; i < 8; ++i) {
    out[i] = s[i] ^ s[i + 8];
    out[i + 8] = s[i + 8] ^ cv[i];
  }
}

void compress_cv(std::uint32_t cv[8], const std::uint8_t block[64], std::uint64_t counter, std::uint32_t len,
                 std::uint32_t flags) {
  std::uint32_t out[16];
  compress(cv, block, counter, len, flags, out);
  std::memcpy(cv, out, 32);
}

void parent_cv(const std::uint32_t left[8], const std::uint32_t right[8], std::uint32_t flags, std::uint32_t out[8]) {
  std::uint8_t block[64];
  std::memcpy(block, left, 32);
  std::memcpy(block + 32, right, 32);
  std::memcpy(out, kIv, 32);
  compress_cv(out, block, 0, 64, kParent | flags);
}

void chunk_portable(const std::uint8_t* chunk, std::uint64_t counter, std::uint32_t out[8]) {
  std::memcpy(out, kIv, 32);
  for (std::size_t b = 0; b < kChunkLen / kBlockLen; ++b) {
    const std::uint32_t flags = (b == 0 ? kChunkStart : 0) | (b == kChunkLen / kBlockLen - 1 ? kChunkEnd : 0);
    compress_cv(out, chunk + b * kBlockLen, counter, kBlockLen, flags);
  }
}

#if defined(__x86_64__)
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");

#define T3_AVX2 __attribute__((target("avx2")))

T3_AVX2 inline __m256i add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
T3_AVX2 inline __m256i rot16(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9,
                                                8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
T3_AVX2 inline __m256i rot8(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1, 12, 15, 14, 13, 8,
                                                11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
T3_AVX2 inline __m256i rot12(__m256i x) { return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20)); }
T3_AVX2 inline __m256i rot7(__m256i x) { return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25)); }

T3_AVX2 inline void g8(__m256i* s, int a, int b, int c, int d, __m256i mx, __m256i my) {
  s[a] = add(add(s[a], s[b]), mx);
  s[d] = rot16(_mm256_xor_si256(s[d], s[a]));
  s[c] = add(s[c], s[d]);
  s[b] = rot12(_mm256_xor_si256(s[b], s[c]));
  s[a] = add(add(s[a], s[b]), my);
  s[d] = rot8(_mm256_xor_si256(s[d], s[a]));
  s[c] = add(s[c], s[d]);
  s[b] = rot7(_mm256_xor_si256(s[b], s[c]));
}

// rows[j] = words 0..7 of lane j → out[i] = word i of lanes 0..7.
T3_AVX2 inline void transpose8(const __m256i* rows, __m256i* out) {
  __m256i t[8], u[8];
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_epi32(rows[2 * k], rows[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_epi32(rows[2 * k], rows[2 * k + 1]);
  }
  for (int k = 0; k < 2; ++k) {
    u[4 * k + 0] = _mm256_unpacklo_epi64(t[4 * k + 0], t[4 * k + 2]);
    u[4 * k + 1] = _mm256_unpackhi_epi64(t[4 * k + 0], t[4 * k + 2]);
    u[4 * k + 2] = _mm256_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm256_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    out[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
    out[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
  }
}

// Eight inputs at data, data + stride, ... of `blocks` 64-byte blocks each, compressed
// in parallel (lane j of every vector belongs to input j): whole chunks (stride 1024, 16
// blocks, counters counter .. counter + 7) or parent nodes (stride 64, one block, counter
// 0). `flags` go on every block, `first` and `last` on the first and last.
T3_AVX2 void hash8_avx2(const std::uint8_t* data, std::size_t stride, std::size_t blocks, std::uint64_t counter,
                        bool lane_counters, std::uint32_t flags, std::uint32_t first, std::uint32_t last,
                        std::uint32_t (*out)[8]) {
  __m256i cv[8];
  for (int i = 0; i < 8; ++i) cv[i] = _mm256_set1_epi32(static_cast<int>(kIv[i]));
  alignas(32) std::uint32_t lo[8], hi[8];
  for (int j = 0; j < 8; ++j) {
    const std::uint64_t c = counter + (lane_counters ? j : 0);
    lo[j] = static_cast<std::uint32_t>(c);
    hi[j] = static_cast<std::uint32_t>(c >> 32);
  }
  const __m256i counter_lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
  const __m256i counter_hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  for (std::size_t b = 0; b < blocks; ++b) {
    // Each lane's block is loaded as two rows of 8 words; transposing the 8 × 8 word
    // matrices gives vector i = word i of every lane (cheaper than gathers on AVX2).
    __m256i m[16];
    for (int half = 0; half < 2; ++half) {
      __m256i v[8];
      for (int j = 0; j < 8; ++j) {
        v[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + j * stride + b * kBlockLen + 32 * half));
      }
      transpose8(v, m + 8 * half);
    }
    const std::uint32_t f = flags | (b == 0 ? first : 0) | (b + 1 == blocks ? last : 0);
    __m256i s[16] = {cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
                     _mm256_set1_epi32(static_cast<int>(kIv[0])), _mm256_set1_epi32(static_cast<int>(kIv[1])),
                     _mm256_set1_epi32(static_cast<int>(kIv[2])), _mm256_set1_epi32(static_cast<int>(kIv[3])),
                     counter_lo, counter_hi, _mm256_set1_epi32(static_cast<int>(kBlockLen)),
                     _mm256_set1_epi32(static_cast<int>(f))};
    rounds(s, m, g8);
    for (int i = 0; i < 8; ++i) cv[i] = _mm256_xor_si256(s[i], s[i + 8]);
  }
  __m256i lanes[8];
  transpose8(cv, lanes);  // vector j = the chaining value of input j
  for (int j = 0; j < 8; ++j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[j]), lanes[j]);
}
#undef T3_AVX2
#else
const bool kHaveAvx2 = false;
#endif

}  // namespace

namespace detail {
bool blake3_avx2_available() { return kHaveAvx2; }

void blake3_chunks(const std::uint8_t* data, std::size_t n, std::uint64_t first, std::uint32_t (*out)[8], bool avx2) {
  std::size_t i = 0;
#if defined(__x86_64__)
  if (avx2 && kHaveAvx2) {
    for (; i + 8 <= n; i += 8) {
      hash8_avx2(data + i * kChunkLen, kChunkLen, kChunkLen / kBlockLen, first + i, true, 0, kChunkStart, kChunkEnd, out + i);
    }
  }
#endif
  for (; i < n; ++i) chunk_portable(data + i * kChunkLen, first + i, out[i]);
}

void blake3_parents(const std::uint32_t (*in)[8], std::size_t n, std::uint32_t (*out)[8], bool avx2) {
  std::size_t p = 0;
#if defined(__x86_64__)
  // Each batch loads all its children before it stores, so out may be in.
  if (avx2 && kHaveAvx2) {
    for (; p + 8 <= n; p += 8) {
      hash8_avx2(reinterpret_cast<const std::uint8_t*>(in + 2 * p), 64, 1, 0, false, kParent, 0, 0, out + p);
    }
  }
#endif
  for (; p < n; ++p) parent_cv(in[2 * p], in[2 * p + 1], 0, out[p]);
}
}  // namespace detail

Blake3::Blake3() { std::memcpy(cv_, kIv, 32); }

// The chaining value of a complete subtree of `chunks` chunks (a power of two, starting at a
// multiple of it) joins the stack. Merging is lazy: the subtrees already on the stack are
// merged first, as far as the count before this one allows (more input follows them: this
// subtree), but the new one waits for the next push or for finish(), so input that ends
// on a chunk edge can be taken whole and the last node still becomes the root.
void Blake3::push_subtree_cv(const std::uint32_t cv[8], std::uint64_t chunks) {
  merge_complete();
  std::memcpy(stack_[stack_len_++], cv, 32);
  chunks_done_ += chunks;
}

// Merges the stack down to one node per set bit of chunks_done_ (more input follows).
void Blake3::merge_complete() {
  const auto complete = static_cast<std::size_t>(__builtin_popcountll(chunks_done_));
  while (stack_len_ > complete) {
    parent_cv(stack_[stack_len_ - 2], stack_[stack_len_ - 1], 0, stack_[stack_len_ - 2]);
    --stack_len_;
  }
}

// Full blocks of the current chunk, none of them its last (more input follows).
void Blake3::compress_chunk_blocks(const std::uint8_t* data, std::size_t len) {
  for (std::size_t off = 0; off < len; off += kBlockLen) {
    compress_cv(cv_, data + off, chunks_done_, kBlockLen, blocks_compressed_ == 0 ? kChunkStart : 0);
    ++blocks_compressed_;
  }
}

Blake3& Blake3::update(std::string_view text) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(text.data());
  std::size_t len = text.size();
  while (len > 0) {
    const std::size_t in_chunk = blocks_compressed_ * kBlockLen + block_len_;
    if (in_chunk == kChunkLen) {
      // The chunk is complete and more input follows: it is not the root.
      compress_cv(cv_, block_, chunks_done_, kBlockLen, kChunkEnd | (blocks_compressed_ == 0 ? kChunkStart : 0));
      push_subtree_cv(cv_, 1);
      std::memcpy(cv_, kIv, 32);
      block_len_ = 0;
      blocks_compressed_ = 0;
      continue;
    }
    // Whole chunks go in at once, up to the next multiple of 64 chunks; all of them once
    // earlier chunks exist (a pushed node is then never the whole input), else all but
    // the last (which may be the only chunk, the root).
    const std::size_t whole = chunks_done_ > 0 ? len / kChunkLen : (len - 1) / kChunkLen;
    if (in_chunk == 0 && whole > 0) {
      // A whole aligned subtree of 64 is reduced to one chaining value eight nodes at a
      // time (63 parents; one at a time they took a quarter of the hashing); otherwise the
      // chunks join the stack one by one.
      const std::size_t n = std::min<std::size_t>(whole, kSubtree - chunks_done_ % kSubtree);
      std::uint32_t cvs[kSubtree][8];
      detail::blake3_chunks(data, n, chunks_done_, cvs, true);
      if (n == kSubtree) {
        for (std::size_t k = kSubtree; k > 1; k /= 2) detail::blake3_parents(cvs, k / 2, cvs, true);
        push_subtree_cv(cvs[0], kSubtree);
      } else {
        for (std::size_t i = 0; i < n; ++i) push_subtree_cv(cvs[i], 1);
      }
      data += n * kChunkLen;
      len -= n * kChunkLen;
      continue;
    }
    // Fill the block buffer; a full block is compressed only once more input follows.
    if (block_len_ == kBlockLen) {
      compress_chunk_blocks(block_, kBlockLen);
      block_len_ = 0;
    }
    const std::size_t take = std::min(len, kBlockLen - block_len_);
    std::memcpy(block_ + block_len_, data, take);
    block_len_ += take;
    data += take;
    len -= take;
  }
  return *this;
}

Hash256 Blake3::finish() {
  // The current chunk's last block (possibly empty), then the stack from the top down;
  // the ROOT flag goes on whichever compression comes last.
  std::uint8_t block[64] = {};
  std::memcpy(block, block_, block_len_);
  const std::uint32_t chunk_flags = kChunkEnd | (blocks_compressed_ == 0 ? kChunkStart : 0);
  std::uint32_t out[16];
  if (stack_len_ == 0) {
    compress(cv_, block, chunks_done_, static_cast<std::uint32_t>(block_len_), chunk_flags | kRoot, out);
  } else {
    std::uint32_t node[8];
    if (block_len_ == 0 && blocks_compressed_ == 0) {
      // The input ended on a chunk edge after whole chunks went in: the last node is the
      // top of the stack (never its only entry: see update()).
      std::memcpy(node, stack_[--stack_len_], 32);
    } else {
      merge_complete();
      std::memcpy(node, cv_, 32);
      compress_cv(node, block, chunks_done_, static_cast<std::uint32_t>(block_len_), chunk_flags);
    }
    for (std::size_t i = stack_len_; i-- > 1;) parent_cv(stack_[i], node, 0, node);
    std::uint8_t parent[64];
    std::memcpy(parent, stack_[0], 32);
    std::memcpy(parent + 32, node, 32);
    compress(kIv, parent, 0, 64, kParent | kRoot, out);
  }
  Hash256 h;
  std::memcpy(h.data(), out, 32);
  return h;
}

Hash256 blake3_256(std::string_view data) { return Blake3().update(data).finish(); }

}  // namespace tessera
