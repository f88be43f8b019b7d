// What a miner keeps across restarts, so it resumes warm instead of cold: the
// error-feedback buffers (what the codec has not sent yet) and the inner AdamW state,
// saved as tensor files beside a Boost.Serialization record (sealed, core/file_io.h) that
// names the run, the identity, the last submitted window, the submission nonce and the
// BLAKE2b-256 of each tensor file. A damaged or mismatching record or tensor file is
// detected, reported and discarded: the miner starts cold rather than trust it.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::trainer {

struct MinerRecord {
  std::uint32_t netuid = 0;
  std::string hotkey;     // hex
  std::string spec_hash;  // hex BLAKE2b of the run spec text
  bool has_window = false;
  std::uint64_t last_window = 0;
  std::uint64_t nonce = 0;
  std::string ef_hash, optimizer_hash;  // hex BLAKE2b of ef.safetensors / optimizer.pt
  std::map<std::string, std::uint64_t> counters;

  template <class A>
  void serialize(A& ar, unsigned) {
    ar& netuid& hotkey& spec_hash& has_window& last_window& nonce& ef_hash& optimizer_hash& counters;
  }
};

struct MinerSnapshot {
  MinerRecord record;
  std::vector<std::pair<std::uint32_t, torch::Tensor>> ef;  // error-feedback buffers by parameter index
  std::string optimizer;  // torch archive bytes of the inner optimizer's state
};

// Writes the tensor files first, then the record (each atomically): a crash in between
// leaves a record whose hashes do not match, which load reports.
Status save_miner_state(const std::filesystem::path& dir, const MinerSnapshot& snapshot);
// NotFound when there is no state; Corrupted naming the damaged file.
Result<MinerSnapshot> load_miner_state(const std::filesystem::path& dir);

// The inner optimizer's state as bytes and back (torch's archive format).
std::string save_optimizer(torch::optim::Optimizer& optimizer);
// The loaded state goes to `device`: bytes written on one device load on any other.
Status load_optimizer(torch::optim::Optimizer& optimizer, const std::string& bytes,
                      const torch::Device& device = torch::kCPU);

}  // namespace tessera::trainer
