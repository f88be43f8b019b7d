// Which compute devices exist. CUDA kernels are compiled whenever nvcc exists
// (TESSERA_HAVE_CUDA); whether they can run is decided at run time: a machine without a
// driver or without a GPU reports zero devices and every caller takes the CPU path.
#pragma once

#include <string>

namespace tessera::kernels {

bool compiled_with_cuda();
// Number of usable CUDA devices; 0 when CUDA is not compiled in, no driver is loaded or
// no GPU is present (cudaGetDeviceCount returning an error means "no device").
int cuda_device_count();
// Compute capability as major·10 + minor (e.g. 90 for Hopper); 0 when not available.
int cuda_compute_capability(int device);
// One line for logs: "cuda: compiled, 0 devices (CUDA driver version is insufficient …)".
std::string describe_devices();

}  // namespace tessera::kernels
