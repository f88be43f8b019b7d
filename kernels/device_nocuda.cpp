// Built when nvcc is absent: every CUDA entry point exists with its header's exact
// signature and reports "unavailable". tests/kernels/nocuda_test.cpp links this file and
// calls each one, so a stub that drifts from its declaration fails to link.
#include "kernels/axpy.h"
#include "kernels/blocks.h"
#include "kernels/cross_entropy.h"
#include "kernels/dct.h"
#include "kernels/device.h"
#include "kernels/quantize.h"
#include "kernels/scatter.h"
#include "kernels/topk.h"

namespace tessera::kernels {

bool compiled_with_cuda() { return false; }
int cuda_device_count() { return 0; }
int cuda_compute_capability(int) { return 0; }
std::string describe_devices() { return "cuda: not compiled (no nvcc at build time); cpu only"; }
bool axpy_cuda(std::size_t, float, const float*, float*) { return false; }
bool cross_entropy_sum_cuda(const float*, const std::int64_t*, std::size_t, std::size_t, float*, double*) { return false; }
bool topk_chunks_cuda(const float*, std::size_t, std::size_t, const std::uint32_t*, const std::size_t*,
                      std::uint32_t*, float*, bool*) {
  return false;
}
bool topk_blocks_cuda(const float*, std::size_t, std::size_t, std::size_t, std::size_t, const std::uint32_t*,
                      const std::size_t*, std::uint32_t*, float*, bool*) {
  return false;
}
bool gather_blocks_cuda(const float*, std::size_t, std::size_t, std::size_t, std::size_t, float*) { return false; }
bool scatter_apply_cuda(float*, const std::int64_t*, const float*, std::size_t, float, float*) { return false; }
bool scatter_restore_cuda(float*, const std::int64_t*, const float*, std::size_t) { return false; }
bool dct_blocks_cuda(float*, std::size_t, int, int, bool) { return false; }
bool quantize_chunks_cuda(QuantKind, const float*, std::size_t, const std::uint32_t*, const std::size_t*,
                          std::uint16_t*, std::uint16_t*, float*) {
  return false;
}
bool dequantize_chunks_cuda(QuantKind, const std::uint16_t*, const std::uint16_t*, std::size_t,
                            const std::uint32_t*, const std::size_t*, float*) {
  return false;
}

}  // namespace tessera::kernels
