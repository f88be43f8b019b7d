// The validator role (`tessera validator`, DESIGN.md §1 step 3): registers, serves its
// ZeroMQ endpoint and CURVE key on chain, follows the announced checkpoints, and for
// every window, once its submission deadline passed, evaluates what arrived
// (evaluator.h), folds the scores into per-uid moving averages, writes its signed verdict
// and every `validator.windows_per_weights` windows sets weights on chain (commit–reveal
// when the subnet enables it). With `aggregate`, it also merges the verdict's accepted
// deltas into the next checkpoint (aggregator/window.h), stores and serves it, and
// announces its hash on chain — the subnet must name this validator's hotkey as its
// aggregator.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

#include "core/status.h"
#include "proto/net.pb.h"
#include "trainer/join.h"
#include "verification/evaluator.h"
#include "verification/state.h"

namespace tessera::verification {

struct ValidatorOptions {
  trainer::JoinOptions join;
  std::string listen = "tcp://127.0.0.1:0";  // ZeroMQ bind address of the submission endpoint
  std::string checkpoint_listen = "127.0.0.1:0";  // gRPC CheckpointService (with aggregate)
  int checkpoint_data_port = 0;                   // its raw data plane, same host (0: any free port)
  bool aggregate = false;
  std::size_t keep_checkpoints = 32;  // with aggregate: the newest N stay in the store (and verifiable)
  int threads = 0;
  // Where submissions are evaluated (model/device.h). The merge and the outer step stay on
  // the CPU whatever the device: they are consensus (docs/devices.md).
  torch::Device device = torch::kCPU;
  std::uint64_t windows = 0;  // stop after this many evaluated windows (0: until Ctrl-C)
  std::uint64_t stake_rao = 0;  // stake the hotkey up to this amount at start
  std::function<void(const std::string& json)> on_window;  // one JSON status object per window
};

Status run_validator(const ValidatorOptions& options);

// Folds one window into the moving averages: every uid of `hotkeys` (uid → raw hotkey,
// the current metagraph) decays by (1 − α) and gains α · score when it submitted. A uid
// whose hotkey changed (replaced registration) starts from zero.
void update_scores(ValidatorState& state, const WindowReport& report, double alpha,
                   const std::map<std::uint32_t, std::string>& hotkeys);
// Weights (uids, u16-scaled values) from the averages: every uid with a positive average,
// the largest scaled to 65535.
std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>> weights_from_scores(const ValidatorState& state);

// The verdict of a window: scored submissions in arrival order; signed by `hotkey`.
proto::SignedVerdict make_verdict(std::uint32_t netuid, std::uint64_t window, const std::string& base_hash_hex,
                                  const WindowReport& report, std::uint64_t eval_seed, const Keypair& hotkey);
// Verifies a verdict's signature against the validator hotkey it names.
Result<proto::Verdict> open_verdict(const proto::SignedVerdict& signed_verdict);

}  // namespace tessera::verification
