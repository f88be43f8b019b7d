// Following a subnet's checkpoints as a miner or validator does: read the newest
// announcement on chain, and load that checkpoint — from memory when it is the one
// already held, from a local store (the aggregator's own), or by pulling it from the
// announced CheckpointService (or a mirror), verified against the announced hash and
// signed by the hotkey that announced it. When it holds the
// announced checkpoint's parent it first tries the merged update (update.h): a few
// kilobytes instead of the whole model, verified against the same manifest.
//
// Sources, in order: the announced CheckpointService, the operator's mirrors, then the
// other neurons of the subnet that serve one (their checkpoint address on chain; highest
// stake first, at most kNeuronSources). Content addressing makes any source safe: a
// source that lies is dropped as soon as it does.
//
// Checkpoints taken (pulled or caught up by an update) are kept under
// `cache_dir/objects/<hash>/`, the layout of a checkpoint store, so that a read-only
// CheckpointStore over `cache_dir` re-serves them to others; only the newest two are kept.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "chain-bridge/client.h"
#include "checkpoints/service.h"
#include "checkpoints/store.h"
#include "core/status.h"

namespace tessera::checkpoints {

struct FollowerStats {
  std::uint64_t pulls = 0;
  std::uint64_t updates = 0;        // catch-ups by a merged update instead of a pull
  std::uint64_t update_bytes = 0;
  std::uint64_t bytes_pulled = 0;
  double pull_seconds = 0.0;
};

class CheckpointFollower {
 public:
  CheckpointFollower(chain::ChainClient* chain, std::uint32_t netuid, std::filesystem::path cache_dir,
                     const CheckpointStore* local = nullptr)
      : chain_(chain), netuid_(netuid), cache_dir_(std::move(cache_dir)), local_(local) {}

  // The newest announcement (nullopt: none yet).
  Result<std::optional<chain::CheckpointInfo>> announced();
  // The announcement of one window.
  Result<std::optional<chain::CheckpointInfo>> announced(std::uint64_t window);
  // The checkpoint an announcement names, verified. The pointer stays valid until the
  // next load().
  Result<const Checkpoint*> load(const chain::CheckpointInfo& info);
  const Checkpoint* current() const { return current_ ? &*current_ : nullptr; }
  // Limits and mirrors for pulls (PullOptions: deadline, minimum rate, other sources);
  // the address, hash, signer and folder come from each announcement.
  void set_pull_options(PullOptions options) { pull_ = std::move(options); }
  // This neuron's own CheckpointService, left out of the sources.
  void set_own_address(std::string address) { own_address_ = std::move(address); }
  const FollowerStats& stats() const { return stats_; }
  // Where checkpoint `hash` is kept.
  std::filesystem::path folder(const std::string& hash) const { return cache_dir_ / "objects" / hash; }

  static constexpr std::size_t kNeuronSources = 8;

 private:
  chain::ChainClient* chain_;
  std::uint32_t netuid_;
  std::filesystem::path cache_dir_;
  const CheckpointStore* local_;
  std::vector<std::string> neuron_sources(const std::string& announced) const;
  void keep(const Checkpoint& checkpoint);

  std::optional<Checkpoint> current_;
  PullOptions pull_;
  std::string own_address_;
  FollowerStats stats_;
};

}  // namespace tessera::checkpoints
