// Checking a node's data folder offline (`tessera chain check`): replay the block log
// from genesis under the node's rules, block by block, and compare every recorded state
// hash; then check that the snapshot is a state the log passes through. Nothing in the
// folder is modified. The report names the first block that does not replay, with its
// extrinsics, so an operator (or a developer) can see what went wrong there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "chain-bridge/ledger.h"
#include "core/status.h"

namespace tessera::chain {

struct ReplayReport {
  std::uint64_t blocks = 0;             // complete records in the log
  std::uint64_t verified = 0;           // blocks replayed with their recorded state hash
  std::uint64_t log_bytes = 0, valid_bytes = 0;  // the log's size and the span of complete records
  std::string log_problem;              // why records stop before the end ("" when they do not)
  std::optional<std::uint64_t> diverged_at;  // first block that does not replay
  std::string divergence;               // what differs there
  std::vector<std::string> extrinsics;  // that block's extrinsics, described
  std::optional<std::uint64_t> snapshot_height;
  std::string snapshot_problem;         // "" when the snapshot matches the replayed state
  bool ok() const { return !diverged_at && log_problem.empty() && snapshot_problem.empty(); }
  std::string to_text() const;
};

Result<ReplayReport> check_data_dir(const std::filesystem::path& dir);

// Replays `blocks` on `ledger` (the state after block `from`, whose hash is `head_hash`),
// checking each block's height, parent and recorded state hash. Stops at the first block
// that does not replay and says why in `report` (diverged_at, divergence, extrinsics).
// `head_hash` ends at the last good block, and so does `ledger` unless a block diverged
// (then it holds that block's state); `on_block` runs after each good block.
void replay_blocks(const std::vector<proto::Block>& blocks, std::uint64_t from, Ledger* ledger, std::string* head_hash,
                   ReplayReport* report, const std::function<void(const proto::Block&)>& on_block = {});

// One line per extrinsic: signer, nonce, the call and its arguments.
std::string describe_extrinsic(const proto::Extrinsic& ex);

}  // namespace tessera::chain
