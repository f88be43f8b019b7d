// Each kernel family through the CUDA backend against the CPU backend (kernels/backend.h),
// on the same random inputs. Exact where both sides sum in the same order (all but the
// cross-entropy sum, which the GPU reduces as a tree). Skips without a GPU.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/backend.h"
#include "kernels/device.h"
#include "tests/kernels/device_buffers.h"

namespace tessera::kernels {
namespace {

std::vector<float> normal_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

TEST(BackendCuda, EveryFamilyMatchesTheCpuBackend) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  const KernelBackend& cpu = cpu_backend();
  const KernelBackend* gpu = cuda_backend();
  ASSERT_NE(gpu, nullptr);

  // gather_blocks + dct_blocks: a 96 × 128 matrix in 32 × 64 blocks.
  const std::size_t rows = 96, cols = 128, br = 32, bc = 64;
  const auto m = normal_values(rows * cols, 1);
  std::vector<float> host(rows * cols);
  ASSERT_TRUE(cpu.gather_blocks(m.data(), rows, cols, br, bc, host.data()));
  ASSERT_TRUE(cpu.dct_blocks(host.data(), 6, static_cast<int>(br), static_cast<int>(bc), false));
  float* dm = to_device(m);
  float* dout = to_device(std::vector<float>(rows * cols));
  ASSERT_TRUE(gpu->gather_blocks(dm, rows, cols, br, bc, dout));
  ASSERT_TRUE(gpu->dct_blocks(dout, 6, static_cast<int>(br), static_cast<int>(bc), false));
  EXPECT_EQ(to_host(dout, rows * cols), host);

  // axpy, scatter apply and restore.
  auto y = normal_values(4096, 2);
  const auto x = normal_values(4096, 3);
  float* dy = to_device(y);
  float* dx = to_device(x);
  ASSERT_TRUE(cpu.axpy(y.size(), -0.37f, x.data(), y.data()));
  ASSERT_TRUE(gpu->axpy(y.size(), -0.37f, dx, dy));
  EXPECT_EQ(to_host(dy, y.size()), y);
  const std::vector<std::int64_t> idx = {0, 5, 77, 4095};
  const std::vector<float> vals = {1.5f, -2.25f, 0.125f, 3.0f};
  std::vector<float> saved(4);
  auto* didx = to_device(idx);
  auto* dvals = to_device(vals);
  auto* dsaved = to_device(saved);
  ASSERT_TRUE(cpu.scatter_apply(y.data(), idx.data(), vals.data(), 4, 0.5f, saved.data()));
  ASSERT_TRUE(gpu->scatter_apply(dy, didx, dvals, 4, 0.5f, dsaved));
  EXPECT_EQ(to_host(dy, y.size()), y);
  EXPECT_EQ(to_host(dsaved, 4), saved);
  ASSERT_TRUE(gpu->scatter_restore(dy, didx, dsaved, 4));
  ASSERT_TRUE(cpu.scatter_restore(y.data(), idx.data(), saved.data(), 4));
  EXPECT_EQ(to_host(dy, y.size()), y);

  // cross-entropy: 64 rows of a 1000-token vocabulary.
  const auto logits = normal_values(64 * 1000, 4);
  std::vector<std::int64_t> targets(64);
  for (std::size_t r = 0; r < targets.size(); ++r) targets[r] = static_cast<std::int64_t>((r * 37) % 1000);
  double cpu_sum = 0, gpu_sum = 0;
  ASSERT_TRUE(cpu.cross_entropy_sum(logits.data(), targets.data(), 64, 1000, nullptr, &cpu_sum));
  float* dl = to_device(logits);
  auto* dt = to_device(targets);
  ASSERT_TRUE(gpu->cross_entropy_sum(dl, dt, 64, 1000, nullptr, &gpu_sum));
  EXPECT_NEAR(gpu_sum, cpu_sum, 1e-9 * 64 * 10);
  for (void* p : std::initializer_list<void*>{dm, dout, dy, dx, didx, dvals, dsaved, dl, dt}) cudaFree(p);
#endif
}

}  // namespace
}  // namespace tessera::kernels
