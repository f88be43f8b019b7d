#include "kernels/backend.h"

#include "kernels/axpy.h"
#include "kernels/blocks.h"
#include "kernels/cross_entropy.h"
#include "kernels/dct.h"
#include "kernels/device.h"
#include "kernels/scatter.h"
#include "kernels/topk.h"

namespace tessera::kernels {

namespace {

class CpuBackend final : public KernelBackend {
 public:
  std::string name() const override { return "cpu"; }
  bool topk_chunks(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                   const std::size_t* offsets, std::uint32_t* positions, float* values, bool* all_finite) const override {
    topk_chunks_cpu(data, n, chunk_len, ks, offsets, positions, values, all_finite);
    return true;
  }
  bool topk_blocks(const float* data, std::size_t rows, std::size_t cols, std::size_t block_rows,
                   std::size_t block_cols, const std::uint32_t* ks, const std::size_t* offsets,
                   std::uint32_t* positions, float* values, bool* all_finite) const override {
    topk_blocks_cpu(data, rows, cols, block_rows, block_cols, ks, offsets, positions, values, all_finite);
    return true;
  }
  bool gather_blocks(const float* matrix, std::size_t rows, std::size_t cols, std::size_t block_rows,
                     std::size_t block_cols, float* out) const override {
    gather_blocks_cpu(matrix, rows, cols, block_rows, block_cols, out);
    return true;
  }
  bool dct_blocks(float* blocks, std::size_t n_blocks, int rows, int cols, bool inverse) const override {
    return dct_blocks_cpu(blocks, n_blocks, rows, cols, inverse);
  }
  bool quantize_chunks(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                       const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales,
                       float* recon) const override {
    quantize_chunks_cpu(kind, values, chunks, ks, offsets, codes, scales, recon);
    return true;
  }
  bool dequantize_chunks(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales, std::size_t chunks,
                         const std::uint32_t* ks, const std::size_t* offsets, float* out) const override {
    dequantize_chunks_cpu(kind, codes, scales, chunks, ks, offsets, out);
    return true;
  }
  bool scatter_apply(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                     float* saved) const override {
    scatter_apply_cpu(params, idx, values, n, alpha, saved);
    return true;
  }
  bool scatter_restore(float* params, const std::int64_t* idx, const float* saved, std::size_t n) const override {
    scatter_restore_cpu(params, idx, saved, n);
    return true;
  }
  bool axpy(std::size_t n, float a, const float* x, float* y) const override {
    axpy_cpu(n, a, x, y);
    return true;
  }
  bool cross_entropy_sum(const float* logits, const std::int64_t* targets, std::size_t rows, std::size_t vocab,
                         float* row_loss, double* sum) const override {
    return cross_entropy_sum_cpu(logits, targets, rows, vocab, row_loss, sum);
  }
};

class CudaBackend final : public KernelBackend {
 public:
  std::string name() const override { return "cuda"; }
  bool topk_chunks(const float* data, std::size_t n, std::size_t chunk_len, const std::uint32_t* ks,
                   const std::size_t* offsets, std::uint32_t* positions, float* values, bool* all_finite) const override {
    return topk_chunks_cuda(data, n, chunk_len, ks, offsets, positions, values, all_finite);
  }
  bool topk_blocks(const float* data, std::size_t rows, std::size_t cols, std::size_t block_rows,
                   std::size_t block_cols, const std::uint32_t* ks, const std::size_t* offsets,
                   std::uint32_t* positions, float* values, bool* all_finite) const override {
    return topk_blocks_cuda(data, rows, cols, block_rows, block_cols, ks, offsets, positions, values, all_finite);
  }
  bool gather_blocks(const float* matrix, std::size_t rows, std::size_t cols, std::size_t block_rows,
                     std::size_t block_cols, float* out) const override {
    return gather_blocks_cuda(matrix, rows, cols, block_rows, block_cols, out);
  }
  bool dct_blocks(float* blocks, std::size_t n_blocks, int rows, int cols, bool inverse) const override {
    return dct_blocks_cuda(blocks, n_blocks, rows, cols, inverse);
  }
  bool quantize_chunks(QuantKind kind, const float* values, std::size_t chunks, const std::uint32_t* ks,
                       const std::size_t* offsets, std::uint16_t* codes, std::uint16_t* scales,
                       float* recon) const override {
    return quantize_chunks_cuda(kind, values, chunks, ks, offsets, codes, scales, recon);
  }
  bool dequantize_chunks(QuantKind kind, const std::uint16_t* codes, const std::uint16_t* scales, std::size_t chunks,
                         const std::uint32_t* ks, const std::size_t* offsets, float* out) const override {
    return dequantize_chunks_cuda(kind, codes, scales, chunks, ks, offsets, out);
  }
  bool scatter_apply(float* params, const std::int64_t* idx, const float* values, std::size_t n, float alpha,
                     float* saved) const override {
    return scatter_apply_cuda(params, idx, values, n, alpha, saved);
  }
  bool scatter_restore(float* params, const std::int64_t* idx, const float* saved, std::size_t n) const override {
    return scatter_restore_cuda(params, idx, saved, n);
  }
  bool axpy(std::size_t n, float a, const float* x, float* y) const override { return axpy_cuda(n, a, x, y); }
  bool cross_entropy_sum(const float* logits, const std::int64_t* targets, std::size_t rows, std::size_t vocab,
                         float* row_loss, double* sum) const override {
    return cross_entropy_sum_cuda(logits, targets, rows, vocab, row_loss, sum);
  }
};

}  // namespace

const KernelBackend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

const KernelBackend* cuda_backend() {
  static const CudaBackend backend;
  return compiled_with_cuda() ? &backend : nullptr;
}

}  // namespace tessera::kernels
