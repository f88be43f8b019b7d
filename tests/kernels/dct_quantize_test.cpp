#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/dct.h"
#include "kernels/device.h"
#include "kernels/numeric.h"
#include "kernels/quantize.h"
#include "kernels/quantize_impl.h"
#include "kernels/topk.h"
#include "kernels/topk_detail.h"
#include "tests/kernels/device_buffers.h"
#ifdef TESSERA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace tessera::kernels {
namespace {

// Brute-force top-k: full sort by (|v| desc, position asc), then by position.
std::vector<std::uint32_t> reference_topk(const float* chunk, std::size_t len, std::size_t k) {
  std::vector<std::uint32_t> order(len);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [chunk](std::uint32_t a, std::uint32_t b) {
    const float fa = std::fabs(chunk[a]), fb = std::fabs(chunk[b]);
    return fa > fb || (fa == fb && a < b);
  });
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

TEST(TopkCpu, MatchesBruteForceWithTiesAndOddSizes) {
  std::mt19937 rng(11);
  // Few distinct magnitudes (many ties), skewed data, magnitudes a few ulps apart (the
  // k-th largest then takes several histogram rounds), and lengths that are not
  // multiples of 16.
  for (int trial = 0; trial < 80; ++trial) {
    const std::size_t chunk_len = std::vector<std::size_t>{4096, 1000, 64, 17, 5}[trial % 5];
    const std::size_t n = chunk_len * 3 - (trial % 7);
    const std::uint32_t k = std::vector<std::uint32_t>{32, 1, 8, 200, 4}[trial % 5];
    std::vector<float> data(n);
    std::uniform_int_distribution<int> small(-4, 4);
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<std::uint32_t> ulps(0, 5000);
    for (std::size_t i = 0; i < n; ++i) {
      if (trial >= 60) {
        const std::uint32_t bits = 0x3f800000u + ulps(rng);  // 1.0 plus up to 5000 ulps, random sign
        std::memcpy(&data[i], &bits, 4);
        if (i % 2) data[i] = -data[i];
      } else {
        data[i] = trial % 3 == 0 ? static_cast<float>(small(rng)) : normal(rng) * (1.0f + static_cast<float>(i % 97));
      }
    }
    std::vector<std::uint32_t> ks;
    std::vector<std::size_t> offsets;
    std::size_t total = 0;
    for (std::size_t c = 0; c * chunk_len < n; ++c) {
      offsets.push_back(total);
      ks.push_back(static_cast<std::uint32_t>(std::min<std::size_t>(k, std::min(chunk_len, n - c * chunk_len))));
      total += ks.back();
    }
    std::vector<std::uint32_t> pos(total);
    std::vector<float> val(total);
    topk_chunks_cpu(data.data(), n, chunk_len, ks.data(), offsets.data(), pos.data(), val.data());
    for (std::size_t c = 0; c < ks.size(); ++c) {
      const std::size_t len = std::min(chunk_len, n - c * chunk_len);
      const auto want = reference_topk(data.data() + c * chunk_len, len, ks[c]);
      for (std::uint32_t i = 0; i < ks[c]; ++i) {
        ASSERT_EQ(pos[offsets[c] + i], want[i]) << "trial " << trial << " chunk " << c << " rank " << i;
        ASSERT_EQ(val[offsets[c] + i], data[c * chunk_len + want[i]]);
      }
    }
  }
}

// The in-place block selection equals the selection over the gathered blocks and the
// brute force, for block widths that are and are not multiples of 16, with ties.
TEST(TopkCpu, BlocksInPlaceMatchGatheredChunks) {
  struct Shape {
    std::size_t rows, cols, block_rows, block_cols;
    std::uint32_t k;
  };
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> small(-3, 3);
  int trial = 0;
  for (const Shape sh : {Shape{128, 128, 64, 64, 32}, Shape{96, 48, 32, 48, 7}, Shape{50, 50, 25, 50, 32},
                         Shape{14, 21, 7, 7, 3}, Shape{64, 200, 64, 40, 100}, Shape{4, 64, 4, 64, 1}}) {
    for (int variant = 0; variant < 3; ++variant, ++trial) {
      std::vector<float> data(sh.rows * sh.cols);
      for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = variant == 0 ? normal(rng) : variant == 1 ? static_cast<float>(small(rng)) : 0.0f;
      }
      const std::size_t per_row = sh.cols / sh.block_cols, chunks = (sh.rows / sh.block_rows) * per_row;
      const std::size_t len = sh.block_rows * sh.block_cols;
      std::vector<float> gathered;
      for (std::size_t c = 0; c < chunks; ++c) {
        for (std::size_t r = 0; r < sh.block_rows; ++r) {
          const float* row = data.data() + ((c / per_row) * sh.block_rows + r) * sh.cols + (c % per_row) * sh.block_cols;
          gathered.insert(gathered.end(), row, row + sh.block_cols);
        }
      }
      const std::uint32_t k = std::min<std::uint32_t>(sh.k, static_cast<std::uint32_t>(len));
      std::vector<std::uint32_t> ks(chunks, k);
      std::vector<std::size_t> offsets(chunks);
      for (std::size_t c = 0; c < chunks; ++c) offsets[c] = c * k;
      std::vector<std::uint32_t> pos(chunks * k), gpos(chunks * k);
      std::vector<float> val(chunks * k), gval(chunks * k);
      bool finite = false, gfinite = false;
      topk_blocks_cpu(data.data(), sh.rows, sh.cols, sh.block_rows, sh.block_cols, ks.data(), offsets.data(),
                      pos.data(), val.data(), &finite);
      topk_chunks_cpu(gathered.data(), gathered.size(), len, ks.data(), offsets.data(), gpos.data(), gval.data(),
                      &gfinite);
      EXPECT_TRUE(finite);
      EXPECT_TRUE(gfinite);
      ASSERT_EQ(pos, gpos) << "trial " << trial;
      ASSERT_EQ(val, gval) << "trial " << trial;
      for (std::size_t c = 0; c < chunks; ++c) {
        const auto want = reference_topk(gathered.data() + c * len, len, k);
        for (std::uint32_t i = 0; i < k; ++i) ASSERT_EQ(pos[c * k + i], want[i]) << "trial " << trial << " chunk " << c;
      }
    }
  }
}

// The multiply-shift division equals n / d wherever it is used, including the edge of its
// fast range (n · d just under 2^40, where the 64 × 64-bit product needs 128 bits) and
// beyond it (it divides).
TEST(Numeric, DividerMatchesDivision) {
  for (std::uint64_t d = 1; d <= 300; ++d) {
    const Divider div(d, d * 300);
    for (std::uint64_t n = 0; n < d * 300; ++n) ASSERT_EQ(div(n), n / d) << n << " / " << d;
  }
  for (std::uint64_t d : {1ull, 3ull, 255ull, 4097ull, 1000003ull}) {
    const std::uint64_t limit = (std::uint64_t{1} << 40) / d;
    const Divider fast(d, limit), slow(d, std::uint64_t{1} << 50);
    for (std::uint64_t n : {limit - 1, limit - 2, limit / 2 + 1, (limit / d) * d, (limit / d) * d - 1}) {
      ASSERT_EQ(fast(n), n / d) << n << " / " << d;
    }
    for (std::uint64_t n : {(std::uint64_t{1} << 50) - 1, (std::uint64_t{1} << 45) + 12345}) ASSERT_EQ(slow(n), n / d);
  }
}

// Every instruction-set variant of the group-maxima pass (AVX2, SSE4.1, portable) gives
// the reference's bits — max of |v| bits per group of 16 — for odd group counts, signed
// zeros, subnormals, infinities and NaNs (whose bits are kept, so the caller sees them).
TEST(TopkCpu, GroupMaximaVariantsAgree) {
  using detail::MaximaIsa;
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> pick(0, 40);
  int variants_run = 0;
  for (MaximaIsa isa : {MaximaIsa::kPortable, MaximaIsa::kSse41, MaximaIsa::kAvx2}) {
    if (!detail::maxima_isa_available(isa)) continue;
    ++variants_run;
    for (std::size_t groups : {0u, 1u, 2u, 3u, 7u, 64u, 255u}) {
      std::vector<float> x(groups * 16);
      for (auto& v : x) {
        const int p = pick(rng);
        v = p == 0 ? -0.0f : p == 1 ? 1e-41f : p == 2 ? -INFINITY : p == 3 ? NAN : normal(rng) * 1e3f;
      }
      std::vector<float> out(groups + 1, 123.0f);
      const std::uint32_t top = detail::group_maxima_with(isa, x.data(), groups, out.data());
      std::uint32_t want_top = 0;
      for (std::size_t g = 0; g < groups; ++g) {
        std::uint32_t want = 0;
        for (std::size_t i = 0; i < 16; ++i) {
          std::uint32_t u;
          std::memcpy(&u, &x[g * 16 + i], 4);
          want = std::max(want, u & 0x7fffffffu);
        }
        std::uint32_t got;
        std::memcpy(&got, &out[g], 4);
        ASSERT_EQ(got, want) << "variant " << static_cast<int>(isa) << " groups " << groups << " group " << g;
        want_top = std::max(want_top, want);
      }
      EXPECT_EQ(top, want_top) << "variant " << static_cast<int>(isa) << " groups " << groups;
      EXPECT_EQ(out[groups], 123.0f) << "wrote past the last group";
    }
  }
  EXPECT_GE(variants_run, 1);
}

// An infinity or NaN anywhere — inside a group of 16 or in a row's tail — is reported.
TEST(TopkCpu, ReportsNonFiniteValues) {
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    for (std::size_t at : {0u, 17u, 63u, 4095u, 4100u}) {
      std::vector<float> data(4103, 0.5f);
      data[at] = bad;
      std::vector<std::uint32_t> ks = {32, 7};
      std::vector<std::size_t> offsets = {0, 32};
      std::vector<std::uint32_t> pos(39);
      std::vector<float> val(39);
      bool finite = true;
      topk_chunks_cpu(data.data(), data.size(), 4096, ks.data(), offsets.data(), pos.data(), val.data(), &finite);
      EXPECT_FALSE(finite) << "value " << bad << " at " << at;
      finite = true;
      // The same buffer as a 1 × 4103 matrix cut into blocks 1 × 4103 (block_cols > 64 is
      // allowed; the tail of 7 is scanned separately).
      topk_blocks_cpu(data.data(), 1, 4103, 1, 4103, ks.data(), offsets.data(), pos.data(), val.data(), &finite);
      EXPECT_FALSE(finite) << "blocks: value " << bad << " at " << at;
    }
  }
  std::vector<float> clean(4096, 1.0f);
  std::uint32_t k = 32;
  std::size_t offset = 0;
  std::vector<std::uint32_t> pos(32);
  std::vector<float> val(32);
  bool finite = false;
  topk_chunks_cpu(clean.data(), clean.size(), 4096, &k, &offset, pos.data(), val.data(), &finite);
  EXPECT_TRUE(finite);
  for (std::uint32_t i = 0; i < 32; ++i) EXPECT_EQ(pos[i], i);  // all tied: the lowest positions
}

// Naive double-precision 2-D DCT-II from the definition.
std::vector<double> reference_dct(const std::vector<float>& x, int rows, int cols) {
  std::vector<double> out(x.size());
  for (int k = 0; k < rows; ++k) {
    for (int l = 0; l < cols; ++l) {
      double sum = 0;
      for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < cols; ++j) {
          sum += x[i * cols + j] * std::cos(M_PI * (2 * i + 1) * k / (2.0 * rows)) *
                 std::cos(M_PI * (2 * j + 1) * l / (2.0 * cols));
        }
      }
      const double ak = k == 0 ? std::sqrt(1.0 / rows) : std::sqrt(2.0 / rows);
      const double al = l == 0 ? std::sqrt(1.0 / cols) : std::sqrt(2.0 / cols);
      out[k * cols + l] = ak * al * sum;
    }
  }
  return out;
}

TEST(DctCpu, MatchesDefinitionAndInvertsExactlyEnough) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (auto [rows, cols] : std::vector<std::pair<int, int>>{{8, 8}, {64, 64}, {48, 16}, {3, 64}, {1, 7}}) {
    const int blocks = 3;
    std::vector<float> x(static_cast<std::size_t>(blocks * rows * cols));
    for (auto& v : x) v = normal(rng);
    std::vector<float> y = x;
    dct_blocks_cpu(y.data(), blocks, rows, cols, false);
    for (int b = 0; b < blocks; ++b) {
      std::vector<float> block(x.begin() + b * rows * cols, x.begin() + (b + 1) * rows * cols);
      const auto want = reference_dct(block, rows, cols);
      for (int i = 0; i < rows * cols; ++i) ASSERT_NEAR(y[b * rows * cols + i], want[i], 2e-4) << rows << "x" << cols;
    }
    dct_blocks_cpu(y.data(), blocks, rows, cols, true);
    for (std::size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], x[i], 2e-5);
  }
}

TEST(DctCpu, SparseInverseEqualsDenseInverse) {
  // The decoder's case: a few coefficients set. Zero-skipping must not change the result.
  std::vector<float> coeffs(64 * 64, 0.0f);
  coeffs[0] = 1.5f;
  coeffs[64 * 3 + 7] = -2.0f;
  coeffs[64 * 63 + 63] = 0.25f;
  std::vector<float> got = coeffs;
  dct_blocks_cpu(got.data(), 1, 64, 64, true);
  const float* c = dct_matrix(64);
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 64; ++j) {
      double want = 1.5 * c[0 * 64 + i] * c[0 * 64 + j] - 2.0 * c[3 * 64 + i] * c[7 * 64 + j] +
                    0.25 * c[63 * 64 + i] * c[63 * 64 + j];
      ASSERT_NEAR(got[i * 64 + j], want, 1e-6);
    }
  }
}

TEST(Numeric, HalfConversionRoundsToNearestEvenForEveryHalf) {
  // Every finite half round-trips; midpoints between neighbours round to the even one.
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    ASSERT_EQ(f32_to_f16(f), static_cast<std::uint16_t>(h)) << h;
    if ((h & 0x7fffu) < 0x7bffu) {
      const float next = f16_to_f32(static_cast<std::uint16_t>(h + 1));
      const float mid = (f + next) / 2;  // exact in float32
      const std::uint16_t even = (h & 1u) ? static_cast<std::uint16_t>(h + 1) : static_cast<std::uint16_t>(h);
      ASSERT_EQ(f32_to_f16(mid), even) << h;
    }
  }
  EXPECT_EQ(f32_to_f16(70000.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-1e-9f), 0x8000);
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
}

struct Chunks {
  std::vector<float> values;
  std::vector<std::uint32_t> ks;
  std::vector<std::size_t> offsets;
};

Chunks make_chunks() {
  Chunks c;
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  for (std::uint32_t k : {32u, 1u, 7u, 32u, 2u}) {
    c.offsets.push_back(c.values.size());
    c.ks.push_back(k);
    for (std::uint32_t i = 0; i < k; ++i) c.values.push_back(normal(rng) * 0.01f);
  }
  c.values[3] = -c.values[4];  // equal magnitudes: ties in the int2 rank split
  return c;
}

TEST(QuantizeCpu, ReconstructionEqualsDequantizedCodesForEveryKind) {
  const Chunks c = make_chunks();
  for (auto kind : {QuantKind::kFp16, QuantKind::kInt8, QuantKind::kInt4, QuantKind::kInt2, QuantKind::kSign}) {
    const std::size_t n = c.values.size();
    std::vector<std::uint16_t> codes(n), scales(c.ks.size() * quant_scales_per_chunk(kind));
    std::vector<float> recon(n), out(n);
    quantize_chunks_cpu(kind, c.values.data(), c.ks.size(), c.ks.data(), c.offsets.data(), codes.data(), scales.data(),
                        recon.data());
    dequantize_chunks_cpu(kind, codes.data(), scales.data(), c.ks.size(), c.ks.data(), c.offsets.data(), out.data());
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i], recon[i]) << static_cast<int>(kind) << " value " << i;
      ASSERT_LE(codes[i], quant_max_code(kind));
      ASSERT_EQ(std::signbit(out[i]) || out[i] == 0.0f, std::signbit(c.values[i]) || out[i] == 0.0f);
    }
  }
}

TEST(QuantizeCpu, Int2SplitsAtTheMedianRankAndUsesBinMeans) {
  const std::vector<float> v = {0.1f, -0.4f, 0.2f, -0.3f};
  const std::uint32_t k = 4;
  const std::size_t off = 0;
  std::vector<std::uint16_t> codes(4), scales(2);
  std::vector<float> recon(4);
  quantize_chunks_cpu(QuantKind::kInt2, v.data(), 1, &k, &off, codes.data(), scales.data(), recon.data());
  EXPECT_EQ(codes, (std::vector<std::uint16_t>{0, 3, 0, 3}));
  EXPECT_EQ(scales[0], f32_to_bf16(0.15f));
  EXPECT_EQ(scales[1], f32_to_bf16(0.35f));
  EXPECT_EQ(recon[1], -bf16_to_f32(f32_to_bf16(0.35f)));
}

// The CPU split (rank counting up to 64 values, a selection above) puts exactly the
// values of rank >= floor(k/2) among (|v|, position) in the high bin — the definition the
// CUDA kernel evaluates directly (detail::magnitude_rank) — with many ties.
TEST(QuantizeCpu, Int2SplitMatchesTheRankDefinitionWithTies) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> small(-5, 5);
  for (std::uint32_t k : {1u, 2u, 3u, 7u, 32u, 63u, 64u, 65u, 100u, 257u}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> v(k);
      for (auto& x : v) x = static_cast<float>(small(rng)) * 0.25f;
      const std::size_t off = 0;
      std::vector<std::uint16_t> codes(k), scales(2);
      std::vector<float> recon(k);
      quantize_chunks_cpu(QuantKind::kInt2, v.data(), 1, &k, &off, codes.data(), scales.data(), recon.data());
      for (std::uint32_t i = 0; i < k; ++i) {
        const bool high = detail::magnitude_rank(v.data(), k, i) >= k / 2;
        ASSERT_EQ((codes[i] & 2u) != 0, high) << "k " << k << " trial " << trial << " value " << i;
      }
    }
  }
}

TEST(DctCpu, RefusesBlocksLargerThanItsSide) {
  // The spec allowed block_2d up to 256 with the DCT, beyond the reference's row buffer.
  std::vector<float> x(128 * 128, 1.0f);
  EXPECT_FALSE(dct_blocks_cpu(x.data(), 1, 128, 128, false));
  EXPECT_FALSE(dct_blocks_cpu(x.data(), 1, 64, kMaxDctSide + 1, true));
  EXPECT_EQ(x, std::vector<float>(128 * 128, 1.0f));
  EXPECT_TRUE(dct_blocks_cpu(x.data(), 1, kMaxDctSide, kMaxDctSide, false));
}

TEST(DctCuda, MatchesCpuReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  for (bool inverse : {false, true}) {
    std::vector<float> x(5 * 64 * 32);
    for (auto& v : x) v = normal(rng);
    std::vector<float> cpu = x;
    dct_blocks_cpu(cpu.data(), 5, 64, 32, inverse);
    float* d = to_device(x);
    ASSERT_TRUE(dct_blocks_cuda(d, 5, 64, 32, inverse));
    const auto gpu = to_host(d, x.size());
    cudaFree(d);
    // The same summation order and no contraction on either side (--fmad=false): exact.
    EXPECT_EQ(gpu, cpu) << (inverse ? "inverse" : "forward");
  }
#endif
}

TEST(QuantizeCuda, MatchesCpuReferenceBitForBit) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  const Chunks c = make_chunks();
  for (auto kind : {QuantKind::kFp16, QuantKind::kInt8, QuantKind::kInt4, QuantKind::kInt2, QuantKind::kSign}) {
    const std::size_t n = c.values.size(), ns = c.ks.size() * quant_scales_per_chunk(kind);
    std::vector<std::uint16_t> codes(n), scales(ns);
    std::vector<float> recon(n);
    quantize_chunks_cpu(kind, c.values.data(), c.ks.size(), c.ks.data(), c.offsets.data(), codes.data(), scales.data(),
                        recon.data());
    auto* dv = to_device(c.values);
    auto* dk = to_device(c.ks);
    auto* doff = to_device(c.offsets);
    auto* dc = to_device(std::vector<std::uint16_t>(n));
    auto* ds = to_device(std::vector<std::uint16_t>(std::max<std::size_t>(ns, 1)));
    auto* dr = to_device(std::vector<float>(n));
    ASSERT_TRUE(quantize_chunks_cuda(kind, dv, c.ks.size(), dk, doff, dc, ds, dr));
    EXPECT_EQ(to_host(dc, n), codes);
    EXPECT_EQ(to_host(ds, ns), scales);
    EXPECT_EQ(to_host(dr, n), recon);
    ASSERT_TRUE(dequantize_chunks_cuda(kind, dc, ds, c.ks.size(), dk, doff, dr));
    EXPECT_EQ(to_host(dr, n), recon);
    for (void* p : std::initializer_list<void*>{dv, dk, doff, dc, ds, dr}) cudaFree(p);
  }
#endif
}

TEST(KernelsCuda, EntryPointsReportUnavailableWithoutDevice) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present";
  float x = 0;
  std::uint32_t k = 1;
  std::size_t off = 0;
  std::uint16_t code = 0, scale = 0;
  EXPECT_FALSE(dct_blocks_cuda(&x, 1, 1, 1, false));
  EXPECT_FALSE(quantize_chunks_cuda(QuantKind::kSign, &x, 1, &k, &off, &code, &scale, &x));
  EXPECT_FALSE(dequantize_chunks_cuda(QuantKind::kSign, &code, &scale, 1, &k, &off, &x));
}

}  // namespace
}  // namespace tessera::kernels
