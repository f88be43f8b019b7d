// Getting a checkpoint to use (generation, export): pulled from the subnet, verified
// against the chain's announcement, or read from a local folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoints/service.h"
#include "cli/commands.h"

namespace tessera::cli {

struct PullFlags {
  std::vector<std::string> from;  // sources in order: the first, then mirrors
  std::string hash, chain, out, format = "safetensors";
  std::string aggregator;  // subtensor: the designated aggregator (SS58 or hex) whose announcements count
  std::uint32_t netuid = 0;
  long window = -1;
  double deadline_s = 1800, min_rate_kib = 256;
};

// `checkpoint pull` without its printing: with netuid, the announced hash, signer and
// server (then the --from mirrors); a progress bar on a terminal when asked.
Result<checkpoints::PullResult> pull_with_flags(const PullFlags& flags, bool show_progress);

// `folder` when given (read_checkpoint_folder: checked against itself only); else the
// latest checkpoint subnet `netuid` announced on `chain`, pulled into
// <home>/pulled/subnet-<netuid> and verified against the announcement. Says on stderr
// which it used and what was verified.
Result<checkpoints::Checkpoint> checkpoint_for_use(const GlobalOptions& global, const std::string& folder,
                                                   std::uint32_t netuid, const std::string& chain);

}  // namespace tessera::cli
