// The miner role (`tessera miner`, DESIGN.md §1 step 2). For each window whose
// checkpoint C_w is announced while the window is open: load C_w (pull, verified against
// the announced hash), train H inner AdamW steps on the pages assigned to (run seed, w,
// uid) — only the shards assigned to it when the run is sharded (shard_assignment.h) — form Δ = θ(C_w) − θ_end, run error feedback and the codec, and send the signed
// submission to every validator serving on the subnet. It never sends stale work: a
// window that closed while it trained is dropped, and when it falls behind it skips to
// the newest checkpoint. Its error-feedback buffers and optimizer state survive restarts
// (miner_state.h).
//
// Overlapped windows (on by default): right after submitting window w the miner starts
// window w+1's inner steps from C_w, while validators judge w and the aggregator merges
// C_{w+1}; when C_{w+1} is announced it moves its model by C_{w+1} − C_w and goes on
// (InnerLoop::rebase), so the submission declares C_{w+1}, as every submission of w+1
// must. docs/architecture.md "Overlapped windows" has the design.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "core/status.h"
#include "subnet/join.h"

namespace tessera::trainer {

struct MinerOptions {
  subnet::JoinOptions join;
  int threads = 0;
  std::uint64_t windows = 0;  // stop after this many submitted windows (0: until Ctrl-C)
  int workers = 1;            // K local data-parallel processes (this one and K − 1 `miner-worker`s)
  bool overlap = true;        // train window w+1 while window w is judged and merged
  // Start window w+1 ahead of its checkpoint no earlier than this many times the last
  // window's training time before its deadline (too_early_to_start, below). Larger values
  // start earlier: more stale steps, more room for a step time that varies.
  double start_margin = 1.25;
  // A window whose steps run late ends before its deadline with the steps taken, when
  // they are at least half of H, instead of being dropped whole (end_window_now, below);
  // false: drop it as late.
  bool end_at_deadline = true;
  torch::Device device = torch::kCPU;  // model, optimizer and error-feedback state (model/device.h)
  std::function<void(const std::string& json)> on_window;  // one JSON object per window
};

Status run_miner(const MinerOptions& options);

// The miner's scheduler: which window to train, given the newest announced checkpoint
// C_a and the chain in window h (docs/architecture.md "Overlapped windows").
//   kTrain:      window a from C_a (a = h, not yet attempted, and with overlap its steps fit);
//   kTrainAhead: window a + 1 from C_a, rebased onto C_{a+1} when it comes (overlap only),
//                unless `wait_for(a + 1)`: then kWait;
//   kSkip:       give `window` up: C_a came with too little of window a left for its
//                steps (overlap only), or a + 1 is open already and its steps no longer
//                fit before it closes (start a + 2 the moment C_{a+1} comes instead of
//                a + 1 late), or C_a's window is over (catch up with the next checkpoint);
//   kWait:       nothing to do until the chain or the checkpoint moves.
// `fits(w)`: whether H steps at the last window's pace end before window w closes.
// `wait_for(w)`: whether it is still too early to start window w's steps ahead of C_w
// (too_early_to_start); empty: never wait.
struct WindowChoice {
  enum Kind { kWait, kTrain, kTrainAhead, kSkip } kind = kWait;
  std::uint64_t window = 0;
};
WindowChoice choose_window(std::uint64_t announced, std::uint64_t now, std::optional<std::uint64_t> last_attempted, bool overlap,
                           const std::function<bool(std::uint64_t)>& fits,
                           const std::function<bool(std::uint64_t)>& wait_for = {});

// Whether a miner that has nothing to train until the next checkpoint C_{a+1} should
// wait rather than start window a+1's steps ahead of it: while a+1's deadline is more
// than `margin` × `pace_s` away (its H steps at the last window's pace; the default
// margin, MinerOptions::start_margin = 1.25, leaves a quarter to spare for the variance
// of step times on shared cores). Steps started any earlier end earlier and see C_{a+1}
// later: more of them are stale, and the miner idles after its last step instead of
// before its first. A checkpoint that comes while the miner waits is trained from
// directly (no stale step). False before a window was trained (docs/architecture.md
// "Starting as late as the deadline allows").
bool too_early_to_start(double until_deadline_s, double pace_s, double margin);

// Whether a miner that has taken `steps` of its `inner_steps` at `step_s` a step, with
// `reserve_s` for encoding and sending, should end the window now: another step (at a
// tenth over the mean) would leave too little of the `left_s()` seconds until its window
// closes for the send. Never before half of H, and `left_s` (a chain read) is asked only
// from there: a delta of a few steps shortens the merge's per-coordinate mean, where a
// dropped one leaves the window to the other miners.
bool end_window_now(int steps, int inner_steps, double step_s, double reserve_s, const std::function<double()>& left_s);

// The time end_window_now reserves for encoding and sending: what the last window's took,
// at most a tenth of the window. The send waits on the validators, so without the cap one
// that stalls a send (or answers slowly on purpose) would make every later window of this
// miner end early by as long as it stalled.
double send_reserve(double encode_s, double send_s, double window_s);

// Whether every step of `window` is still in the inner learning rate's warm-up (the
// schedule counts steps from `origin_window`). Such a window is not ended early, only
// dropped when late: its steps run at a fraction of the rate of the windows after it, so a
// shortened delta is a small fraction of theirs, and where it is its window's only merged
// delta it sets the norm reference so low that the next window's honest deltas are refused
// as outliers (the e2e test saw a 2-of-4-step first window, then a whole window at 4.75×
// that reference, over the 4× limit).
bool in_warmup(std::uint64_t window, std::uint64_t origin_window, int inner_steps, int warmup_steps);

// The pace a miner plans with after it gave a window up for that pace: a sixth shorter.
// A skip measures nothing, so a pace that one slow window (the first, or a busy spell of
// the machine) made longer than any window leaves would otherwise keep the miner skipping
// every window for good. Lowered after each skip, the pace soon lets a window be tried,
// and that window's time replaces it: a miner that is really too slow for the window
// tries about one window in a few and drops the work it cannot finish.
double pace_after_skip(double pace_s);

// One worker rank of `tessera miner --workers K` (started by the miner itself as
// `tessera miner-worker`): joins the miner's group (Gloo on CPUs, NCCL on GPUs) and
// trains its slice of every batch until the miner says stop.
struct WorkerOptions {
  int rank = 1, world = 2;
  std::filesystem::path store, spec, data;
  int threads = 1;
  torch::Device device = torch::kCPU;
};
Status run_miner_worker(const WorkerOptions& options);

}  // namespace tessera::trainer
