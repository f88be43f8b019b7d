#include "trainer/miner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "checkpoints/parameters.h"
#include "checkpoints/follower.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/metrics.h"
#include "core/schedule.h"
#include "gradients/error_feedback.h"
#include "model/parameters.h"
#include "model/runtime.h"
#include "model/shards.h"
#include "net/submission.h"
#include "core/file_io.h"
#include "core/process.h"
#include "trainer/data_parallel.h"
#include "trainer/inner_loop.h"
#include "trainer/miner_state.h"
#include "trainer/shard_assignment.h"
#include "trainer/optim.h"

namespace tessera::trainer {

namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The per-window control record rank 0 broadcasts: window, uid, origin window, stop,
// whether rank 0 may rebase the window and whether it may end it early (the workers then
// follow its decisions).
constexpr int kControlLen = 6;

struct Endpoint {
  std::string address, curve_key;
  std::uint32_t uid = 0;
  std::string hotkey;
};

class Miner {
 public:
  explicit Miner(const MinerOptions& options) : options_(options) {}
  Status run();

 private:
  struct WindowTimes {
    double pull_s = 0, compute_s = 0, encode_s = 0, send_s = 0, wait_s = 0;
    double compute_cpu_s = 0;  // the process's CPU time in the steps (docs/results.md: shared cores)
  };
  struct SendReport {
    std::size_t validators = 0, accepted = 0;
    std::uint64_t bytes = 0;
    std::vector<std::string> problems;
  };

  Status setup();
  void count_given_up(const std::string& reason);
  Status start_workers();
  void stop_workers();
  void save_state();
  std::vector<Endpoint> validators();

  Status do_window(const chain::CheckpointInfo& info, double waited);
  Status do_overlapped_window(const chain::CheckpointInfo& held, double waited);
  bool fits(std::uint64_t window);
  Result<bool> prepare_window(std::uint64_t window, std::vector<std::uint64_t>* pages);
  Result<InnerResult> train_window(const std::vector<torch::Tensor>& start, std::uint64_t origin_window,
                                   std::uint64_t window, const std::vector<std::uint64_t>& pages,
                                   const std::string& base_hash, const decltype(InnerLoop::rebase)& rebase = {});
  decltype(InnerLoop::stop_before) stop_rule(std::uint64_t window, std::uint64_t origin_window);
  double full_window_pace(const InnerResult& trained) const;
  double window_s() const;                         // one window's length in seconds
  std::string interrupted_note(int steps) const;   // a window stopped by Ctrl-C after `steps`
  double seconds_to_close(std::uint64_t window);   // from now, on the chain's head (window_close_time)
  void submit(const chain::CheckpointInfo& info, const std::vector<std::uint64_t>& pages, const InnerResult& trained,
              WindowTimes times);
  bool closed_while_training(std::uint64_t window);
  Result<proto::SubmissionHeader> make_header(const chain::CheckpointInfo& info,
                                              const std::vector<std::uint64_t>& pages) const;
  SendReport send_to_validators(proto::SubmissionHeader header, const std::string& payload);
  std::chrono::steady_clock::time_point window_close_time(std::uint64_t window);
  void report_window(std::uint64_t window, const InnerResult& trained, std::size_t bytes, const SendReport& sent,
                     const WindowTimes& times);
  Result<gradients::EncodedDelta> encode(const InnerResult& trained);

  const MinerOptions& options_;
  subnet::Joined joined_;
  std::optional<dataset::TokenDataset> train_;
  model::GPT model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<gradients::ErrorFeedback> ef_;
  gradients::CodecSettings codec_;
  ShardAssignment assignment_;  // the parameters this miner trains and submits this window
  fs::path dir_;
  MinerRecord record_;
  std::unique_ptr<checkpoints::CheckpointFollower> follower_;
  WindowSchedule schedule_;
  std::map<std::string, std::unique_ptr<net::SubmissionClient>> clients_;  // by address + key
  std::uint64_t submitted_ = 0;
  std::optional<std::uint64_t> last_attempted_;  // the newest window trained for (sent or dropped)
  // The pace it plans with: the last trained window's time (0: none yet), lowered after
  // each window given up for it (pace_after_skip).
  double pace_s_ = 0;
  // The last window's encode and send: what an early end leaves for them (at most a tenth
  // of the window, so that a validator that stalls a send cannot cut the next windows short).
  double send_s_ = 0.2;
  // The last block at which window w still takes submissions: w+1's first plus the grace.
  std::uint64_t deadline_block(std::uint64_t window) const {
    return schedule_.first_block(window + 1) + static_cast<std::uint64_t>(joined_.spec.schedule.submission_grace_blocks);
  }
  std::optional<std::uint64_t> trained_from_;     // model_ holds the end of training from this window's checkpoint
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::unique_ptr<DataParallelGroup> group_;
};

Status Miner::start_workers() {
  if (options_.workers <= 1) return Status::Ok();
  if (joined_.spec.train.batch_size % options_.workers != 0) {
    return InvalidArgument("--workers " + std::to_string(options_.workers) + " must divide train.batch_size = " +
                           std::to_string(joined_.spec.train.batch_size));
  }
  const fs::path wdir = dir_ / "workers";
  std::error_code ec;
  fs::remove_all(wdir, ec);
  fs::create_directories(wdir, ec);
  if (ec) return IoError("cannot create " + wdir.string() + ": " + ec.message());
  TESSERA_RETURN_IF_ERROR(write_file_atomic(wdir / "spec.toml", joined_.spec.text));
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  for (int r = 1; r < options_.workers; ++r) {
    // One GPU per rank: rank r of a CUDA miner on cuda:N trains on cuda:N+r.
    const std::string device =
        options_.device.is_cuda() ? "cuda:" + std::to_string((options_.device.has_index() ? options_.device.index() : 0) + r) : "cpu";
    std::vector<std::string> argv = {exe.string(), "miner-worker", "--rank", std::to_string(r), "--world",
                                     std::to_string(options_.workers), "--store", (wdir / "store").string(), "--spec",
                                     (wdir / "spec.toml").string(), "--data", joined_.data_dir, "--threads",
                                     std::to_string(std::max(1, options_.threads)), "--device", device};
    workers_.push_back(std::make_unique<Subprocess>(argv, wdir / ("worker-" + std::to_string(r) + ".log")));
  }
  TESSERA_ASSIGN_OR_RETURN(group_, DataParallelGroup::join(wdir / "store", 0, options_.workers, options_.device));
  std::string state = save_optimizer(*optimizer_);
  TESSERA_RETURN_IF_ERROR(group_->broadcast_bytes(&state));
  spdlog::info("{} local workers joined ({}): each trains 1/{} of every batch", options_.workers - 1, group_->backend(),
               options_.workers);
  return Status::Ok();
}

void Miner::stop_workers() {
  if (!group_) return;
  std::vector<torch::Tensor> control{torch::zeros({kControlLen}, torch::kLong)};
  control[0][3] = 1;  // stop
  (void)group_->broadcast(control);
  for (std::size_t r = 0; r < workers_.size(); ++r) {
    int code = -1;
    if (!workers_[r]->wait(std::chrono::seconds(10), &code)) {
      spdlog::warn("local worker {} did not stop within 10 s; stopping it", r + 1);
      workers_[r]->stop();
    } else if (code != 0) {
      spdlog::warn("local worker {} exited with {} (its log: {})", r + 1, code,
                   (dir_ / "workers" / ("worker-" + std::to_string(r + 1) + ".log")).string());
    }
  }
}

Status Miner::setup() {
  TESSERA_ASSIGN_OR_RETURN(joined_, subnet::join_subnet(options_.join));
  const RunSpec& spec = joined_.spec;
  model::configure_cpu_threads(options_.threads);
  TESSERA_ASSIGN_OR_RETURN(auto train, subnet::load_split(joined_, "train"));
  train_.emplace(std::move(train));
  if (train_->num_pages(spec.data.page_tokens) < static_cast<std::uint64_t>(spec.data.pages_per_window)) {
    return FailedPrecondition("the train split in " + joined_.data_dir + " holds fewer than data.pages_per_window = " +
                              std::to_string(spec.data.pages_per_window) + " pages");
  }
  model_ = model::make_gpt(joined_.config, spec.seed);
  model_->to(options_.device);
  optimizer_ = make_adamw(model_, spec.train);
  ef_ = std::make_unique<gradients::ErrorFeedback>(spec.codec.ef_beta);
  TESSERA_ASSIGN_OR_RETURN(codec_, gradients::CodecSettings::from_spec(spec.codec));
  schedule_.blocks_per_window = static_cast<std::uint64_t>(spec.schedule.blocks_per_window);
  dir_ = options_.join.home / "miners" / (options_.join.wallet + "-" + std::to_string(options_.join.netuid));
  follower_ = std::make_unique<checkpoints::CheckpointFollower>(joined_.chain.get(), options_.join.netuid, dir_ / "cache");
  follower_->set_pull_options(
      checkpoints::role_pull_options(joined_.spec, options_.join.checkpoint_mirrors, options_.join.checkpoint_deadline_s));

  const std::string spec_hash = to_hex(blake2b_256(spec.text));
  auto loaded = load_miner_state(dir_ / "state");
  if (loaded.ok() && loaded->record.netuid == options_.join.netuid && loaded->record.hotkey == joined_.wallet.hotkey.public_hex() &&
      loaded->record.spec_hash == spec_hash) {
    Status opt = load_optimizer(*optimizer_, loaded->optimizer, options_.device);
    if (opt.ok()) {
      record_ = loaded->record;
      for (auto& [index, buffer] : loaded->ef) buffer = buffer.to(options_.device);
      ef_->restore(std::move(loaded->ef));
      spdlog::info("resumed miner state: last window {}, {} error-feedback buffers", record_.last_window,
                   ef_->buffers().size());
    } else {
      spdlog::warn("{} — starting cold", opt.message());
      optimizer_ = make_adamw(model_, spec.train);
      record_.counters["state-discarded"] += 1;
    }
  } else if (!loaded.ok() && loaded.status().code() != StatusCode::kNotFound) {
    spdlog::warn("{} — discarding it and starting cold", loaded.status().message());
    record_.counters["state-discarded"] += 1;
  }
  record_.netuid = options_.join.netuid;
  record_.hotkey = joined_.wallet.hotkey.public_hex();
  record_.spec_hash = spec_hash;
  spdlog::info("miner uid {} on subnet {} ({}, {}), {}, codec {}", joined_.uid, options_.join.netuid,
               joined_.config.describe(), options_.device.str(),
               spec.model.sharded() ? std::to_string(spec.model.shards_per_miner) + " of " + std::to_string(spec.model.shards) +
                                          " shards, assigned per window by the protocol"
                                    : std::string("training the whole model"),
               codec_.name());
  return Status::Ok();
}

// A window given up, in the miner's record and its metrics (docs/operations.md).
void Miner::count_given_up(const std::string& reason) {
  record_.counters[reason] += 1;
  metrics::registry()
      .counter("tessera_miner_windows_given_up_total",
               "Windows given up, by reason: skipped for want of time, dropped because the window closed during the "
               "steps, or trained ahead and abandoned.",
               {{"reason", reason}})
      .inc();
}

void Miner::save_state() {
  MinerSnapshot s;
  s.record = record_;
  s.ef = ef_->buffers();
  s.optimizer = save_optimizer(*optimizer_);
  Status st = save_miner_state(dir_ / "state", s);
  if (!st.ok()) spdlog::error("saving miner state: {}", st.message());
}

std::vector<Endpoint> Miner::validators() {
  std::vector<Endpoint> out;
  auto subnet = joined_.chain->subnet(options_.join.netuid);
  if (!subnet.ok()) return out;
  for (const auto& n : subnet->neurons) {
    const bool serves = !n.address.empty() && n.curve_public_key.size() == 32 && n.hotkey.size() == 32;
    if (n.uid == joined_.uid || !subnet::receives_submissions(joined_.spec, serves, n.stake)) continue;
    out.push_back({n.address, n.curve_public_key, n.uid, n.hotkey});
  }
  return out;
}

// The pages and shards of `window` (both fixed by the protocol before its checkpoint
// exists, so an overlapped window can start early); true when the shards changed.
Result<bool> Miner::prepare_window(std::uint64_t window, std::vector<std::uint64_t>* pages) {
  TESSERA_ASSIGN_OR_RETURN(*pages, dataset::assign_pages(joined_.spec.seed, window, joined_.uid,
                                                         static_cast<std::uint64_t>(joined_.spec.data.pages_per_window),
                                                         train_->num_pages(joined_.spec.data.page_tokens)));
  TESSERA_ASSIGN_OR_RETURN(const bool reassigned,
                           assignment_.update(model_, optimizer_.get(), ef_.get(), joined_.spec, window, joined_.uid));
  if (reassigned && joined_.spec.model.sharded()) {
    std::string list;
    for (int s : assignment_.shards()) list += (list.empty() ? "" : ",") + std::to_string(s);
    spdlog::info("window {}: training shards {} of {} ({:.1f}% of the parameters) until window {}", window, list,
                 joined_.spec.model.shards, 100.0 * assignment_.fraction(),
                 (model::shard_epoch(joined_.spec.model, window) + 1) *
                     static_cast<std::uint64_t>(joined_.spec.model.shard_epoch_windows));
  }
  return reassigned;
}

// Window w as the protocol has it (docs/roles.md): load C_w, train on the assigned pages,
// drop the work if the window closed meanwhile, then submit.
Status Miner::do_window(const chain::CheckpointInfo& info, double waited) {
  WindowTimes times;
  times.wait_s = waited;
  const auto t_pull = std::chrono::steady_clock::now();
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* base, follower_->load(info));
  times.pull_s = since(t_pull);
  std::vector<std::uint64_t> pages;
  TESSERA_RETURN_IF_ERROR(prepare_window(info.window, &pages).status());
  trained_from_.reset();
  TESSERA_ASSIGN_OR_RETURN(InnerResult trained, train_window(checkpoints::model_parameters(*base), base->manifest.origin_window,
                                                             info.window, pages, base->hash));
  trained_from_ = info.window;
  times.compute_s = trained.seconds;
  times.compute_cpu_s = trained.cpu_seconds;
  pace_s_ = full_window_pace(trained);
  if (closed_while_training(info.window)) return Status::Ok();
  submit(info, pages, trained, times);
  return Status::Ok();
}

// Overlapped window w+1 (`held` is C_w, just submitted against): train at once; before
// each inner step look for C_{w+1}'s announcement and, once it is there, pull it (usually
// the few-kilobyte merged update) and rebase onto it; after the last step wait for it if
// it has not come. DeadlineExceeded when the chain moves past w+1 first: the
// work is dropped and the main loop catches up.
Status Miner::do_overlapped_window(const chain::CheckpointInfo& held, double waited) {
  const std::uint64_t window = held.window + 1;
  WindowTimes times;
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* base, follower_->load(held));
  const std::uint64_t origin = base->manifest.origin_window;
  const std::string held_hash = base->hash;  // `base` dangles once the hook loads C_{w+1}
  std::vector<std::uint64_t> pages;
  TESSERA_ASSIGN_OR_RETURN(const bool reassigned, prepare_window(window, &pages));
  // Start from where this miner's own training of window w ended (C_w minus its own
  // uncompressed progress) when the model holds it, else from C_w: continuing the local
  // trajectory does not retake the steps already merged into C_{w+1} (docs/architecture.md
  // "Overlapped windows" has the measurements). After a shard rotation the model holds
  // progress on shards it no longer trains: start from C_w then.
  const std::vector<torch::Tensor> start = trained_from_ == held.window && !reassigned
                                               ? model::snapshot_parameters(model_)
                                               : checkpoints::model_parameters(*base);
  const auto grace = static_cast<std::uint64_t>(joined_.spec.schedule.submission_grace_blocks);
  const auto tick = std::chrono::milliseconds(std::max(20, joined_.spec.schedule.block_time_ms / 4));
  std::optional<chain::CheckpointInfo> next;
  auto rebase = [&](int step, bool last) -> Result<InnerLoop::Base> {
    for (;;) {
      auto ann = follower_->announced();
      if (ann.ok() && ann->has_value() && (*ann)->window == window) {
        const auto t_pull = std::chrono::steady_clock::now();
        TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* c, follower_->load(**ann));
        times.pull_s += since(t_pull);
        if (c->manifest.origin_window != origin) {
          return Corrupted("checkpoint of window " + std::to_string(window) + " changed the run's origin window");
        }
        next = **ann;
        return InnerLoop::Base(checkpoints::model_parameters(*c));
      }
      if (ann.ok() && ann->has_value() && (*ann)->window > window) {
        return DeadlineExceeded("the checkpoint of window " + std::to_string((*ann)->window) + " came before that of window " +
                                std::to_string(window));
      }
      if (!last) return InnerLoop::Base();
      auto head = joined_.chain->head();
      // Closed: the chain is past the window and its grace blocks (while it is still in
      // window w, window w+1 is merely not open yet).
      if (head.ok() && schedule_.window_of(head->height) > window && !schedule_.accepts(window, head->height, grace)) {
        return DeadlineExceeded("window " + std::to_string(window) + " closed before its checkpoint was announced");
      }
      if (interrupted()) return DeadlineExceeded(interrupted_note(step));
      std::this_thread::sleep_for(tick);
    }
  };
  trained_from_.reset();
  TESSERA_ASSIGN_OR_RETURN(InnerResult trained, train_window(start, origin, window, pages, held_hash, rebase));
  if (next) trained_from_ = next->window;
  times.compute_s = trained.seconds;
  times.compute_cpu_s = trained.cpu_seconds;
  pace_s_ = full_window_pace(trained);
  // Before the first step (the latest start) and in the steps' checkpoint hook.
  times.wait_s = waited + std::max(0.0, trained.hook_seconds - times.pull_s);
  if (!next) return Internal("overlapped window " + std::to_string(window) + " ended without its checkpoint");
  if (closed_while_training(window)) return Status::Ok();
  submit(*next, pages, trained, times);
  return Status::Ok();
}

// Whether window `window`'s inner steps, at the planned pace (pace_s_) plus a tenth, end
// before the window closes (its deadline, with the grace blocks). Not half of them, though
// a late window ends early: started with half of its steps' time left, the demo's miners
// ended most windows early and sent fewer, weaker deltas (docs/results.md).
bool Miner::fits(std::uint64_t window) {
  const double left = seconds_to_close(window);
  // Before its first window the miner knows no pace: it takes a window with at least half
  // of it left (a fresh miner that saw C_w near the end of w would miss w).
  if (pace_s_ <= 0) return left >= 0.5 * window_s();
  return left >= 1.1 * pace_s_;
}

// Encode with error feedback, sign and send to every serving validator, then record and
// report.
void Miner::submit(const chain::CheckpointInfo& info, const std::vector<std::uint64_t>& pages, const InnerResult& trained,
                   WindowTimes times) {
  const auto t_enc = std::chrono::steady_clock::now();
  auto encoded = encode(trained);
  times.encode_s = since(t_enc);
  auto header = encoded.ok() ? make_header(info, pages) : Result<proto::SubmissionHeader>(encoded.status());
  if (!header.ok()) {
    record_.counters["window-errors"] += 1;
    spdlog::error("window {}: {}", info.window, header.status().message());
    return;
  }
  const auto t_send = std::chrono::steady_clock::now();
  const SendReport sent = send_to_validators(*header, encoded->bytes);
  times.send_s = since(t_send);
  send_s_ = send_reserve(times.encode_s, times.send_s, window_s());
  record_.counters["submitted"] += 1;
  record_.counters["accepted-by-validators"] += sent.accepted;
  if (trained.rebased_at_step >= 0) record_.counters["overlapped"] += 1;
  if (trained.steps < joined_.spec.train.inner_steps) record_.counters["ended-early"] += 1;
  record_.has_window = true;
  record_.last_window = info.window;
  save_state();
  ++submitted_;
  report_window(info.window, trained, encoded->bytes.size(), sent, times);
}

Result<gradients::EncodedDelta> Miner::encode(const InnerResult& trained) {
  std::vector<gradients::IndexedTensor> delta;
  for (std::uint32_t i : assignment_.trained()) delta.push_back({i, trained.delta[i]});
  return ef_->step(delta, codec_);
}

// H inner steps from `start` (on every local worker too, when there are some); errors
// name the checkpoint `base_hash` the window set out from.
Result<InnerResult> Miner::train_window(const std::vector<torch::Tensor>& start, std::uint64_t origin_window,
                                       std::uint64_t window, const std::vector<std::uint64_t>& pages,
                                       const std::string& base_hash, const decltype(InnerLoop::rebase)& rebase) {
  InnerLoop inner{&joined_.spec};
  inner.origin_window = origin_window;
  inner.rebase = rebase;
  inner.stop_before = stop_rule(window, origin_window);
  if (group_) {
    std::vector<torch::Tensor> control{torch::tensor({static_cast<std::int64_t>(window), static_cast<std::int64_t>(joined_.uid),
                                                      static_cast<std::int64_t>(inner.origin_window), 0L, rebase ? 1L : 0L,
                                                      inner.stop_before ? 1L : 0L},
                                                     torch::kLong)};
    TESSERA_RETURN_IF_ERROR(group_->broadcast(control));
    std::vector<torch::Tensor> params;
    for (const auto& t : start) params.push_back(t.contiguous().clone());
    TESSERA_RETURN_IF_ERROR(group_->broadcast(params));
    inner.group = group_.get();
  }
  spdlog::info("window {}: training {} steps {} {}…", window, joined_.spec.train.inner_steps,
               rebase ? "ahead of its checkpoint, rebasing when it comes; measured from" : "from checkpoint",
               base_hash.substr(0, 12));
  auto trained = inner.run(model_, *optimizer_, start, *train_, pages, window, joined_.uid);
  if (!trained.ok()) {
    // An overlapped window stopped after its steps, waiting for its checkpoint: the
    // hook's note as it is.
    if (interrupted() && trained.status().code() == StatusCode::kDeadlineExceeded) return trained.status();
    return trained.status().with_context("checkpoint " + base_hash.substr(0, 16) + "…");
  }
  if (interrupted() && trained->steps < joined_.spec.train.inner_steps) return DeadlineExceeded(interrupted_note(trained->steps));
  return trained;
}

// Before each inner step of `window`: whether to end the window there. At once after a
// Ctrl-C (SIGINT/SIGTERM), so that a miner stops within a step rather than a window, which
// on a large model is minutes (train_window then drops the steps taken). From half of H
// on, also when the steps taken must leave now to reach the validators before the window
// closes (end_window_now; not with --no-early-end, nor in the warm-up: in_warmup).
decltype(InnerLoop::stop_before) Miner::stop_rule(std::uint64_t window, std::uint64_t origin_window) {
  const int inner_steps = joined_.spec.train.inner_steps;
  const bool may_end_early =
      options_.end_at_deadline && !in_warmup(window, origin_window, inner_steps, joined_.spec.train.warmup_steps);
  return [this, window, inner_steps, may_end_early](int steps, double step_s) {
    if (interrupted()) return true;
    if (!may_end_early) return false;
    double left_s = 0;
    const auto left = [&] { return left_s = seconds_to_close(window); };
    if (!end_window_now(steps, inner_steps, step_s, send_s_, left)) return false;
    spdlog::info("window {}: ending after {} of {} steps ({:.2f} s a step, {:.2f} s left before it closes)", window, steps,
                 inner_steps, step_s, left_s);
    return true;
  };
}

std::string Miner::interrupted_note(int steps) const {
  return "interrupted after " + std::to_string(steps) + " of " + std::to_string(joined_.spec.train.inner_steps) +
         " steps: not sent";
}

double Miner::window_s() const {
  return static_cast<double>(schedule_.blocks_per_window) * joined_.spec.schedule.block_time_ms / 1000.0;
}

double Miner::seconds_to_close(std::uint64_t window) {
  return std::chrono::duration<double>(window_close_time(window) - std::chrono::steady_clock::now()).count();
}

// The time H steps take at the pace of a window's steps (fewer than H when it ended
// early).
double Miner::full_window_pace(const InnerResult& trained) const {
  return trained.seconds * joined_.spec.train.inner_steps / std::max(1, trained.steps);
}

// Never send stale work: true (and the work dropped) when the window no longer accepts
// submissions.
bool Miner::closed_while_training(std::uint64_t window) {
  auto head = joined_.chain->head();
  if (!head.ok()) return false;  // the send will fail and say why
  const auto grace = static_cast<std::uint64_t>(joined_.spec.schedule.submission_grace_blocks);
  if (schedule_.accepts(window, head->height, grace)) return false;
  count_given_up("stale-dropped");
  spdlog::warn("window {}: closed while training (chain at block {}, window {}); delta dropped, not sent", window,
               head->height, schedule_.window_of(head->height));
  return true;
}

Result<proto::SubmissionHeader> Miner::make_header(const chain::CheckpointInfo& info,
                                                   const std::vector<std::uint64_t>& pages) const {
  proto::SubmissionHeader header;
  header.set_netuid(options_.join.netuid);
  header.set_window(info.window);
  header.set_uid(joined_.uid);
  header.set_hotkey(raw_bytes(joined_.wallet.hotkey.public_key()));
  header.set_base_checkpoint(info.hash);
  TESSERA_ASSIGN_OR_RETURN(std::string digest, from_hex(dataset::pages_digest(pages)));
  header.set_data_digest(digest);
  header.set_codec(codec_.name());
  for (int s : assignment_.shards()) header.add_shards(static_cast<std::uint32_t>(s));
  header.set_timestamp_ms(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         std::chrono::system_clock::now().time_since_epoch())
                                                         .count()));
  return header;
}

// Sends to every validator the protocol names (subnet::receives_submissions), in two
// rounds run in parallel, both bounded by the window's close: first the commitment to
// every validator, then — only once every commitment was answered — the payload to those
// that took the commitment. No validator sees the payload before every validator holds
// the commitment, so a copy of it can only commit later than the original. Each header
// names its validator and carries its own nonce; an accepted delivery counts only with a
// receipt that validator's hotkey signed.
Miner::SendReport Miner::send_to_validators(proto::SubmissionHeader header, const std::string& payload) {
  SendReport sent;
  struct Target {
    Endpoint endpoint;
    net::SubmissionClient* client = nullptr;
    std::string signed_header;
    std::optional<std::string> problem;  // set by the first round that fails
    bool committed = false;
    bool reconnect = false;  // the transport failed: a late reply may still be in flight
  };
  std::vector<Target> targets;
  for (const auto& v : validators()) {
    ++sent.validators;
    const std::string key = v.address + "/" + to_hex(v.curve_key);
    auto& client = clients_[key];
    if (!client) {
      auto c = net::SubmissionClient::connect(v.address, v.curve_key);
      if (!c.ok()) {
        sent.problems.push_back("uid " + std::to_string(v.uid) + ": " + c.status().message());
        continue;
      }
      client = std::move(*c);
    }
    Target t{v, client.get()};
    record_.nonce = std::max(record_.nonce + 1, header.timestamp_ms() * 1000);
    header.set_nonce(record_.nonce);
    header.set_validator(v.hotkey);
    t.signed_header = net::SubmissionClient::prepare(header, payload, joined_.wallet.hotkey);
    targets.push_back(std::move(t));
  }
  const auto deadline = window_close_time(header.window());
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(500), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        deadline - std::chrono::steady_clock::now()));
  };
  // One round: `send` to every target still in the running, in parallel; true for those
  // whose reply accepted and carries a receipt the validator's hotkey signed.
  auto round = [&](const char* what, const std::function<Result<proto::Reply>(Target&)>& send) {
    std::vector<std::thread> threads;
    for (auto& target : targets) {
      if (target.problem) continue;
      threads.emplace_back([&what, &send, &t = target] {
        auto reply = send(t);
        PublicKey vk;
        std::copy(t.endpoint.hotkey.begin(), t.endpoint.hotkey.end(), vk.begin());
        if (!reply.ok()) {
          t.problem = std::string(what) + ": " + reply.status().message();
          t.reconnect = true;
        } else if (!reply->accepted()) {
          t.problem = std::string(what) + " rejected: " + reply->reason();
        } else if (!net::verify_receipt(*reply, vk)) {
          t.problem = std::string(what) + " receipt signature does not verify";
        }
      });
    }
    for (auto& th : threads) th.join();
  };
  // A validator that sits on a commitment must not hold back the deliveries: it gets a
  // quarter of the time left (at least 200 ms, at most 5 s), then goes without the payload.
  const auto commit_timeout = std::clamp(remaining() / 4, std::chrono::milliseconds(200),
                                         std::chrono::milliseconds(5000));
  round("commitment", [&](Target& t) { return t.client->commit(t.signed_header, commit_timeout); });
  for (auto& t : targets) t.committed = !t.problem;
  const auto deliver_timeout = remaining();
  round("delivery", [&](Target& t) { return t.client->deliver(t.signed_header, payload, deliver_timeout); });
  for (auto& t : targets) {
    if (t.committed) sent.bytes += payload.size();
    if (!t.problem) {
      ++sent.accepted;
      continue;
    }
    sent.problems.push_back("uid " + std::to_string(t.endpoint.uid) + ": " + *t.problem);
    if (t.reconnect) clients_.erase(t.endpoint.address + "/" + to_hex(t.endpoint.curve_key));
  }
  return sent;
}

// When window `window` stops taking submissions (its end plus the grace blocks), on this
// machine's clock, from the chain's head.
std::chrono::steady_clock::time_point Miner::window_close_time(std::uint64_t window) {
  const auto now = std::chrono::steady_clock::now();
  auto head = joined_.chain->head();
  if (!head.ok()) return now + std::chrono::seconds(10);
  const std::uint64_t close = deadline_block(window);
  const std::uint64_t blocks = close > head->height ? close - head->height : 0;
  return now + std::chrono::milliseconds(blocks * static_cast<std::uint64_t>(joined_.spec.schedule.block_time_ms));
}

// The log line and, with --json, one JSON object.
void Miner::report_window(std::uint64_t window, const InnerResult& trained, std::size_t bytes, const SendReport& sent,
                          const WindowTimes& t) {
  std::int64_t dense_bytes = 0;
  for (std::uint32_t i : assignment_.trained()) dense_bytes += trained.delta[i].numel() * 4;
  std::string notes =
      trained.rebased_at_step >= 0 ? " | overlapped, rebased before step " + std::to_string(trained.rebased_at_step) : "";
  if (trained.steps < joined_.spec.train.inner_steps) {
    notes += " | ended early: " + std::to_string(trained.steps) + " of " + std::to_string(joined_.spec.train.inner_steps) +
               " steps";
  }
  spdlog::info("window {}: loss {:.4f} → {:.4f} | {} B to {}/{} validators ({:.0f}× smaller than dense) | compute {:.2f}s "
               "encode {:.3f}s send {:.3f}s wait {:.2f}s pull {:.2f}s{}",
               window, trained.first_loss, trained.last_loss, bytes, sent.accepted, sent.validators,
               static_cast<double>(dense_bytes) / static_cast<double>(std::max<std::size_t>(1, bytes)), t.compute_s,
               t.encode_s, t.send_s, t.wait_s, t.pull_s, notes);
  for (const auto& p : sent.problems) spdlog::warn("window {}: {}", window, p);
  auto& m = metrics::registry();
  m.gauge("tessera_miner_window", "The last window this miner submitted for.").set(static_cast<double>(window));
  m.counter("tessera_miner_windows_total", "Windows trained and submitted.").inc();
  m.histogram("tessera_miner_window_seconds", "Wall time of one window: pull, compute, encode, send and wait.",
              metrics::seconds_buckets())
      .observe(t.pull_s + t.compute_s + t.encode_s + t.send_s + t.wait_s);
  for (const auto& [phase, seconds] : {std::pair{"pull", t.pull_s}, std::pair{"compute", t.compute_s},
                                       std::pair{"encode", t.encode_s}, std::pair{"send", t.send_s},
                                       std::pair{"wait", t.wait_s}}) {
    m.counter("tessera_miner_phase_seconds_total", "Seconds spent per phase of the window loop (compute / wall = utilization).",
              {{"phase", phase}})
        .inc(seconds);
  }
  m.counter("tessera_miner_sent_bytes_total", "Submission bytes sent to validators.").inc(static_cast<double>(sent.bytes));
  for (const auto& [result, n] : {std::pair{"accepted", sent.accepted}, std::pair{"refused", sent.validators - sent.accepted}}) {
    m.counter("tessera_miner_submissions_total", "Deliveries to validators, by whether the validator accepted them.",
              {{"result", result}})
        .inc(static_cast<double>(n));
  }
  m.gauge("tessera_miner_train_loss", "Training loss after the last window's inner steps.").set(trained.last_loss);
  if (!options_.on_window) return;
  nlohmann::json j = {{"window", window},
                      {"uid", joined_.uid},
                      {"loss_before", trained.first_loss},
                      {"loss_after", trained.last_loss},
                      {"bytes", bytes},
                      {"bytes_sent", sent.bytes},
                      {"dense_bytes", dense_bytes},
                      {"shards", assignment_.shards()},
                      {"trained_fraction", assignment_.fraction()},
                      {"validators", sent.validators},
                      {"accepted", sent.accepted},
                      {"compute_s", t.compute_s},
                      {"compute_cpu_s", t.compute_cpu_s},
                      {"overlapped", trained.rebased_at_step >= 0},
                      {"rebased_at_step", trained.rebased_at_step},
                      {"steps", trained.steps},
                      {"encode_s", t.encode_s},
                      {"send_s", t.send_s},
                      {"wait_s", t.wait_s},
                      {"pull_s", t.pull_s},
                      {"checkpoint_pulls", follower_->stats().pulls},
                      {"checkpoint_updates", follower_->stats().updates},
                      {"problems", sent.problems}};
  options_.on_window(j.dump());
}

}  // namespace

bool too_early_to_start(double until_deadline_s, double pace_s, double margin) {
  return pace_s > 0 && until_deadline_s > margin * pace_s;
}

double pace_after_skip(double pace_s) { return pace_s * 5.0 / 6.0; }

bool end_window_now(int steps, int inner_steps, double step_s, double reserve_s, const std::function<double()>& left_s) {
  return 2 * steps >= inner_steps && left_s() < 1.1 * step_s + reserve_s;
}

double send_reserve(double encode_s, double send_s, double window_s) {
  return std::min(encode_s + send_s, 0.1 * window_s);
}

bool in_warmup(std::uint64_t window, std::uint64_t origin_window, int inner_steps, int warmup_steps) {
  if (window < origin_window) return true;
  // Its last step counted as the schedule counts it (the inner loop's own rate).
  return window_schedule_step(window, origin_window, inner_steps, inner_steps - 1) < warmup_steps;
}

WindowChoice choose_window(std::uint64_t announced, std::uint64_t now, std::optional<std::uint64_t> last_attempted, bool overlap,
                           const std::function<bool(std::uint64_t)>& fits,
                           const std::function<bool(std::uint64_t)>& wait_for) {
  auto attempted = [&](std::uint64_t w) { return last_attempted && *last_attempted >= w; };
  if (announced == now && !attempted(announced)) {
    if (!overlap || fits(announced)) return {WindowChoice::kTrain, announced};
    // C_a came with too little of window a left: give a up (reported and counted), then
    // plan a + 1 on the next call.
    return {WindowChoice::kSkip, announced};
  }
  if (overlap && announced + 1 >= now && !attempted(announced + 1)) {
    // Work that cannot make its deadline would be dropped, would start the next window
    // late too (a cascade of misses), and takes cores from miners that can still make
    // theirs.
    if (announced + 1 == now && !fits(now)) return {WindowChoice::kSkip, now};
    // Steps taken before C_{a+1} comes are stale (they cost loss, docs/architecture.md);
    // starting them before the latest start that meets the deadline only adds stale steps.
    if (wait_for && wait_for(announced + 1)) return {};
    return {WindowChoice::kTrainAhead, announced + 1};
  }
  // C_a is older than h − 1 when nothing above applies: the aggregator is behind; wait
  // rather than train on a stale base.
  if (announced < now && !attempted(announced)) return {WindowChoice::kSkip, announced};
  return {};
}

namespace {

Status Miner::run() {
  TESSERA_RETURN_IF_ERROR(setup());
  Status started = start_workers();
  if (!started.ok()) {
    workers_.clear();
    return started;
  }
  const auto tick = std::chrono::milliseconds(std::max(20, joined_.spec.schedule.block_time_ms / 4));
  auto wait_start = std::chrono::steady_clock::now();
  if (record_.has_window) last_attempted_ = record_.last_window;
  while (!interrupted() && (options_.windows == 0 || submitted_ < options_.windows)) {
    auto head = joined_.chain->head();
    auto ann = follower_->announced();
    if (!head.ok() || !ann.ok()) {
      spdlog::warn("chain: {} (retrying)", (!head.ok() ? head.status() : ann.status()).message());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (!ann->has_value()) {
      std::this_thread::sleep_for(tick);
      continue;
    }
    const chain::CheckpointInfo& info = **ann;
    const std::uint64_t now_window = schedule_.window_of(head->height);
    // Window w's deadline, in seconds from the head block, is what its steps must meet.
    const auto wait_for = [&](std::uint64_t w) {
      const double until_deadline_s = (static_cast<double>(deadline_block(w)) - static_cast<double>(head->height)) *
                                      joined_.spec.schedule.block_time_ms / 1000.0;
      return too_early_to_start(until_deadline_s, pace_s_, options_.start_margin);
    };
    const WindowChoice choice = choose_window(info.window, now_window, last_attempted_, options_.overlap,
                                              [&](std::uint64_t w) { return fits(w); }, wait_for);
    // The choice and its reasons: choose_window (trainer/miner.h).
    if (choice.kind == WindowChoice::kSkip) {
      last_attempted_ = choice.window;
      count_given_up("windows-skipped");
      if (choice.window == now_window && pace_s_ <= 0) {
        spdlog::info("window {}: less than half of it is left for a first window; skipping to window {}", now_window,
                     now_window + 1);
      } else if (choice.window == now_window) {
        const double planned = pace_s_;
        pace_s_ = pace_after_skip(pace_s_);
        spdlog::info("window {}: too little of it is left for {} steps at {:.2f} s; skipping to window {}, planned at {:.2f} s",
                     now_window, joined_.spec.train.inner_steps, planned, now_window + 1, pace_s_);
      } else {
        spdlog::info("window {} is over (chain in window {}); catching up with the next checkpoint", choice.window, now_window);
      }
      wait_start = std::chrono::steady_clock::now();  // the time before a skip went to the window given up
      continue;  // plan the next window at once
    }
    if (choice.kind != WindowChoice::kTrain && choice.kind != WindowChoice::kTrainAhead) {
      std::this_thread::sleep_for(tick);
      continue;
    }
    last_attempted_ = choice.window;
    const double waited = since(wait_start);
    Status s = choice.kind == WindowChoice::kTrainAhead ? do_overlapped_window(info, waited) : do_window(info, waited);
    if (s.code() == StatusCode::kDeadlineExceeded && interrupted()) {
      spdlog::info("window {}: {}", choice.window, s.message());
    } else if (s.code() == StatusCode::kDeadlineExceeded) {
      count_given_up("overlap-abandoned");
      spdlog::info("window {}: overlapped training abandoned ({}); catching up", choice.window, s.message());
    } else if (!s.ok()) {
      record_.counters["window-errors"] += 1;
      spdlog::error("window {}: {}", choice.window, s.message());
    }
    wait_start = std::chrono::steady_clock::now();
  }
  stop_workers();
  spdlog::info("miner stopped after {} submitted windows", submitted_);
  return Status::Ok();
}

}  // namespace

Status run_miner(const MinerOptions& options) { return Miner(options).run(); }

Status run_miner_worker(const WorkerOptions& o) {
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(o.spec));
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(o.data, "train"));
  model::configure_cpu_threads(o.threads);
  model::GPT gpt = model::make_gpt(config, spec.seed);
  gpt->to(o.device);
  auto optimizer = make_adamw(gpt, spec.train);
  ShardAssignment assignment;
  TESSERA_ASSIGN_OR_RETURN(auto group, DataParallelGroup::join(o.store, o.rank, o.world, o.device));
  std::string state;
  TESSERA_RETURN_IF_ERROR(group->broadcast_bytes(&state));
  if (!state.empty()) TESSERA_RETURN_IF_ERROR(load_optimizer(*optimizer, state, o.device));
  const auto named = gpt->named_params();
  for (;;) {
    std::vector<torch::Tensor> control{torch::zeros({kControlLen}, torch::kLong)};
    TESSERA_RETURN_IF_ERROR(group->broadcast(control));
    const auto c = control[0];
    if (c[3].item<std::int64_t>() != 0) return Status::Ok();
    std::vector<torch::Tensor> start;
    for (const auto& [name, p] : named) start.push_back(torch::zeros(p.sizes(), torch::kFloat));
    TESSERA_RETURN_IF_ERROR(group->broadcast(start));
    const auto window = static_cast<std::uint64_t>(c[0].item<std::int64_t>());
    const auto uid = static_cast<std::uint64_t>(c[1].item<std::int64_t>());
    TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, window, uid,
                                                               static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                               train.num_pages(spec.data.page_tokens)));
    TESSERA_RETURN_IF_ERROR(assignment.update(gpt, optimizer.get(), nullptr, spec, window, static_cast<std::uint32_t>(uid)).status());
    InnerLoop inner{&spec};
    inner.origin_window = static_cast<std::uint64_t>(c[2].item<std::int64_t>());
    inner.group = group.get();
    inner.follow_rebases = c[4].item<std::int64_t>() != 0;
    inner.follow_stops = c[5].item<std::int64_t>() != 0;
    Status trained = inner.run(gpt, *optimizer, start, train, pages, window, uid).status();
    // Rank 0 abandoning an overlapped window is not an error here: wait for the next.
    if (!trained.ok() && trained.code() != StatusCode::kDeadlineExceeded) return trained;
  }
}

}  // namespace tessera::trainer
