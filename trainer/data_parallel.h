// Local data parallelism inside one miner (`tessera miner --workers K`): K processes on
// one machine form a group, rendezvous through a file. Every rank draws the same batch,
// trains on its slice of the rows (r, r+K, …), and the gradients are averaged with an
// all-reduce before clipping and the AdamW step — so all ranks take identical steps, and
// the window's delta equals the one-process delta on the same pages up to float summation
// order. Rank 0 is the miner; it broadcasts each window's control record and start
// parameters to the workers.
//
// The collective backend follows the device: c10d Gloo over loopback for CPU ranks, NCCL
// for CUDA ranks (one GPU per process). Tensors handed to a group may live on the host or
// on the group's device.
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
  // `world` ranks joined or `timeout` passed. `device`: CPU (Gloo) or CUDA (NCCL).
  static Result<std::unique_ptr<DataParallelGroup>> join(const std::filesystem::path& store_file, int rank, int world,
                                                         const torch::Device& device = torch::kCPU,
                                                         std::chrono::milliseconds timeout = std::chrono::seconds(60));
  virtual ~DataParallelGroup() = default;
  int rank() const { return rank_; }
  int world() const { return world_; }
  virtual std::string backend() const = 0;

  // Every rank's gradients ← their mean over the ranks.
  virtual Status allreduce_mean_gradients(model::GPT& model) = 0;
  // Tensors (same shapes and dtypes on every rank) ← rank 0's.
  virtual Status broadcast(std::vector<torch::Tensor>& tensors) = 0;
  // Bytes ← rank 0's (any length).
  Status broadcast_bytes(std::string* bytes);

 protected:
  DataParallelGroup(int rank, int world) : rank_(rank), world_(world) {}
  // The model's gradients as one flat buffer, and back (one collective per step).
  static std::vector<torch::Tensor> gradients(model::GPT& model);
  static torch::Tensor flatten(const std::vector<torch::Tensor>& tensors);
  static void unflatten(const torch::Tensor& flat, std::vector<torch::Tensor>& tensors);

 private:
  int rank_ = 0, world_ = 1;
};

// The backends (data_parallel_gloo.cpp, data_parallel_nccl.cpp).
Result<std::unique_ptr<DataParallelGroup>> join_gloo(const std::filesystem::path& store_file, int rank, int world,
                                                     std::chrono::milliseconds timeout);
Result<std::unique_ptr<DataParallelGroup>> join_nccl(const std::filesystem::path& store_file, int rank, int world,
                                                     const torch::Device& device, std::chrono::milliseconds timeout);

}  // namespace tessera::trainer
