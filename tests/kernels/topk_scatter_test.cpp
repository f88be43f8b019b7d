#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/device.h"
#include "kernels/scatter.h"
#include "kernels/topk.h"
#include "tests/kernels/device_buffers.h"
#ifdef TESSERA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace tessera::kernels {
namespace {

struct Problem {
  std::vector<float> data;
  std::size_t chunk_len;
  std::vector<std::uint32_t> ks;
  std::vector<std::size_t> offsets;
  std::size_t total = 0;
};

Problem make_problem(std::size_t n, std::size_t chunk_len, std::uint32_t k) {
  Problem p;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  p.data.resize(n);
  for (auto& v : p.data) v = normal(rng);
  p.data[5] = p.data[6] = 9.0f;  // a tie: the lower position must win
  p.chunk_len = chunk_len;
  for (std::size_t c = 0; c * chunk_len < n; ++c) {
    p.offsets.push_back(p.total);
    const std::size_t len = std::min(chunk_len, n - c * chunk_len);
    p.ks.push_back(static_cast<std::uint32_t>(std::min<std::size_t>(k, len)));
    p.total += p.ks.back();
  }
  return p;
}

TEST(TopkCpu, SelectsLargestMagnitudesSortedByPosition) {
  Problem p = make_problem(10000, 4096, 32);
  std::vector<std::uint32_t> pos(p.total);
  std::vector<float> val(p.total);
  topk_chunks_cpu(p.data.data(), p.data.size(), p.chunk_len, p.ks.data(), p.offsets.data(), pos.data(), val.data());
  for (std::size_t c = 0; c < p.ks.size(); ++c) {
    const float* chunk = p.data.data() + c * p.chunk_len;
    const std::size_t len = std::min(p.chunk_len, p.data.size() - c * p.chunk_len);
    std::vector<float> mags(chunk, chunk + len);
    for (auto& m : mags) m = std::fabs(m);
    std::sort(mags.begin(), mags.end(), std::greater<>());
    const float threshold = mags[p.ks[c] - 1];
    for (std::uint32_t i = 0; i < p.ks[c]; ++i) {
      const std::size_t o = p.offsets[c] + i;
      if (i > 0) {
        EXPECT_LT(pos[o - 1], pos[o]);
      }
      EXPECT_GE(std::fabs(val[o]), threshold);
      EXPECT_EQ(val[o], chunk[pos[o]]);
    }
  }
  Problem tie = make_problem(7, 7, 1);
  std::uint32_t one_pos = 0;
  float one_val = 0;
  topk_chunks_cpu(tie.data.data(), 7, 7, tie.ks.data(), tie.offsets.data(), &one_pos, &one_val);
  EXPECT_EQ(one_pos, 5u);
}

TEST(ScatterCpu, ApplyThenRestoreIsExact) {
  std::vector<float> params = {1.1f, 2.2f, 3.3f, 4.4f};
  const std::vector<float> original = params;
  std::vector<std::int64_t> idx = {0, 3};
  std::vector<float> vals = {0.1f, -0.7f}, saved(2);
  scatter_apply_cpu(params.data(), idx.data(), vals.data(), 2, 0.5f, saved.data());
  EXPECT_EQ(params[0], 1.1f + 0.5f * 0.1f);
  EXPECT_EQ(params[1], 2.2f);
  scatter_restore_cpu(params.data(), idx.data(), saved.data(), 2);
  EXPECT_EQ(params, original);
}

#ifdef TESSERA_HAVE_CUDA
// Uploads the problem, runs launch(data, ks, offsets, positions, values) on the device,
// copies back what it wrote and returns whether the launch succeeded.
template <class Launch>
bool topk_on_device(const Problem& p, const Launch& launch, std::vector<std::uint32_t>* pos, std::vector<float>* val) {
  float* d_data = to_device(p.data);
  std::uint32_t* d_ks = to_device(p.ks);
  std::size_t* d_off = to_device(p.offsets);
  std::uint32_t* d_pos = to_device(std::vector<std::uint32_t>(p.total));
  float* d_val = to_device(std::vector<float>(p.total));
  const bool ok = launch(d_data, d_ks, d_off, d_pos, d_val);
  *pos = to_host(d_pos, p.total);
  *val = to_host(d_val, p.total);
  for (void* ptr : {static_cast<void*>(d_data), static_cast<void*>(d_ks), static_cast<void*>(d_off),
                    static_cast<void*>(d_pos), static_cast<void*>(d_val)}) {
    cudaFree(ptr);
  }
  return ok;
}
#endif

TEST(TopkCuda, MatchesCpuReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  Problem p = make_problem(3 * 4096 + 100, 4096, 32);
  std::vector<std::uint32_t> pos(p.total), gpu_pos;
  std::vector<float> val(p.total), gpu_val;
  topk_chunks_cpu(p.data.data(), p.data.size(), p.chunk_len, p.ks.data(), p.offsets.data(), pos.data(), val.data());
  ASSERT_TRUE(topk_on_device(
      p,
      [&](const float* data, const std::uint32_t* ks, const std::size_t* off, std::uint32_t* dpos, float* dval) {
        return topk_chunks_cuda(data, p.data.size(), p.chunk_len, ks, off, dpos, dval);
      },
      &gpu_pos, &gpu_val));
  EXPECT_EQ(gpu_pos, pos);
  EXPECT_EQ(gpu_val, val);
#endif
}

TEST(TopkCuda, BlocksMatchCpuReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  const std::size_t rows = 128, cols = 192, br = 64, bc = 64;
  Problem p = make_problem(rows * cols, br * bc, 32);
  std::vector<std::uint32_t> pos(p.total), gpu_pos;
  std::vector<float> val(p.total), gpu_val;
  bool finite = false, gpu_finite = false;
  topk_blocks_cpu(p.data.data(), rows, cols, br, bc, p.ks.data(), p.offsets.data(), pos.data(), val.data(), &finite);
  ASSERT_TRUE(topk_on_device(
      p,
      [&](const float* data, const std::uint32_t* ks, const std::size_t* off, std::uint32_t* dpos, float* dval) {
        return topk_blocks_cuda(data, rows, cols, br, bc, ks, off, dpos, dval, &gpu_finite);
      },
      &gpu_pos, &gpu_val));
  EXPECT_EQ(gpu_finite, finite);
  EXPECT_EQ(gpu_pos, pos);
  EXPECT_EQ(gpu_val, val);
#endif
}

// A chunk with fewer than k finite values once made the arg-max find no position and read
// chunk[0xffffffff]; it must give the CPU reference's reject output instead, with and
// without the finiteness flag (with it, no selection runs at all).
TEST(TopkCuda, NonFiniteChunkGivesRejectOutputNotAnOutOfRangeRead) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  Problem p = make_problem(3 * 256, 256, 32);
  for (std::size_t i = 256; i < 512 - 8; ++i) p.data[i] = std::nanf("");  // chunk 1: 8 finite values, k = 32
  p.data[600] = INFINITY;                                                    // chunk 2: one infinity
  std::vector<std::uint32_t> pos(p.total);
  std::vector<float> val(p.total);
  topk_chunks_cpu(p.data.data(), p.data.size(), p.chunk_len, p.ks.data(), p.offsets.data(), pos.data(), val.data());
  for (const bool use_flag : {false, true}) {
    bool finite = true;
    bool* flag = use_flag ? &finite : nullptr;
    std::vector<std::uint32_t> gpu_pos;
    std::vector<float> gpu_val;
    ASSERT_TRUE(topk_on_device(
        p,
        [&](const float* data, const std::uint32_t* ks, const std::size_t* off, std::uint32_t* dpos, float* dval) {
          return topk_chunks_cuda(data, p.data.size(), p.chunk_len, ks, off, dpos, dval, flag);
        },
        &gpu_pos, &gpu_val));
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    for (std::size_t c = 0; c < p.ks.size(); ++c) {
      for (std::uint32_t i = 0; i < p.ks[c]; ++i) EXPECT_LT(gpu_pos[p.offsets[c] + i], p.chunk_len);
    }
    if (!use_flag) {
      EXPECT_EQ(gpu_pos, pos);  // per chunk, as the CPU reference: chunk 0 selected, 1 and 2 rejected
      EXPECT_EQ(gpu_val, val);
    } else {
      EXPECT_FALSE(finite);
      for (std::size_t i = 0; i < p.total; ++i) EXPECT_EQ(gpu_val[i], 0.0f);
    }
  }
#endif
}

TEST(ScatterCuda, MatchesCpuReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  std::vector<float> params(1000);
  std::iota(params.begin(), params.end(), 0.5f);
  std::vector<std::int64_t> idx = {1, 17, 999};
  std::vector<float> vals = {0.25f, -3.0f, 8.0f};
  std::vector<float> cpu = params, cpu_saved(3), gpu(1000), gpu_saved(3);
  scatter_apply_cpu(cpu.data(), idx.data(), vals.data(), 3, 0.5f, cpu_saved.data());
  float *d_p, *d_v, *d_s;
  std::int64_t* d_i;
  cudaMalloc(&d_p, 4000);
  cudaMalloc(&d_v, 12);
  cudaMalloc(&d_s, 12);
  cudaMalloc(&d_i, 24);
  cudaMemcpy(d_p, params.data(), 4000, cudaMemcpyHostToDevice);
  cudaMemcpy(d_v, vals.data(), 12, cudaMemcpyHostToDevice);
  cudaMemcpy(d_i, idx.data(), 24, cudaMemcpyHostToDevice);
  ASSERT_TRUE(scatter_apply_cuda(d_p, d_i, d_v, 3, 0.5f, d_s));
  cudaMemcpy(gpu.data(), d_p, 4000, cudaMemcpyDeviceToHost);
  cudaMemcpy(gpu_saved.data(), d_s, 12, cudaMemcpyDeviceToHost);
  EXPECT_EQ(gpu, cpu);
  EXPECT_EQ(gpu_saved, cpu_saved);
  ASSERT_TRUE(scatter_restore_cuda(d_p, d_i, d_s, 3));
  cudaMemcpy(gpu.data(), d_p, 4000, cudaMemcpyDeviceToHost);
  EXPECT_EQ(gpu, params);
  cudaFree(d_p);
  cudaFree(d_v);
  cudaFree(d_s);
  cudaFree(d_i);
#endif
}

}  // namespace
}  // namespace tessera::kernels
