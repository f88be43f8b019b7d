// Local data parallelism inside one miner (`tessera miner --workers K`): K processes on
// one machine form a torch c10d process group (Gloo over loopback, rendezvous through a
// FileStore). Every rank draws the same batch, trains on its slice of the rows (r, r+K,
// …), and the gradients are averaged with an all-reduce before clipping and the AdamW
// step — so all ranks take identical steps, and the window's delta equals the one-process
// delta on the same pages up to float summation order. Rank 0 is the miner; it
// broadcasts each window's control record and start parameters to the workers.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/gpt.h"

namespace tessera::trainer {

class DataParallelGroup {
 public:
  // Joins (or creates) the group whose rendezvous file is `store_file`; blocks until all
  // `world` ranks joined or `timeout` passed.
  static Result<std::unique_ptr<DataParallelGroup>> join(const std::filesystem::path& store_file, int rank, int world,
                                                         std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~DataParallelGroup();
  int rank() const { return rank_; }
  int world() const { return world_; }

  // Every rank's gradients ← their mean over the ranks.
  Status allreduce_mean_gradients(model::GPT& model);
  // Tensors (same shapes and dtypes on every rank) ← rank 0's.
  Status broadcast(std::vector<torch::Tensor>& tensors);
  // Bytes ← rank 0's (any length).
  Status broadcast_bytes(std::string* bytes);

 private:
  DataParallelGroup() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_ = 1;
};

}  // namespace tessera::trainer
