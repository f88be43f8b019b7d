#include "model/device.h"

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "kernels/device.h"

namespace tessera::model {

namespace {

bool libtorch_has_cuda() { return at::globalContext().hasCUDA(); }

std::string libtorch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// torch 2.4 replaced the per-backend autocast switches with device-typed ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool cuda_autocast_enabled() { return at::autocast::is_autocast_enabled(at::kCUDA); }
void set_cuda_autocast(bool on) {
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, on);
}
#else
bool cuda_autocast_enabled() { return at::autocast::is_enabled(); }
void set_cuda_autocast(bool on) {
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(on);
}
#endif

}  // namespace

Result<torch::Device> resolve_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const std::exception&) {
    return InvalidArgument("--device " + name + ": expected cpu, cuda or cuda:N");
  }
  if (device.is_cpu()) return device;
  if (!device.is_cuda()) return InvalidArgument("--device " + name + ": expected cpu, cuda or cuda:N");
  const std::string what = "--device " + name + ": ";
  if (!libtorch_has_cuda()) {
    return FailedPrecondition(what + "this build's libtorch " + libtorch_version() +
                              " is CPU-only (Debian's is); build against a CUDA libtorch, e.g. "
                              "cmake -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') "
                              "(docs/devices.md), or use --device cpu");
  }
  if (!kernels::compiled_with_cuda()) {
    return FailedPrecondition(what + "this build has no CUDA kernels (nvcc was not found when it was configured); "
                              "reconfigure with nvcc on the PATH or -DTESSERA_CUDA=ON");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (count == 0) return FailedPrecondition(what + "no CUDA device is visible (" + kernels::describe_devices() + ")");
  const int index = device.has_index() ? device.index() : 0;
  if (index >= count) {
    return FailedPrecondition(what + "device " + std::to_string(index) + " does not exist (" + std::to_string(count) +
                              " visible)");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string describe_torch() {
  std::string out = "libtorch " + libtorch_version() + (libtorch_has_cuda() ? " with CUDA" : " (CPU only)");
  if (libtorch_has_cuda()) out += ", " + std::to_string(torch::cuda::device_count()) + " GPU(s) visible";
  return out;
}

bool supports_bf16_autocast(const torch::Device& device) {
  return device.is_cuda() && kernels::cuda_compute_capability(device.has_index() ? device.index() : 0) >= 80;
}

AutocastGuard::AutocastGuard(const torch::Device& device, bool enabled) {
  if (!enabled || !supports_bf16_autocast(device)) return;
  previous_ = cuda_autocast_enabled();
  set_cuda_autocast(true);
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  set_cuda_autocast(previous_);
  at::autocast::clear_cache();
}

}  // namespace tessera::model
