// The validator role (`tessera validator`, DESIGN.md §1 step 3): registers, serves its
// ZeroMQ endpoint and CURVE key on chain, follows the announced checkpoints, and for
// every window, once its submission deadline passed, evaluates what arrived
// (evaluator.h), folds the scores into per-uid moving averages, writes its signed verdict
// and every `validator.windows_per_weights` windows sets weights on chain (commit–reveal
// when the subnet enables it). An aggregating validator hands each window's outcome to a
// WindowAggregator, which merges and announces the next checkpoint; verification/ knows
// nothing of merging (node/ composes the two).
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "checkpoints/store.h"
#include "core/status.h"
#include "net/submission.h"
#include "proto/chain.pb.h"
#include "proto/net.pb.h"
#include "subnet/join.h"
#include "verification/evaluator.h"
#include "verification/state.h"

namespace tessera::verification {

// What an aggregating validator adds after each window's verdict (DESIGN.md §1 step 4).
class WindowAggregator {
 public:
  struct Published {
    std::string hash;        // hex content hash of the announced checkpoint
    std::size_t merged = 0;  // deltas merged into it
    std::vector<torch::Tensor> update;  // U_w: their merge, one tensor per parameter (undefined: untouched)
  };
  virtual ~WindowAggregator() = default;
  // Once the validator joined: checks that the subnet names this hotkey as its aggregator
  // and starts serving checkpoints. Returns the store checkpoints are followed from.
  // `joined` outlives the aggregator.
  virtual Result<checkpoints::CheckpointStore*> start(const subnet::Joined& joined, const std::filesystem::path& dir) = 0;
  // For the start-up log line, e.g. "checkpoints at 127.0.0.1:4711".
  virtual std::string describe() const = 0;
  // The CheckpointService it serves (host:port), published with the validator's endpoint.
  virtual std::string checkpoint_address() const = 0;
  // Nothing announced yet: publish the run's first checkpoint for `window` and announce it.
  virtual Status publish_initial(std::uint64_t window) = 0;
  // Window `base.manifest.window` was judged (`report`, in the order of `submissions`):
  // merge its scored submissions into the checkpoint of `target` and announce it.
  virtual Result<Published> publish_next(const checkpoints::Checkpoint& base, std::uint64_t target,
                                         const WindowReport& report,
                                         const std::vector<net::Submission>& submissions) = 0;
  virtual void stop() = 0;
};

struct ValidatorOptions {
  subnet::JoinOptions join;
  std::string listen = "tcp://127.0.0.1:0";  // ZeroMQ bind address of the submission endpoint
  // Without an aggregator: where the validator re-serves the checkpoints it holds (a
  // CheckpointService over its follower cache, a fallback source for miners and other
  // validators; published on chain with its endpoint). Empty: it serves none.
  std::string checkpoint_listen = "127.0.0.1:0";
  int max_connections = 320;                 // peers on the submission endpoint (net::ServerOptions)
  int threads = 0;
  // Where submissions are evaluated (model/device.h). The merge and the outer step stay on
  // the CPU whatever the device: they are consensus (docs/devices.md).
  torch::Device device = torch::kCPU;
  std::uint64_t windows = 0;  // stop after this many evaluated windows (0: until Ctrl-C)
  // Measure each arrival's gains while its window is open, so that little judging is left
  // after the close (prejudge_window); off: everything at the close, as a comparison.
  bool prejudge = true;
  std::uint64_t stake_rao = 0;  // stake the hotkey up to this amount at start
  WindowAggregator* aggregator = nullptr;  // not owned; set for an aggregating validator
  // For tests and the crash harness: reveal committed weights this many blocks after the
  // reveal window closed, so that the chain refuses them (0: reveal on time).
  std::uint64_t reveal_late_blocks = 0;
  std::function<void(const std::string& json)> on_window;  // one JSON status object per window
};

Status run_validator(const ValidatorOptions& options);

// Folds one window into the moving averages: every uid of `hotkeys` (uid → raw hotkey,
// the current metagraph) decays by (1 − α) and gains α · score when its submission's
// gains were measured: scored, or not-own-data with its score ≤ 0, so an average may
// fall below zero (and then earns no weight). A uid whose hotkey changed (replaced
// registration) starts from zero.
void update_scores(ValidatorState& state, const WindowReport& report, double alpha,
                   const std::map<std::uint32_t, std::string>& hotkeys);
// Weights (uids, u16-scaled values) from the averages: every uid with a positive average,
// (average / top)^power scaled to 65535, so the top uid gets 65535. The power is an
// integer (validator.weight_power, 1–4) and is taken by multiplication.
std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>> weights_from_scores(const ValidatorState& state,
                                                                                      int power);

// The verdict of a window, signed by `hotkey`: scored submissions in arrival order (what
// the aggregator merges), and every judgement with its outcome, reason (cut to 400 bytes)
// and payload size (`payload_bytes[i]` of report.evaluations[i], when given), and the
// held-out loss of the base checkpoint.
proto::SignedVerdict make_verdict(std::uint32_t netuid, std::uint64_t window, const std::string& base_hash_hex,
                                  const WindowReport& report, std::uint64_t eval_seed, const Keypair& hotkey,
                                  const std::vector<std::uint64_t>& payload_bytes = {});
// Verifies a verdict's signature against the validator hotkey it names.
Result<proto::Verdict> open_verdict(const proto::SignedVerdict& signed_verdict);
// Fetches validator `neuron`'s signed verdict of `window` from its endpoint and checks it:
// the signature, by the neuron's registered hotkey, for this subnet and window.
Result<proto::Verdict> fetch_verdict(const chain::Neuron& neuron, std::uint32_t netuid, std::uint64_t window,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace tessera::verification
