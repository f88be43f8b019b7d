// y ← y + a·x over flat float buffers: the dense update used when a merged delta or an
// optimizer step is applied to a parameter buffer. CPU reference and CUDA version share
// the signature and semantics; the CUDA version takes device pointers.
#pragma once

#include <cstddef>

namespace tessera::kernels {

void axpy_cpu(std::size_t n, float a, const float* x, float* y);
// Returns false (and does nothing) when CUDA is unavailable or the launch failed.
bool axpy_cuda(std::size_t n, float a, const float* x_device, float* y_device);

}  // namespace tessera::kernels
