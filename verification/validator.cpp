#include "verification/validator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "checkpoints/follower.h"
#include "checkpoints/parameters.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/metrics.h"
#include "core/rng.h"
#include "core/schedule.h"
#include "model/parameters.h"
#include "model/runtime.h"
#include "model/shards.h"
#include "net/submission.h"

namespace tessera::verification {

namespace fs = std::filesystem;

namespace {

// An event kept in the validator's state counters (restored after a restart) and counted
// for --metrics-listen as tessera_validator_events_total{event} (a fixed set of names).
void count_event(ValidatorState& state, const std::string& event, std::uint64_t n) {
  state.counters[event] += n;
  metrics::registry()
      .counter("tessera_validator_events_total", "Validator events: late submissions, weights set/committed/revealed/failed, errors.",
               {{"event", event}})
      .inc(static_cast<double>(n));
}

// Forward passes spent judging, whether measured ahead or after the close.
void count_forward_passes(std::uint64_t n) {
  metrics::registry()
      .counter("tessera_validator_forward_passes_total", "Forward passes spent judging.")
      .inc(static_cast<double>(n));
}

constexpr std::string_view kVerdictDomain{"tessera-verdict/1\0", 18};

std::string verdict_signing_bytes(const std::string& verdict) {
  std::string m(kVerdictDomain);
  m += verdict;
  return m;
}

std::map<std::uint32_t, std::string> hotkeys_of(const chain::Subnet& s) {
  std::map<std::uint32_t, std::string> out;
  for (const auto& n : s.neurons) out[n.uid] = n.hotkey;
  return out;
}

}  // namespace

void update_scores(ValidatorState& state, const WindowReport& report, double alpha,
                   const std::map<std::uint32_t, std::string>& hotkeys) {
  // A uid's window score is that of its submission whose gains were measured (scored, or
  // not-own-data with its non-positive score): at most one per uid, since the evaluator
  // refuses a uid's second submission before measuring it. Other outcomes add nothing.
  std::map<std::uint32_t, double> window_score;
  for (const auto& e : report.evaluations) {
    if (e.outcome != Outcome::kScored && e.outcome != Outcome::kNotOwnData) continue;
    auto it = hotkeys.find(e.uid);
    if (it == hotkeys.end() || it->second != e.hotkey) continue;  // deregistered since
    window_score.emplace(e.uid, e.score);
  }
  for (const auto& [uid, hotkey] : hotkeys) {
    auto known = state.uid_hotkey.find(uid);
    if (known == state.uid_hotkey.end() || known->second != hotkey) {
      state.uid_hotkey[uid] = hotkey;
      state.ema[uid] = 0.0;
    }
    double& ema = state.ema[uid];
    ema = (1.0 - alpha) * ema;
    if (auto s = window_score.find(uid); s != window_score.end()) ema += alpha * s->second;
  }
  for (auto it = state.ema.begin(); it != state.ema.end();) {  // uids that left the metagraph
    if (!hotkeys.count(it->first)) {
      state.uid_hotkey.erase(it->first);
      it = state.ema.erase(it);
    } else {
      ++it;
    }
  }
}

std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>> weights_from_scores(const ValidatorState& state,
                                                                                      int power) {
  double top = 0.0;
  for (const auto& [uid, v] : state.ema) top = std::max(top, v);
  std::vector<std::uint32_t> uids, values;
  if (!(top > 0.0)) return {uids, values};
  for (const auto& [uid, v] : state.ema) {
    if (!(v > 0.0)) continue;
    const double ratio = v / top;
    double relative = ratio;
    for (int i = 1; i < power; ++i) relative *= ratio;
    const auto scaled = static_cast<std::uint32_t>(std::lround(relative * 65535.0));
    if (scaled == 0) continue;
    uids.push_back(uid);
    values.push_back(scaled);
  }
  return {uids, values};
}

proto::SignedVerdict make_verdict(std::uint32_t netuid, std::uint64_t window, const std::string& base_hash_hex,
                                  const WindowReport& report, std::uint64_t eval_seed, const Keypair& hotkey,
                                  const std::vector<std::uint64_t>& payload_bytes) {
  proto::Verdict v;
  v.set_netuid(netuid);
  v.set_window(window);
  auto base = from_hex(base_hash_hex);
  v.set_base_checkpoint(base.ok() ? *base : std::string());
  v.set_validator_hotkey(raw_bytes(hotkey.public_key()));
  for (const auto& e : report.evaluations) {
    if (e.outcome != Outcome::kScored) continue;
    auto* a = v.add_accepted();
    a->set_uid(e.uid);
    a->set_hotkey(e.hotkey);
    a->set_payload_hash(e.payload_hash);
    a->set_score(e.score);
  }
  for (std::size_t i = 0; i < report.evaluations.size(); ++i) {
    const auto& e = report.evaluations[i];
    auto* j = v.add_judged();
    j->set_uid(e.uid);
    j->set_outcome(outcome_name(e.outcome));
    j->set_reason(e.reason.substr(0, 400));
    j->set_score(e.score);
    if (i < payload_bytes.size()) j->set_payload_bytes(payload_bytes[i]);
  }
  if (report.loss_evaluated > 0) v.set_heldout_loss(report.before_random);
  std::string seed(8, '\0');
  for (int i = 0; i < 8; ++i) seed[i] = static_cast<char>((eval_seed >> (8 * i)) & 0xff);
  v.set_eval_seed(seed);
  proto::SignedVerdict sv;
  sv.set_verdict(v.SerializeAsString());
  const Signature sig = hotkey.sign(verdict_signing_bytes(sv.verdict()));
  sv.set_signature(raw_bytes(sig));
  return sv;
}

Result<proto::Verdict> open_verdict(const proto::SignedVerdict& sv) {
  proto::Verdict v;
  if (!v.ParseFromString(sv.verdict())) return Corrupted("verdict does not parse");
  if (v.validator_hotkey().size() != 32 || sv.signature().size() != 64) return Corrupted("verdict: bad key or signature size");
  PublicKey key;
  std::copy(v.validator_hotkey().begin(), v.validator_hotkey().end(), key.begin());
  Signature sig;
  std::copy(sv.signature().begin(), sv.signature().end(), sig.begin());
  if (!verify_signature(key, verdict_signing_bytes(sv.verdict()), sig)) return Corrupted("verdict signature does not verify");
  return v;
}

Result<proto::Verdict> fetch_verdict(const chain::Neuron& neuron, std::uint32_t netuid, std::uint64_t window,
                                     std::chrono::milliseconds timeout) {
  const std::string who = "uid " + std::to_string(neuron.uid);
  if (neuron.address.empty()) return FailedPrecondition(who + " serves no endpoint");
  TESSERA_ASSIGN_OR_RETURN(auto client, net::SubmissionClient::connect(neuron.address, neuron.curve_public_key));
  TESSERA_ASSIGN_OR_RETURN(std::string bytes, client->fetch_verdict(window, timeout));
  proto::SignedVerdict signed_verdict;
  if (!signed_verdict.ParseFromString(bytes)) return Corrupted("the verdict of " + who + " does not parse");
  TESSERA_ASSIGN_OR_RETURN(proto::Verdict v, open_verdict(signed_verdict));
  if (v.validator_hotkey() != neuron.hotkey || v.netuid() != netuid || v.window() != window) {
    return Corrupted(who + " answered with a verdict signed by " + to_hex(v.validator_hotkey()).substr(0, 16) +
                     "… for subnet " + std::to_string(v.netuid()) + " window " + std::to_string(v.window()) +
                     ", not its own of window " + std::to_string(window));
  }
  return v;
}

namespace {

// The validator's process state between windows.
class Validator {
 public:
  explicit Validator(const ValidatorOptions& options) : options_(options) {}
  Status run();

 private:
  Status setup();
  Status load_or_reset_state();
  Status stake_to_target();
  Status start_serving(const std::string& checkpoint_address);
  void refresh_metagraph();
  std::map<std::uint32_t, std::string> current_hotkeys();

  // One window, in the protocol's order (docs/roles.md): the base C_w, the submissions
  // that arrived for it, evaluation, scores, the signed verdict, the next checkpoint (when
  // aggregating), weights, and the status report.
  Status finalize(const chain::CheckpointInfo& info);
  Result<const checkpoints::Checkpoint*> load_base(const chain::CheckpointInfo& info);
  std::vector<net::Submission> take_submissions(std::uint64_t window);
  void drain_server();
  void advance_block(std::uint64_t height);
  WindowContext context(std::uint64_t window, const checkpoints::Checkpoint& base);
  Result<WindowReport> evaluate(std::uint64_t window, const checkpoints::Checkpoint& base,
                                const std::vector<net::Submission>& submissions);
  // Measures one arrival of the open window ahead of its close (docs/roles.md): returns
  // whether it measured one, so that the loop goes on without sleeping.
  Result<bool> prejudge(const chain::CheckpointInfo& info);
  void score(const WindowReport& report);
  Status write_verdict(std::uint64_t window, const std::string& base_hash, const WindowReport& report,
                       const std::vector<net::Submission>& submissions);
  void record_window(std::uint64_t window, const WindowReport& report, std::size_t received);
  void report_window(std::uint64_t window, const checkpoints::Checkpoint& base, const WindowReport& report,
                     std::size_t received, const std::optional<WindowAggregator::Published>& published);

  Status maybe_set_weights(std::uint64_t block);
  void save_state();
  void start_clock();
  void stop_clock();
  std::uint64_t eval_seed(std::uint64_t window) const {
    return Rng::derive("tessera/eval-seed", secret_, window).next_u64();
  }

  const ValidatorOptions& options_;
  subnet::Joined joined_;
  std::optional<dataset::TokenDataset> train_, val_;
  model::GPT model_{nullptr};  // on options_.device; loaded with each window's C_w
  gradients::CodecSettings codec_;
  fs::path dir_;
  ValidatorState state_;
  std::uint64_t secret_ = 0;  // seeds the private evaluation batches; derived from the hotkey
  std::unique_ptr<net::SubmissionServer> server_;
  std::unique_ptr<checkpoints::CheckpointFollower> follower_;
  // Without an aggregator: the follower cache, re-served (a read-only store over it).
  std::optional<checkpoints::CheckpointStore> cache_store_;
  std::unique_ptr<checkpoints::CheckpointServer> cache_server_;
  WindowSchedule schedule_;
  // The chain's height, kept current by clock_ while a window is evaluated, so that the
  // submission server's window checks never run on a stale block.
  std::atomic<std::uint64_t> block_{0};
  std::thread clock_;
  std::atomic<bool> clock_stop_{false};
  std::mutex meta_mu_;  // guards the metagraph copies below (read by the server's thread)
  std::map<std::string, std::uint32_t> uid_by_hotkey_;
  std::map<std::uint32_t, std::string> hotkeys_;
  proto::SubnetParams params_;
  bool permit_ = false;  // this uid's validator permit, as of the last refresh
  std::uint64_t permit_wait_logged_ = 0;  // the epoch block last named in the "no permit yet" line
  std::map<std::uint64_t, std::vector<net::Submission>> pending_;  // by window
  // The previous window's merged update and scored deltas (WindowContext::public_deltas).
  std::vector<std::shared_ptr<const gradients::DecodedDelta>> public_deltas_;
  // Gains of the open window's arrivals measured ahead of its close, and the base whose
  // parameters model_ holds for them ("": reload it first).
  Prejudged prejudged_;
  std::string prejudge_base_;
  std::pair<std::uint64_t, std::size_t> prejudged_all_{~0ULL, 0};  // (window, arrivals) with nothing left
  std::uint64_t windows_done_ = 0;
  nlohmann::json weights_event_;  // weights set or committed while finalising the current window
};

Status Validator::setup() {
  TESSERA_ASSIGN_OR_RETURN(joined_, subnet::join_subnet(options_.join));
  const RunSpec& spec = joined_.spec;
  model::configure_cpu_threads(options_.threads);
  TESSERA_ASSIGN_OR_RETURN(auto train, subnet::load_split(joined_, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, subnet::load_split(joined_, "val"));
  train_.emplace(std::move(train));
  val_.emplace(std::move(val));
  if (train_->num_pages(spec.data.page_tokens) < static_cast<std::uint64_t>(spec.data.pages_per_window)) {
    return FailedPrecondition("the train split holds fewer than data.pages_per_window pages");
  }
  model_ = model::make_gpt(joined_.config, spec.seed);
  model_->to(options_.device);
  model_->eval();
  TESSERA_ASSIGN_OR_RETURN(codec_, gradients::CodecSettings::from_spec(spec.codec));
  schedule_.blocks_per_window = static_cast<std::uint64_t>(spec.schedule.blocks_per_window);
  dir_ = options_.join.home / "validators" / (options_.join.wallet + "-" + std::to_string(options_.join.netuid));
  std::error_code ec;
  fs::create_directories(dir_ / "verdicts", ec);
  if (ec) return IoError("cannot create " + dir_.string() + ": " + ec.message());
  const Hash256 secret = blake2b_256(std::span<const std::uint8_t>(joined_.wallet.hotkey.seed()));
  for (int i = 0; i < 8; ++i) secret_ |= static_cast<std::uint64_t>(secret[i]) << (8 * i);
  TESSERA_RETURN_IF_ERROR(load_or_reset_state());
  refresh_metagraph();
  TESSERA_RETURN_IF_ERROR(stake_to_target());
  checkpoints::CheckpointStore* store = nullptr;
  if (options_.aggregator != nullptr) {
    TESSERA_ASSIGN_OR_RETURN(store, options_.aggregator->start(joined_, dir_));
  }
  std::string checkpoint_address;
  if (options_.aggregator != nullptr) {
    checkpoint_address = options_.aggregator->checkpoint_address();
  } else if (!options_.checkpoint_listen.empty()) {
    fs::create_directories(dir_ / "cache" / "objects", ec);
    if (ec) return IoError("cannot create " + (dir_ / "cache").string() + ": " + ec.message());
    TESSERA_ASSIGN_OR_RETURN(auto cache, checkpoints::CheckpointStore::open_read_only(dir_ / "cache"));
    cache_store_.emplace(std::move(cache));
    TESSERA_ASSIGN_OR_RETURN(cache_server_, checkpoints::CheckpointServer::start(&*cache_store_, options_.checkpoint_listen));
    checkpoint_address = cache_server_->address();
  }
  TESSERA_RETURN_IF_ERROR(start_serving(checkpoint_address));
  follower_ = std::make_unique<checkpoints::CheckpointFollower>(joined_.chain.get(), options_.join.netuid, dir_ / "cache",
                                                                store);
  follower_->set_own_address(checkpoint_address);
  follower_->set_pull_options(
      checkpoints::role_pull_options(joined_.spec, options_.join.checkpoint_mirrors, options_.join.checkpoint_deadline_s));
  spdlog::info("validator uid {} on subnet {} ({}, {}): submissions at {}{}", joined_.uid, options_.join.netuid,
               joined_.config.describe(), options_.device.str(), server_->endpoint(),
               options_.aggregator ? ", aggregating, " + options_.aggregator->describe()
               : cache_server_     ? ", re-serving checkpoints at " + cache_server_->address()
                                   : "");
  return Status::Ok();
}

// Resume, or start fresh when the state is absent, damaged or someone else's.
Status Validator::load_or_reset_state() {
  auto loaded = load_validator_state(dir_ / "state.bin");
  if (loaded.ok() && loaded->netuid == options_.join.netuid && loaded->hotkey == joined_.wallet.hotkey.public_hex()) {
    state_ = std::move(*loaded);
    spdlog::info("resumed validator state: last window {}, {} scored uids", state_.last_window, state_.ema.size());
    return Status::Ok();
  }
  if (!loaded.ok() && loaded.status().code() != StatusCode::kNotFound) {
    spdlog::warn("{} — starting with fresh scores", loaded.status().message());
  }
  state_ = ValidatorState{};
  state_.netuid = options_.join.netuid;
  state_.hotkey = joined_.wallet.hotkey.public_hex();
  if (!loaded.ok() && loaded.status().code() == StatusCode::kCorrupted) count_event(state_, "state-reset", 1);
  return Status::Ok();
}

Status Validator::stake_to_target() {
  if (options_.stake_rao == 0) return Status::Ok();
  TESSERA_ASSIGN_OR_RETURN(auto subnet, joined_.chain->subnet(options_.join.netuid));
  std::uint64_t have = 0;
  for (const auto& n : subnet.neurons) {
    if (n.uid == joined_.uid) have = n.stake;
  }
  if (have >= options_.stake_rao) return Status::Ok();
  auto staked = joined_.chain->add_stake(joined_.wallet.coldkey, joined_.wallet.hotkey.public_key(), options_.join.netuid,
                                         options_.stake_rao - have);
  if (!staked.ok()) return staked.status().with_context("staking " + chain::format_tao(options_.stake_rao - have));
  return Status::Ok();
}

// The submission endpoint, published on chain with its CURVE key and the CheckpointService
// this validator serves ("" if none).
Status Validator::start_serving(const std::string& checkpoint_address) {
  const RunSpec& spec = joined_.spec;
  TESSERA_ASSIGN_OR_RETURN(auto curve, net::CurveKeys::generate());
  net::ServerOptions so;
  so.bind = options_.listen;
  so.netuid = options_.join.netuid;
  so.max_payload_bytes = static_cast<std::size_t>(spec.validator.max_payload_bytes);
  so.schedule = schedule_;
  so.grace_blocks = static_cast<std::uint64_t>(spec.schedule.submission_grace_blocks);
  so.nonce_file = dir_ / "nonces";  // the replay record survives restarts
  so.max_connections = options_.max_connections;
  so.verdict_of = [dir = dir_](std::uint64_t window) -> std::optional<std::string> {
    auto bytes = read_file(dir / "verdicts" / (std::to_string(window) + ".pb"));
    return bytes.ok() ? std::optional<std::string>(std::move(*bytes)) : std::nullopt;
  };
  so.uid_of = [this](const std::string& hotkey) -> std::optional<std::uint32_t> {
    std::lock_guard lock(meta_mu_);
    auto it = uid_by_hotkey_.find(hotkey);
    if (it == uid_by_hotkey_.end()) return std::nullopt;
    return it->second;
  };
  so.current_block = [this] { return block_.load(); };
  TESSERA_ASSIGN_OR_RETURN(auto head, joined_.chain->head());
  block_ = head.height;
  TESSERA_ASSIGN_OR_RETURN(server_, net::SubmissionServer::start(so, joined_.wallet.hotkey, curve));
  auto served = joined_.chain->serve(joined_.wallet.hotkey, options_.join.netuid, server_->endpoint(), curve.public_key,
                                     checkpoint_address);
  if (!served.ok()) return served.status().with_context("publishing the endpoint on chain");
  return Status::Ok();
}

void Validator::refresh_metagraph() {
  auto subnet = joined_.chain->subnet(options_.join.netuid);
  if (!subnet.ok()) return;
  std::lock_guard lock(meta_mu_);
  uid_by_hotkey_.clear();
  permit_ = false;
  for (const auto& n : subnet->neurons) {
    uid_by_hotkey_[n.hotkey] = n.uid;
    if (n.uid == joined_.uid) permit_ = n.validator_permit;
  }
  hotkeys_ = hotkeys_of(*subnet);
  params_ = subnet->params;
}

std::map<std::uint32_t, std::string> Validator::current_hotkeys() {
  std::lock_guard lock(meta_mu_);
  return hotkeys_;
}

void Validator::save_state() {
  Status s = save_validator_state(dir_ / "state.bin", state_);
  if (!s.ok()) spdlog::error("saving validator state: {}", s.message());
}

Status Validator::maybe_set_weights(std::uint64_t block) {
  const RunSpec& spec = joined_.spec;
  const Keypair& hotkey = joined_.wallet.hotkey;
  const std::uint32_t netuid = options_.join.netuid;
  proto::SubnetParams params;
  bool permit = false;
  {
    std::lock_guard lock(meta_mu_);
    params = params_;
    permit = permit_;
  }
  const std::uint64_t reveal_at = state_.commit_block + params.reveal_delay() +
                                  (options_.reveal_late_blocks > 0 ? params.reveal_window() + options_.reveal_late_blocks : 0);
  if (state_.pending_reveal && block >= reveal_at) {
    auto r = joined_.chain->reveal_weights(hotkey, netuid, state_.reveal_uids, state_.reveal_values, state_.reveal_salt);
    if (r.ok()) {
      spdlog::info("revealed weights for {} uids in block {}", state_.reveal_uids.size(), r->block);
      count_event(state_, "weights-revealed", 1);
    } else {
      spdlog::warn("revealing weights: {}", r.status().message());
      count_event(state_, "weights-failed", 1);
    }
    state_.pending_reveal = false;
  }
  if (state_.windows_since_weights < static_cast<std::uint64_t>(spec.validator.windows_per_weights)) return Status::Ok();
  auto [uids, values] = weights_from_scores(state_, spec.validator.weight_power);
  if (uids.empty()) {
    state_.windows_since_weights = 0;
    return Status::Ok();
  }
  // The chain refuses a vector that is not only a self-weight from a uid without a
  // validator permit, and grants permits by stake only at an epoch: a new validator holds
  // none until its first. Its weights wait for the permit (tried again each window)
  // instead of going out to be refused: on subtensor a refused extrinsic is still included
  // in a block. (Chains of rules version 1, from earlier builds, accept weights without a
  // permit; there they only wait for the first epoch.)
  const bool self_only = uids.size() == 1 && uids[0] == joined_.uid;
  if (!self_only && !permit) {
    const std::uint64_t next_epoch = joined_.chain->next_epoch_block(netuid, params.tempo(), block);
    if (permit_wait_logged_ != next_epoch) {
      permit_wait_logged_ = next_epoch;
      spdlog::info("weights wait: uid {} holds no validator permit yet (the chain grants them by stake at each epoch; {})",
                   joined_.uid,
                   next_epoch == UINT64_MAX ? "this subnet's tempo is 0, so none will" : "the next is block " + std::to_string(next_epoch));
    }
    count_event(state_, "weights-waiting-for-permit", 1);
    return Status::Ok();
  }
  state_.windows_since_weights = 0;
  if (params.commit_reveal()) {
    if (state_.pending_reveal) return Status::Ok();  // one commit at a time
    std::string salt(16, '\0');
    Rng rng = Rng::derive("tessera/weights-salt", secret_, block);
    for (auto& c : salt) c = static_cast<char>(rng.next_u64() & 0xff);
    const std::string hash = chain::weights_commit_hash(raw_bytes(hotkey.public_key()), netuid, uids, values, salt, 0);
    auto c = joined_.chain->commit_weights(hotkey, netuid, hash);
    if (!c.ok()) {
      spdlog::warn("committing weights: {}", c.status().message());
      count_event(state_, "weights-failed", 1);
      return Status::Ok();
    }
    weights_event_ = {{"committed", true}, {"uids", uids}, {"values", values}, {"block", c->block}};
    state_.pending_reveal = true;
    state_.reveal_uids = uids;
    state_.reveal_values = values;
    state_.reveal_salt = salt;
    state_.commit_block = c->block;
    count_event(state_, "weights-committed", 1);
    spdlog::info("committed weights for {} uids in block {}", uids.size(), c->block);
    return Status::Ok();
  }
  auto r = joined_.chain->set_weights(hotkey, netuid, uids, values);
  if (r.ok()) {
    weights_event_ = {{"committed", false}, {"uids", uids}, {"values", values}, {"block", r->block}};
    count_event(state_, "weights-set", 1);
    spdlog::info("set weights for {} uids in block {}", uids.size(), r->block);
  } else {
    count_event(state_, "weights-failed", 1);
    spdlog::warn("setting weights: {}", r.status().message());
  }
  return Status::Ok();
}

Result<const checkpoints::Checkpoint*> Validator::load_base(const chain::CheckpointInfo& info) {
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* base, follower_->load(info));
  Status loaded = model::load_parameters(model_, checkpoints::model_parameters(*base));
  if (!loaded.ok()) return loaded.with_context("checkpoint " + base->hash.substr(0, 16) + "… does not fit the run's model");
  return base;
}

// What arrived for `window`, in commitment order (copy priority, docs/protocol.md);
// whatever is still queued for earlier windows is late. The caller has advanced the block
// the server's checks read past the window's close: a delivery whose check began before
// that is queued once the server settles, and none is accepted for the window after.
std::vector<net::Submission> Validator::take_submissions(std::uint64_t window) {
  server_->settle();
  drain_server();
  std::vector<net::Submission> subs = std::move(pending_[window]);
  std::stable_sort(subs.begin(), subs.end(),
                   [](const net::Submission& a, const net::Submission& b) { return a.commitment_seq < b.commitment_seq; });
  for (auto it = pending_.begin(); it != pending_.end() && it->first <= window;) {
    if (it->first < window) count_event(state_, "late", it->second.size());
    it = pending_.erase(it);
  }
  return subs;
}

// Moves what the server accepted into pending_, by window.
void Validator::drain_server() {
  while (auto s = server_->pop(std::chrono::milliseconds(0))) pending_[s->header.window()].push_back(std::move(*s));
}

// The block the server's window check reads only moves forward. The main loop advances it
// before it closes a window, so that no submission checked after that point is accepted
// for the closed window; one checked just before is in the server's queue once the server
// settles (take_submissions), not left behind as late with a receipt.
void Validator::advance_block(std::uint64_t height) {
  std::uint64_t seen = block_.load();
  while (seen < height && !block_.compare_exchange_weak(seen, height)) {
  }
}

WindowContext Validator::context(std::uint64_t window, const checkpoints::Checkpoint& base) {
  WindowContext ctx;
  ctx.spec = &joined_.spec;
  ctx.window = window;
  ctx.base_hash = base.hash;
  ctx.model = model_;
  ctx.train = &*train_;
  ctx.val = &*val_;
  ctx.eval_seed = eval_seed(window);
  ctx.codec = codec_;
  ctx.norm_references = checkpoints::window_references(base.manifest, model::parameter_group_count(joined_.spec.model),
                                                       joined_.spec.train.inner_steps, joined_.spec.train.warmup_steps);
  ctx.public_deltas = public_deltas_;
  return ctx;
}

Result<WindowReport> Validator::evaluate(std::uint64_t window, const checkpoints::Checkpoint& base,
                                         const std::vector<net::Submission>& submissions) {
  WindowContext ctx = context(window, base);
  if (options_.prejudge) ctx.prejudged = &prejudged_;
  return evaluate_window(ctx, submissions);
}

Result<bool> Validator::prejudge(const chain::CheckpointInfo& info) {
  const auto it = pending_.find(info.window);
  if (it == pending_.end() || it->second.empty()) return false;
  if (prejudged_all_ == std::make_pair(info.window, it->second.size())) return false;
  const checkpoints::Checkpoint* base = nullptr;
  if (prejudge_base_ != to_hex(info.hash)) {
    TESSERA_ASSIGN_OR_RETURN(base, load_base(info));
    prejudge_base_ = base->hash;
  } else {
    TESSERA_ASSIGN_OR_RETURN(base, follower_->load(info));
  }
  const std::uint64_t passes_before = prejudged_.forward_passes;
  auto measured = prejudge_window(context(info.window, *base), it->second, &prejudged_, 1);
  if (prejudged_.forward_passes > passes_before) {
    count_forward_passes(prejudged_.forward_passes - passes_before);
  }
  if (!measured.ok()) {
    // The model may hold a half-applied delta: reload it, and measure everything again,
    // once more arrivals came (an error that stays is not retried every turn).
    prejudge_base_.clear();
    prejudged_ = Prejudged{};
    prejudged_all_ = {info.window, it->second.size()};
    return measured.status();
  }
  if (*measured == 0) prejudged_all_ = {info.window, it->second.size()};
  return *measured > 0;
}

void Validator::score(const WindowReport& report) {
  update_scores(state_, report, joined_.spec.validator.score_ema, current_hotkeys());
  for (const auto& e : report.evaluations) {
    state_.counters[outcome_name(e.outcome)] += 1;
    metrics::registry()
        .counter("tessera_validator_submissions_total", "Submissions judged, by outcome (docs/roles.md).",
                 {{"outcome", outcome_name(e.outcome)}})
        .inc();
  }
}

// The signed verdict, kept for audits (the newest 32 windows).
Status Validator::write_verdict(std::uint64_t window, const std::string& base_hash, const WindowReport& report,
                                const std::vector<net::Submission>& submissions) {
  std::vector<std::uint64_t> payload_bytes;
  for (const auto& s : submissions) payload_bytes.push_back(s.payload.size());
  const proto::SignedVerdict verdict = make_verdict(options_.join.netuid, window, base_hash, report, eval_seed(window),
                                                    joined_.wallet.hotkey, payload_bytes);
  TESSERA_RETURN_IF_ERROR(write_file_atomic(dir_ / "verdicts" / (std::to_string(window) + ".pb"), verdict.SerializeAsString()));
  if (window >= 32) {
    std::error_code ec;
    fs::remove(dir_ / "verdicts" / (std::to_string(window - 32) + ".pb"), ec);
  }
  return Status::Ok();
}

void Validator::record_window(std::uint64_t window, const WindowReport& report, std::size_t received) {
  state_.has_window = true;
  state_.last_window = window;
  state_.windows_since_weights += 1;
  state_.history.push_back(WindowSummary{window, static_cast<std::uint32_t>(received),
                                         static_cast<std::uint32_t>(report.count(Outcome::kScored)), report.before_random,
                                         report.seconds});
  while (state_.history.size() > 64) state_.history.pop_front();
}

// The log line and the JSON status object.
void Validator::report_window(std::uint64_t window, const checkpoints::Checkpoint& base, const WindowReport& report,
                              std::size_t received, const std::optional<WindowAggregator::Published>& published) {
  const net::ServerStats stats = server_->stats();
  nlohmann::json rejected = nlohmann::json::object();
  for (const auto& [code, n] : stats.rejected) rejected[net::reject_name(static_cast<proto::RejectCode>(code))] = n;
  nlohmann::json outcomes = nlohmann::json::object();
  for (const auto& e : report.evaluations) outcomes[outcome_name(e.outcome)] = outcomes.value(outcome_name(e.outcome), 0) + 1;
  nlohmann::json per_uid = nlohmann::json::array();
  for (const auto& e : report.evaluations) {
    per_uid.push_back({{"uid", e.uid}, {"outcome", outcome_name(e.outcome)}, {"score", e.score},
                       {"gain_random", e.gain_random}, {"gain_own", e.gain_own}, {"clip", e.clip_scale},
                       {"reason", e.reason}});
    if (!e.shards.empty()) {
      per_uid.back()["shards"] = e.shards;
      per_uid.back()["raw_score"] = e.raw_score;
    }
  }
  nlohmann::json ema = nlohmann::json::object();
  for (const auto& [uid, v] : state_.ema) ema[std::to_string(uid)] = v;
  nlohmann::json status = {{"window", window},
                           {"received", received},
                           {"evaluated", report.loss_evaluated},
                           {"scored", report.count(Outcome::kScored)},
                           {"outcomes", outcomes},
                           {"rejected_at_receive_total", rejected},
                           {"eval_seconds", report.seconds},
                           {"prejudged", report.prejudged},
                           {"forward_passes", report.forward_passes},
                           {"loss_before", report.before_random},
                           {"norm_references", report.norm_references},
                           {"submissions", per_uid},
                           {"scores", ema},
                           {"checkpoint", base.hash}};
  if (!weights_event_.is_null()) status["weights"] = weights_event_;
  if (published) {
    status["next_checkpoint"] = published->hash;
    status["merged"] = published->merged;
  }
  auto& m = metrics::registry();
  m.gauge("tessera_validator_window", "The last window this validator judged.").set(static_cast<double>(window));
  m.counter("tessera_validator_windows_total", "Windows judged.").inc();
  m.counter("tessera_validator_window_submissions_total", "Submissions taken for judgement at window ends.")
      .inc(static_cast<double>(received));
  m.histogram("tessera_validator_eval_seconds", "Time to judge one window's submissions.", metrics::seconds_buckets())
      .observe(report.seconds);
  count_forward_passes(report.forward_passes);
  if (report.loss_evaluated > 0) {
    m.gauge("tessera_validator_heldout_loss", "Held-out loss of the checkpoint judged against, last window.")
        .set(report.before_random);
  }
  if (published) m.counter("tessera_validator_checkpoints_published_total", "Checkpoints merged and announced.").inc();
  std::string outcome_text;
  for (auto it = outcomes.begin(); it != outcomes.end(); ++it) {
    outcome_text += (outcome_text.empty() ? "" : " ") + it.key() + "=" + std::to_string(it.value().get<int>());
  }
  spdlog::info("window {}: {} received, {} | held-out loss {} | eval after the close {:.2f}s ({} forward passes; {} "
               "deltas measured as they arrived){}",
               window, received, outcome_text.empty() ? "nothing to evaluate" : outcome_text,
               report.loss_evaluated > 0 ? fmt::format("{:.4f}", report.before_random) : std::string("-"), report.seconds,
               report.forward_passes, report.prejudged,
               published ? " | merged " + std::to_string(published->merged) + " → " + published->hash.substr(0, 12)
                         : std::string());
  if (options_.on_window) options_.on_window(status.dump());
}

Status Validator::finalize(const chain::CheckpointInfo& info) {
  const std::uint64_t w = info.window;
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* base, load_base(info));
  prejudge_base_.clear();  // the next window's measurements load their own base
  const std::vector<net::Submission> subs = take_submissions(w);
  TESSERA_ASSIGN_OR_RETURN(WindowReport report, evaluate(w, *base, subs));
  prejudged_ = Prejudged{};
  score(report);
  TESSERA_RETURN_IF_ERROR(write_verdict(w, base->hash, report, subs));
  std::optional<WindowAggregator::Published> published;
  if (options_.aggregator != nullptr) {
    // Announced for the window the chain is in: later than w + 1 when this node fell behind.
    const std::uint64_t target = std::max(w + 1, schedule_.window_of(block_.load()));
    TESSERA_ASSIGN_OR_RETURN(published, options_.aggregator->publish_next(*base, target, report, subs));
  }
  // What this window made public, for the next one's replay check (an aggregator's own
  // merge is that update; other validators merge their scored deltas the same way).
  TESSERA_ASSIGN_OR_RETURN(public_deltas_, public_deltas_of(report, checkpoints::parameter_shapes(*base), codec_,
                                                            published ? std::move(published->update)
                                                                      : std::vector<torch::Tensor>{}));
  record_window(w, report, subs.size());
  weights_event_ = nullptr;
  TESSERA_RETURN_IF_ERROR(maybe_set_weights(block_.load()));
  save_state();
  report_window(w, *base, report, subs.size(), published);
  ++windows_done_;
  return Status::Ok();
}

// Follows the chain's head on its own thread (and refreshes the metagraph the server's
// registration check reads), so that serving never waits for an evaluation.
void Validator::start_clock() {
  const auto tick = std::chrono::milliseconds(std::max(20, joined_.spec.schedule.block_time_ms / 4));
  clock_ = std::thread([this, tick] {
    std::uint64_t last_refresh = 0;
    while (!clock_stop_) {
      auto head = joined_.chain->head();
      if (head.ok()) {
        advance_block(head->height);
        if (head->height != last_refresh) {
          refresh_metagraph();
          last_refresh = head->height;
        }
      }
      std::this_thread::sleep_for(tick);
    }
  });
}

void Validator::stop_clock() {
  clock_stop_ = true;
  if (clock_.joinable()) clock_.join();
}

Status Validator::run() {
  TESSERA_RETURN_IF_ERROR(setup());
  start_clock();
  struct StopClock {
    Validator* v;
    ~StopClock() { v->stop_clock(); }
  } stop_clock_at_exit{this};
  const auto tick = std::chrono::milliseconds(std::max(20, joined_.spec.schedule.block_time_ms / 4));
  const std::uint64_t grace = static_cast<std::uint64_t>(joined_.spec.schedule.submission_grace_blocks);
  while (!interrupted() && (options_.windows == 0 || windows_done_ < options_.windows)) {
    auto head = joined_.chain->head();
    if (!head.ok()) {
      spdlog::warn("chain: {} (retrying)", head.status().message());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    advance_block(head->height);
    drain_server();

    auto ann = follower_->announced();
    if (!ann.ok()) {
      spdlog::warn("reading the checkpoint announcement: {}", ann.status().message());
    } else if (!ann->has_value()) {
      if (options_.aggregator != nullptr) {
        TESSERA_RETURN_IF_ERROR(options_.aggregator->publish_initial(schedule_.window_of(head->height)));
        continue;
      }
    } else {
      const chain::CheckpointInfo& info = **ann;
      const bool done = state_.has_window && state_.last_window >= info.window;
      const std::uint64_t deadline = schedule_.first_block(info.window + 1) + grace;
      if (!done && head->height >= deadline) {
        Status s = finalize(info);
        if (!s.ok()) {
          spdlog::error("window {}: {}", info.window, s.message());
          count_event(state_, "window-errors", 1);
          std::this_thread::sleep_for(std::chrono::seconds(1));
        }
        continue;
      }
      if (!done && options_.prejudge) {
        auto measured = prejudge(info);
        if (!measured.ok()) {
          spdlog::warn("window {}: measuring ahead: {}", info.window, measured.status().message());
          count_event(state_, "prejudge-errors", 1);
        } else if (*measured) {
          continue;
        }
      }
      if (done && state_.pending_reveal) (void)maybe_set_weights(head->height);
    }
    std::this_thread::sleep_for(tick);
  }
  save_state();
  server_->stop();
  if (options_.aggregator != nullptr) options_.aggregator->stop();
  spdlog::info("validator stopped after {} windows", windows_done_);
  return Status::Ok();
}

}  // namespace

Status run_validator(const ValidatorOptions& options) { return Validator(options).run(); }

}  // namespace tessera::verification
