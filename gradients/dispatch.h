// Which kernels run on a tensor's memory: the CPU references for CPU tensors, the backend
// registered for the tensor's device type otherwise (the CUDA kernels for CUDA tensors,
// when this build has them). This is the one place where a device picks its kernels; the
// codec, apply/undo and the validator's loss all go through it.
#pragma once

#include <torch/torch.h>

#include "core/status.h"
#include "kernels/backend.h"

namespace tessera::gradients {

// The backend for `device`, or FailedPrecondition naming the device when none is
// registered (e.g. a CUDA tensor in a build without CUDA kernels).
Result<const kernels::KernelBackend*> backend_for(const torch::Device& device);

// Registers `backend` for every tensor of device type `type` (null removes it). CPU and,
// where compiled, CUDA are registered from the start; tests register a fake device.
// Call at start-up, not while kernels are being dispatched.
void register_backend(c10::DeviceType type, const kernels::KernelBackend* backend);

// A host copy (or the tensor itself when it is already a contiguous CPU tensor).
torch::Tensor to_host(const torch::Tensor& t);

}  // namespace tessera::gradients
