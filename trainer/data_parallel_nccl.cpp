// CUDA ranks: one NCCL communicator, one GPU per process. Rendezvous: rank 0 makes the
// NCCL unique id and writes it atomically to `<store_file>.nccl-id`; the other ranks wait
// for that file (the caller starts each group in a fresh folder, so no stale id exists).
#include <thread>

#include "core/file_io.h"
#include "kernels/collective.h"
#include "trainer/data_parallel.h"

namespace tessera::trainer {

namespace {

class NcclGroup final : public DataParallelGroup {
 public:
  NcclGroup(int rank, int world, torch::Device device, std::unique_ptr<kernels::NcclComm> comm)
      : DataParallelGroup(rank, world), device_(device), comm_(std::move(comm)) {}
  std::string backend() const override { return "NCCL"; }

  // Runs the collective even for one rank, so that a one-GPU machine exercises NCCL too.
  Status allreduce_mean_gradients(model::GPT& model) override {
    std::vector<torch::Tensor> grads = gradients(model);
    if (grads.empty()) return Status::Ok();
    torch::Tensor flat = flatten(grads).to(device_, torch::kFloat).contiguous();
    std::string error;
    if (!comm_->allreduce_sum(flat.data_ptr<float>(), static_cast<std::size_t>(flat.numel()), &error)) {
      return Internal("gradient all-reduce (NCCL) failed: " + error);
    }
    flat.div_(static_cast<double>(world()));
    unflatten(flat, grads);
    return Status::Ok();
  }

  // Host tensors are staged through the device: NCCL reads and writes device memory only.
  Status broadcast(std::vector<torch::Tensor>& tensors) override {
    for (auto& t : tensors) {
      torch::Tensor on_device = t.to(device_).contiguous();
      std::string error;
      if (!comm_->broadcast(on_device.data_ptr(), static_cast<std::size_t>(on_device.nbytes()), 0, &error)) {
        return Internal("broadcast (NCCL) failed: " + error);
      }
      if (!on_device.is_same(t)) t.copy_(on_device);
    }
    return Status::Ok();
  }

 private:
  torch::Device device_;
  std::unique_ptr<kernels::NcclComm> comm_;
};

}  // namespace

Result<std::unique_ptr<DataParallelGroup>> join_nccl(const std::filesystem::path& store_file, int rank, int world,
                                                     const torch::Device& device, std::chrono::milliseconds timeout) {
  const std::filesystem::path id_file = store_file.string() + ".nccl-id";
  const std::string where = "data parallel group (NCCL, rank " + std::to_string(rank) + " of " + std::to_string(world) + ")";
  std::string id, error;
  if (rank == 0) {
    id = kernels::NcclComm::unique_id(&error);
    if (id.empty()) return FailedPrecondition(where + ": " + error);
    TESSERA_RETURN_IF_ERROR(write_file_atomic(id_file, id, 0600));
  } else {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto read = read_file(id_file);
      if (read.ok()) {
        id = std::move(*read);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return DeadlineExceeded(where + ": rank 0 wrote no NCCL id to " + id_file.string() + " in time");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  auto comm = kernels::NcclComm::init(id, rank, world, device.has_index() ? device.index() : 0, &error);
  if (!comm) return FailedPrecondition(where + ": " + error);
  return std::unique_ptr<DataParallelGroup>(new NcclGroup(rank, world, device, std::move(comm)));
}

}  // namespace tessera::trainer
