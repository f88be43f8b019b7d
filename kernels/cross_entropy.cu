#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cross_entropy.h"
#include "kernels/device.h"

namespace tessera::kernels {

namespace {
constexpr int kThreads = 256;

// One block per row: block-wide max, then the sum of exp(x − max) in double, then the row loss.
__global__ void row_loss_kernel(const float* logits, const std::int64_t* targets, std::size_t vocab, double* out) {
  __shared__ float smax[kThreads];
  __shared__ double ssum[kThreads];
  const std::size_t row = blockIdx.x;
  const float* x = logits + row * vocab;
  float m = -INFINITY;
  for (std::size_t v = threadIdx.x; v < vocab; v += kThreads) m = fmaxf(m, x[v]);
  smax[threadIdx.x] = m;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) smax[threadIdx.x] = fmaxf(smax[threadIdx.x], smax[threadIdx.x + s]);
    __syncthreads();
  }
  m = smax[0];
  double acc = 0.0;
  for (std::size_t v = threadIdx.x; v < vocab; v += kThreads) acc += exp(static_cast<double>(x[v] - m));
  ssum[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) ssum[threadIdx.x] += ssum[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const std::int64_t t = targets[row];
    out[row] = (t < 0 || static_cast<std::size_t>(t) >= vocab)
                   ? NAN
                   : static_cast<double>(m) + log(ssum[0]) - static_cast<double>(x[t]);
  }
}

// Single block: the sum of the row losses in a fixed order (deterministic).
__global__ void sum_kernel(const double* rows_loss, std::size_t rows, float* row_loss_out, double* total) {
  __shared__ double s[kThreads];
  double acc = 0.0;
  for (std::size_t r = threadIdx.x; r < rows; r += kThreads) {
    acc += rows_loss[r];
    if (row_loss_out != nullptr) row_loss_out[r] = static_cast<float>(rows_loss[r]);
  }
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int k = kThreads / 2; k > 0; k >>= 1) {
    if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) *total = s[0];
}
}  // namespace

bool cross_entropy_sum_cuda(const float* logits_device, const std::int64_t* targets_device, std::size_t rows,
                            std::size_t vocab, float* row_loss_device, double* sum) {
  if (cuda_device_count() == 0) return false;
  if (rows == 0) {
    *sum = 0.0;
    return true;
  }
  double *d_rows = nullptr, *d_total = nullptr;
  if (cudaMalloc(&d_rows, rows * sizeof(double)) != cudaSuccess) return false;
  if (cudaMalloc(&d_total, sizeof(double)) != cudaSuccess) {
    cudaFree(d_rows);
    return false;
  }
  row_loss_kernel<<<static_cast<unsigned>(rows), kThreads>>>(logits_device, targets_device, vocab, d_rows);
  sum_kernel<<<1, kThreads>>>(d_rows, rows, row_loss_device, d_total);
  const bool ok = cudaGetLastError() == cudaSuccess &&
                  cudaMemcpy(sum, d_total, sizeof(double), cudaMemcpyDeviceToHost) == cudaSuccess;
  cudaFree(d_rows);
  cudaFree(d_total);
  return ok;
}

}  // namespace tessera::kernels
