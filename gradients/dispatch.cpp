#include "gradients/dispatch.h"

#include <map>
#include <mutex>

namespace tessera::gradients {

namespace {

struct Registry {
  std::mutex mu;
  std::map<c10::DeviceType, const kernels::KernelBackend*> backends;
  Registry() {
    backends[c10::DeviceType::CPU] = &kernels::cpu_backend();
    if (const auto* cuda = kernels::cuda_backend()) backends[c10::DeviceType::CUDA] = cuda;
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

Result<const kernels::KernelBackend*> backend_for(const torch::Device& device) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.backends.find(device.type());
  if (it == r.backends.end() || it->second == nullptr) {
    return FailedPrecondition("no kernels for device " + device.str() +
                              (device.is_cuda() ? " (this build has no CUDA kernels: nvcc was not found)" : ""));
  }
  return it->second;
}

void register_backend(c10::DeviceType type, const kernels::KernelBackend* backend) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (backend == nullptr) {
    r.backends.erase(type);
  } else {
    r.backends[type] = backend;
  }
}

torch::Tensor to_host(const torch::Tensor& t) {
  return t.device().is_cpu() && t.is_contiguous() ? t : t.to(torch::kCPU).contiguous();
}

}  // namespace tessera::gradients
