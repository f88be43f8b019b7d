// Linked against the no-CUDA stubs (kernels/device_nocuda.cpp) with the CPU kernels: each
// CUDA entry point must exist with its header's signature and report "unavailable".
#include <gtest/gtest.h>

#include "kernels/axpy.h"
#include "kernels/backend.h"
#include "kernels/blocks.h"
#include "kernels/cross_entropy.h"
#include "kernels/dct.h"
#include "kernels/device.h"
#include "kernels/quantize.h"
#include "kernels/scatter.h"
#include "kernels/topk.h"

namespace tessera::kernels {
namespace {

TEST(NoCuda, EveryEntryPointLinksAndReportsUnavailable) {
  EXPECT_FALSE(compiled_with_cuda());
  EXPECT_EQ(cuda_device_count(), 0);
  EXPECT_EQ(cuda_backend(), nullptr);
  EXPECT_EQ(cuda_compute_capability(0), 0);
  float f[4] = {1, 2, 3, 4};
  std::uint32_t ks[1] = {1}, pos[1] = {0};
  std::size_t offsets[1] = {0};
  std::int64_t idx[1] = {0};
  std::uint16_t codes[1] = {0}, scales[2] = {0, 0};
  bool finite = true;
  double sum = 0;
  EXPECT_FALSE(axpy_cuda(4, 1.0f, f, f));
  EXPECT_FALSE(cross_entropy_sum_cuda(f, idx, 1, 4, nullptr, &sum));
  EXPECT_FALSE(topk_chunks_cuda(f, 4, 4, ks, offsets, pos, f, &finite));
  EXPECT_FALSE(topk_blocks_cuda(f, 2, 2, 2, 2, ks, offsets, pos, f, &finite));
  EXPECT_FALSE(gather_blocks_cuda(f, 2, 2, 1, 1, f));
  EXPECT_FALSE(scatter_apply_cuda(f, idx, f, 1, 1.0f, f));
  EXPECT_FALSE(scatter_restore_cuda(f, idx, f, 1));
  EXPECT_FALSE(dct_blocks_cuda(f, 1, 2, 2, false));
  EXPECT_FALSE(quantize_chunks_cuda(QuantKind::kInt2, f, 1, ks, offsets, codes, scales, f));
  EXPECT_FALSE(dequantize_chunks_cuda(QuantKind::kInt2, codes, scales, 1, ks, offsets, f));
  EXPECT_TRUE(cpu_backend().axpy(4, 1.0f, f, f));
  EXPECT_EQ(f[3], 8.0f);
}

}  // namespace
}  // namespace tessera::kernels
