// CPU ranks: a c10d Gloo process group over loopback, rendezvous through a c10d FileStore.
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "trainer/data_parallel.h"

namespace tessera::trainer {

namespace {

class GlooGroup final : public DataParallelGroup {
 public:
  GlooGroup(int rank, int world, c10::intrusive_ptr<c10d::ProcessGroupGloo> pg)
      : DataParallelGroup(rank, world), pg_(std::move(pg)) {}
  std::string backend() const override { return "c10d Gloo"; }

  Status allreduce_mean_gradients(model::GPT& model) override {
    if (world() == 1) return Status::Ok();
    std::vector<torch::Tensor> grads = gradients(model);
    if (grads.empty()) return Status::Ok();
    try {
      std::vector<torch::Tensor> io{flatten(grads)};
      pg_->allreduce(io)->wait();
      io[0].div_(static_cast<double>(world()));
      unflatten(io[0], grads);
    } catch (const std::exception& e) {
      return Internal(std::string("gradient all-reduce failed: ") + e.what());
    }
    return Status::Ok();
  }

  Status broadcast(std::vector<torch::Tensor>& tensors) override {
    if (world() == 1 || tensors.empty()) return Status::Ok();
    try {
      c10d::BroadcastOptions options;
      options.rootRank = 0;
      for (auto& t : tensors) {
        std::vector<torch::Tensor> io{t};
        pg_->broadcast(io, options)->wait();
      }
    } catch (const std::exception& e) {
      return Internal(std::string("broadcast failed: ") + e.what());
    }
    return Status::Ok();
  }

 private:
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
};

}  // namespace

Result<std::unique_ptr<DataParallelGroup>> join_gloo(const std::filesystem::path& store_file, int rank, int world,
                                                     std::chrono::milliseconds timeout) {
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(store_file.string(), world);
    store->setTimeout(timeout);
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->timeout = timeout;
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
    return std::unique_ptr<DataParallelGroup>(new GlooGroup(rank, world, std::move(pg)));
  } catch (const std::exception& e) {
    return Internal("data parallel group (rank " + std::to_string(rank) + " of " + std::to_string(world) + ", " +
                    store_file.string() + "): " + e.what());
  }
}

}  // namespace tessera::trainer
