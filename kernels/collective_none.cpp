// Built when NCCL was not found: the collectives exist and say why they cannot run.
#include "kernels/collective.h"

namespace tessera::kernels {

struct NcclComm::Impl {};

namespace {
const char* kMissing = "this build has no NCCL (nccl.h and libnccl were not found with the CUDA toolkit)";
}

bool NcclComm::compiled() { return false; }
std::string NcclComm::unique_id(std::string* error) {
  *error = kMissing;
  return {};
}
std::unique_ptr<NcclComm> NcclComm::init(const std::string&, int, int, int, std::string* error) {
  *error = kMissing;
  return nullptr;
}
NcclComm::~NcclComm() = default;
bool NcclComm::allreduce_sum(float*, std::size_t, std::string* error) {
  *error = kMissing;
  return false;
}
bool NcclComm::broadcast(void*, std::size_t, int, std::string* error) {
  *error = kMissing;
  return false;
}

}  // namespace tessera::kernels
