// One dispatch point for every kernel family: a KernelBackend runs the families on the
// memory of one kind of device, and every pointer handed to it lives there (host memory
// for the CPU backend, device memory for CUDA). Each call has the semantics of the
// family's header (topk.h, blocks.h, dct.h, quantize.h, scatter.h, axpy.h,
// cross_entropy.h) and returns false when the backend could not run it; the CPU backend
// fails only where its reference does (an out-of-range DCT side, an out-of-range target).
// Callers that hold tensors pick the backend by the tensor's device (gradients/dispatch.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/quantize.h"

namespace tessera::kernels {

class KernelBackend {
 public:
  virtual ~KernelBackend() = default;
  virtual std::string name() const = 0;

  virtual bool topk_chunks(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                           const std::size_t* offsets, std::uint32_t* positions, float* values,
                           bool* all_finite) const = 0;
  virtual bool topk_blocks(const float* data, std::size_t rows, std::size_t cols, std::size_t block_rows,
                           std::size_t block_cols, const std::uint32_t* ks, const std::size_t* offsets,
                           std::uint32_t* positions, float* values, bool* all_finite) const = 0;
  virtual bool gather_blocks(const float* matrix, std::size_t rows, std::size_t cols, std::size_t block_rows,
                             std::size_t block_cols, float* out) const = 0;
  virtual bool dct_blocks(float* blocks, std::size_t n_blocks, int rows, int cols, bool inverse) const = 0;
  virtual bool quantize_chunks(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                               const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales,
                               float* recon) const = 0;
  virtual bool dequantize_chunks(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales,
                                 std::size_t chunks, const std::uint32_t* ks, const std::size_t* offsets,
                                 float* out) const = 0;
  virtual bool scatter_apply(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                             float* saved) const = 0;
  virtual bool scatter_restore(float* params, const std::int64_t* idx, const float* saved, std::size_t n) const = 0;
  virtual bool axpy(std::size_t n, float a, const float* x, float* y) const = 0;
  // `sum` is host memory on every backend.
  virtual bool cross_entropy_sum(const float* logits, const std::int64_t* targets, std::size_t rows, std::size_t vocab,
                                 float* row_loss, double* sum) const = 0;
};

// The CPU references (host memory).
const KernelBackend& cpu_backend();
// The CUDA kernels (device memory of the current CUDA device); null when this build has
// no CUDA kernels. Calls fail when no device is usable.
const KernelBackend* cuda_backend();

}  // namespace tessera::kernels
