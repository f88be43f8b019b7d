#include "kernels/axpy.h"

#include <gtest/gtest.h>

#include <vector>

#include "kernels/device.h"
#ifdef TESSERA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace tessera::kernels {
namespace {

TEST(Axpy, CpuReference) {
  std::vector<float> x = {1, 2, 3}, y = {10, 20, 30};
  axpy_cpu(3, 0.5f, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{10.5f, 21.0f, 31.5f}));
}

TEST(Axpy, CudaUnavailableReportsFalseWithoutDevice) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present";
  float x = 1, y = 2;
  EXPECT_FALSE(axpy_cuda(1, 1.0f, &x, &y));
  EXPECT_EQ(y, 2.0f);
  EXPECT_FALSE(describe_devices().empty());
}

TEST(Axpy, CudaMatchesCpuReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << describe_devices();
#ifdef TESSERA_HAVE_CUDA
  const std::size_t n = 1 << 20;
  std::vector<float> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 97) * 0.25f;
    y[i] = static_cast<float>(i % 13);
  }
  std::vector<float> expected = y;
  axpy_cpu(n, -1.5f, x.data(), expected.data());
  float *dx = nullptr, *dy = nullptr;
  ASSERT_EQ(cudaMalloc(&dx, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dy, n * sizeof(float)), cudaSuccess);
  cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  ASSERT_TRUE(axpy_cuda(n, -1.5f, dx, dy));
  cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
  EXPECT_EQ(y, expected);
#endif
}

}  // namespace
}  // namespace tessera::kernels
