// Built when nvcc is absent: the CUDA entry points exist and report "unavailable".
#include "kernels/axpy.h"
#include "kernels/device.h"
#include "kernels/scatter.h"
#include "kernels/topk.h"

namespace tessera::kernels {

bool compiled_with_cuda() { return false; }
int cuda_device_count() { return 0; }
std::string describe_devices() { return "cuda: not compiled (no nvcc at build time); cpu only"; }
bool axpy_cuda(std::size_t, float, const float*, float*) { return false; }
bool topk_chunks_cuda(const float*, std::size_t, std::size_t, const std::uint32_t*, const std::size_t*,
                      std::uint32_t*, float*) {
  return false;
}
bool scatter_apply_cuda(float*, const std::int64_t*, const float*, std::size_t, float, float*) { return false; }
bool scatter_restore_cuda(float*, const std::int64_t*, const float*, std::size_t) { return false; }

}  // namespace tessera::kernels
