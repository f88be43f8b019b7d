#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>

#include "kernels/collective.h"

namespace tessera::kernels {

struct NcclComm::Impl {
  ncclComm_t comm = nullptr;
  int device = 0;
};

namespace {

bool cuda_ok(cudaError_t e, const char* what, std::string* error) {
  if (e == cudaSuccess) return true;
  *error = std::string(what) + ": " + cudaGetErrorString(e);
  return false;
}

bool nccl_ok(ncclResult_t r, const char* what, std::string* error) {
  if (r == ncclSuccess) return true;
  *error = std::string(what) + ": " + ncclGetErrorString(r);
  return false;
}

}  // namespace

bool NcclComm::compiled() { return true; }

std::string NcclComm::unique_id(std::string* error) {
  ncclUniqueId id;
  if (!nccl_ok(ncclGetUniqueId(&id), "ncclGetUniqueId", error)) return {};
  return std::string(id.internal, sizeof(id.internal));
}

std::unique_ptr<NcclComm> NcclComm::init(const std::string& unique_id, int rank, int world, int device,
                                         std::string* error) {
  ncclUniqueId id;
  if (unique_id.size() != sizeof(id.internal)) {
    *error = "NCCL unique id has " + std::to_string(unique_id.size()) + " bytes, expected " +
             std::to_string(sizeof(id.internal));
    return nullptr;
  }
  std::memcpy(id.internal, unique_id.data(), sizeof(id.internal));
  if (!cuda_ok(cudaSetDevice(device), "cudaSetDevice", error)) return nullptr;
  std::unique_ptr<NcclComm> c(new NcclComm());
  c->impl_ = std::make_unique<Impl>();
  c->impl_->device = device;
  if (!nccl_ok(ncclCommInitRank(&c->impl_->comm, world, id, rank), "ncclCommInitRank", error)) return nullptr;
  return c;
}

NcclComm::~NcclComm() {
  if (impl_ && impl_->comm != nullptr) ncclCommDestroy(impl_->comm);
}

bool NcclComm::allreduce_sum(float* data, std::size_t count, std::string* error) {
  return cuda_ok(cudaSetDevice(impl_->device), "cudaSetDevice", error) &&
         cuda_ok(cudaDeviceSynchronize(), "before all-reduce", error) &&
         nccl_ok(ncclAllReduce(data, data, count, ncclFloat, ncclSum, impl_->comm, nullptr), "ncclAllReduce", error) &&
         cuda_ok(cudaDeviceSynchronize(), "after all-reduce", error);
}

bool NcclComm::broadcast(void* data, std::size_t bytes, int root, std::string* error) {
  return cuda_ok(cudaSetDevice(impl_->device), "cudaSetDevice", error) &&
         cuda_ok(cudaDeviceSynchronize(), "before broadcast", error) &&
         nccl_ok(ncclBroadcast(data, data, bytes, ncclChar, root, impl_->comm, nullptr), "ncclBroadcast", error) &&
         cuda_ok(cudaDeviceSynchronize(), "after broadcast", error);
}

}  // namespace tessera::kernels
