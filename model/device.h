// The compute device of a role (`--device cpu|cuda[:N]`): where the model, the optimizer
// state, the error-feedback buffers and the evaluation batches live. Checkpoints, payloads
// and state files stay device-independent bytes.
#pragma once

#include <torch/torch.h>

#include <string>

#include "core/status.h"

namespace tessera::model {

// "cpu", "cuda" or "cuda:N" → a usable device, or FailedPrecondition naming what is
// missing: a libtorch built without CUDA (Debian's is CPU-only; docs/devices.md says how
// to build against a CUDA libtorch), a build without the CUDA kernels (no nvcc), no
// visible GPU, or a device index beyond the GPUs present.
Result<torch::Device> resolve_device(const std::string& name);

// One line for `tessera info`: the libtorch version and whether it has CUDA, with the
// GPUs it sees.
std::string describe_torch();

// bf16 autocast around a training step on `device`, when `enabled` and the device is a
// CUDA GPU that supports bf16 (compute capability 8.0 or later); otherwise a no-op.
// Returns whether autocast is on.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool previous_ = false;
};

// Whether bf16 autocast would run on `device` (see AutocastGuard).
bool supports_bf16_autocast(const torch::Device& device);

}  // namespace tessera::model
