#include "trainer/data_parallel.h"

#include <cstring>

namespace tessera::trainer {

Result<std::unique_ptr<DataParallelGroup>> DataParallelGroup::join(const std::filesystem::path& store_file, int rank,
                                                                  int world, const torch::Device& device,
                                                                  std::chrono::milliseconds timeout) {
  if (world < 1 || rank < 0 || rank >= world) {
    return InvalidArgument("data parallel group: rank " + std::to_string(rank) + " of " + std::to_string(world));
  }
  if (device.is_cuda()) return join_nccl(store_file, rank, world, device, timeout);
#ifdef TESSERA_HAVE_GLOO
  if (device.is_cpu()) return join_gloo(store_file, rank, world, timeout);
#else
  if (device.is_cpu()) return FailedPrecondition("data parallel group: this build has no Gloo (CPU ranks)");
#endif
  return InvalidArgument("data parallel group: no collective backend for device " + device.str());
}

std::vector<torch::Tensor> DataParallelGroup::gradients(model::GPT& model) {
  std::vector<torch::Tensor> grads;
  for (const auto& [name, p] : model->named_params()) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

torch::Tensor DataParallelGroup::flatten(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.reshape({-1}));
  return torch::cat(flat);
}

void DataParallelGroup::unflatten(const torch::Tensor& flat, std::vector<torch::Tensor>& tensors) {
  std::int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

Status DataParallelGroup::broadcast_bytes(std::string* bytes) {
  if (world_ == 1) return Status::Ok();
  std::vector<torch::Tensor> size{torch::tensor({static_cast<std::int64_t>(bytes->size())}, torch::kLong)};
  TESSERA_RETURN_IF_ERROR(broadcast(size));
  const std::int64_t n = size[0].item<std::int64_t>();
  std::vector<torch::Tensor> data{torch::zeros({std::max<std::int64_t>(n, 1)}, torch::kUInt8)};
  if (rank_ == 0 && n > 0) std::memcpy(data[0].data_ptr<std::uint8_t>(), bytes->data(), static_cast<std::size_t>(n));
  TESSERA_RETURN_IF_ERROR(broadcast(data));
  if (rank_ != 0) bytes->assign(reinterpret_cast<const char*>(data[0].data_ptr<std::uint8_t>()), static_cast<std::size_t>(n));
  return Status::Ok();
}

}  // namespace tessera::trainer
