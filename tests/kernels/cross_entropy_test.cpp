// The fused loss kernel: the CPU path against a direct definition (softmax probability of
// the target), invalid targets refused, and the CUDA kernel against the CPU path.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cross_entropy.h"
#include "kernels/device.h"
#ifdef TESSERA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace tessera::kernels {
namespace {

struct Case {
  std::size_t rows = 37, vocab = 301;
  std::vector<float> logits;
  std::vector<std::int64_t> targets;
  Case() {
    std::mt19937 rng(5);
    std::normal_distribution<float> n(0.0f, 4.0f);
    for (std::size_t i = 0; i < rows * vocab; ++i) logits.push_back(n(rng) + (i % vocab == 7 ? 30.0f : 0.0f));
    for (std::size_t r = 0; r < rows; ++r) targets.push_back(static_cast<std::int64_t>((r * 13) % vocab));
  }
};

TEST(CrossEntropy, CpuMatchesTheDefinition) {
  Case c;
  std::vector<float> rows(c.rows);
  double sum = 0;
  ASSERT_TRUE(cross_entropy_sum_cpu(c.logits.data(), c.targets.data(), c.rows, c.vocab, rows.data(), &sum));
  double expected_sum = 0;
  for (std::size_t r = 0; r < c.rows; ++r) {
    double z = 0;
    for (std::size_t v = 0; v < c.vocab; ++v) z += std::exp(static_cast<double>(c.logits[r * c.vocab + v]) - 30.0);
    const double p = std::exp(static_cast<double>(c.logits[r * c.vocab + c.targets[r]]) - 30.0) / z;
    const double expected = -std::log(p);
    EXPECT_NEAR(rows[r], expected, 1e-4 * std::max(1.0, expected)) << "row " << r;
    expected_sum += expected;
  }
  EXPECT_NEAR(sum, expected_sum, 1e-6 * expected_sum);
  c.targets[3] = static_cast<std::int64_t>(c.vocab);
  EXPECT_FALSE(cross_entropy_sum_cpu(c.logits.data(), c.targets.data(), c.rows, c.vocab, nullptr, &sum));
}

TEST(CrossEntropyCuda, MatchesCpuReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  Case c;
  std::vector<float> cpu_rows(c.rows), gpu_rows(c.rows);
  double cpu_sum = 0, gpu_sum = 0;
  ASSERT_TRUE(cross_entropy_sum_cpu(c.logits.data(), c.targets.data(), c.rows, c.vocab, cpu_rows.data(), &cpu_sum));
  float* d_logits = nullptr;
  std::int64_t* d_targets = nullptr;
  float* d_rows = nullptr;
  ASSERT_EQ(cudaMalloc(&d_logits, c.logits.size() * 4), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_targets, c.targets.size() * 8), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_rows, c.rows * 4), cudaSuccess);
  cudaMemcpy(d_logits, c.logits.data(), c.logits.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(d_targets, c.targets.data(), c.targets.size() * 8, cudaMemcpyHostToDevice);
  ASSERT_TRUE(cross_entropy_sum_cuda(d_logits, d_targets, c.rows, c.vocab, d_rows, &gpu_sum));
  cudaMemcpy(gpu_rows.data(), d_rows, c.rows * 4, cudaMemcpyDeviceToHost);
  cudaFree(d_logits);
  cudaFree(d_targets);
  cudaFree(d_rows);
  for (std::size_t r = 0; r < c.rows; ++r) EXPECT_NEAR(gpu_rows[r], cpu_rows[r], 1e-4f) << "row " << r;
  EXPECT_NEAR(gpu_sum, cpu_sum, 1e-6 * cpu_sum);
#endif
}

}  // namespace
}  // namespace tessera::kernels
