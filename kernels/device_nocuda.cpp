// Built when nvcc is absent: the CUDA entry points exist and report "unavailable".
#include "kernels/axpy.h"
#include "kernels/device.h"

namespace tessera::kernels {

bool compiled_with_cuda() { return false; }
int cuda_device_count() { return 0; }
std::string describe_devices() { return "cuda: not compiled (no nvcc at build time); cpu only"; }
bool axpy_cuda(std::size_t, float, const float*, float*) { return false; }

}  // namespace tessera::kernels
