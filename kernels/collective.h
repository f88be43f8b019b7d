// NCCL collectives over raw device pointers: one communicator per process, one GPU each
// (`tessera miner --workers K --device cuda`). Available when the build found NCCL
// (TESSERA_HAVE_NCCL); otherwise every call fails with a message saying so. Calls are
// synchronous: they wait for the device before and after, so they order correctly with
// work libtorch queued on any stream.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace tessera::kernels {

class NcclComm {
 public:
  static bool compiled();
  // A fresh unique id for a new communicator (rank 0 makes it, every rank passes it to
  // init); empty with *error set on failure.
  static std::string unique_id(std::string* error);
  static std::unique_ptr<NcclComm> init(const std::string& unique_id, int rank, int world, int device,
                                        std::string* error);
  ~NcclComm();

  bool allreduce_sum(float* data, std::size_t count, std::string* error);
  bool broadcast(void* data, std::size_t bytes, int root, std::string* error);

 private:
  NcclComm() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::kernels
