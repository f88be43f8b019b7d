#include "trainer/data_parallel.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

namespace tessera::trainer {

struct DataParallelGroup::Impl {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

Result<std::unique_ptr<DataParallelGroup>> DataParallelGroup::join(const std::filesystem::path& store_file, int rank,
                                                                  int world, std::chrono::milliseconds timeout) {
  if (world < 1 || rank < 0 || rank >= world) {
    return InvalidArgument("data parallel group: rank " + std::to_string(rank) + " of " + std::to_string(world));
  }
  std::unique_ptr<DataParallelGroup> g(new DataParallelGroup());
  g->rank_ = rank;
  g->world_ = world;
  g->impl_ = std::make_unique<Impl>();
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(store_file.string(), world);
    store->setTimeout(timeout);
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->timeout = timeout;
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    g->impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
  } catch (const std::exception& e) {
    return Internal("data parallel group (rank " + std::to_string(rank) + " of " + std::to_string(world) + ", " +
                    store_file.string() + "): " + e.what());
  }
  return g;
}

DataParallelGroup::~DataParallelGroup() = default;

Status DataParallelGroup::allreduce_mean_gradients(model::GPT& model) {
  if (world_ == 1) return Status::Ok();
  std::vector<torch::Tensor> grads;
  for (const auto& [name, p] : model->named_params()) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return Status::Ok();
  try {
    // One flat buffer: a single all-reduce per step.
    torch::Tensor flat = torch::cat([&] {
      std::vector<torch::Tensor> v;
      for (const auto& g : grads) v.push_back(g.reshape({-1}));
      return v;
    }());
    std::vector<torch::Tensor> io{flat};
    impl_->pg->allreduce(io)->wait();
    flat.div_(static_cast<double>(world_));
    std::int64_t offset = 0;
    for (auto& g : grads) {
      g.copy_(flat.narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
  } catch (const std::exception& e) {
    return Internal(std::string("gradient all-reduce failed: ") + e.what());
  }
  return Status::Ok();
}

Status DataParallelGroup::broadcast(std::vector<torch::Tensor>& tensors) {
  if (world_ == 1 || tensors.empty()) return Status::Ok();
  try {
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    for (auto& t : tensors) {
      std::vector<torch::Tensor> io{t};
      impl_->pg->broadcast(io, options)->wait();
    }
  } catch (const std::exception& e) {
    return Internal(std::string("broadcast failed: ") + e.what());
  }
  return Status::Ok();
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
