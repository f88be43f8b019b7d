#include "verification/validator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "aggregator/window.h"
#include "checkpoints/follower.h"
#include "checkpoints/service.h"
#include "checkpoints/update.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/rng.h"
#include "core/schedule.h"
#include "model/runtime.h"
#include "net/submission.h"
#include "trainer/inner_loop.h"

namespace tessera::verification {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kVerdictDomain{"tessera-verdict/1\0", 18};

std::string verdict_signing_bytes(const std::string& verdict) {
  std::string m(kVerdictDomain);
  m += verdict;
  return m;
}

std::map<std::uint32_t, std::string> hotkeys_of(const proto::SubnetReply& s) {
  std::map<std::uint32_t, std::string> out;
  for (const auto& n : s.neurons()) out[n.uid()] = n.hotkey();
  return out;
}

}  // namespace

void update_scores(ValidatorState& state, const WindowReport& report, double alpha,
                   const std::map<std::uint32_t, std::string>& hotkeys) {
  std::map<std::uint32_t, double> window_score;
  for (const auto& e : report.evaluations) {
    auto it = hotkeys.find(e.uid);
    if (it == hotkeys.end() || it->second != e.hotkey) continue;  // deregistered since
    window_score[e.uid] = std::max(window_score[e.uid], e.score);
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

std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>> weights_from_scores(const ValidatorState& state) {
  double top = 0.0;
  for (const auto& [uid, v] : state.ema) top = std::max(top, v);
  std::vector<std::uint32_t> uids, values;
  if (!(top > 0.0)) return {uids, values};
  for (const auto& [uid, v] : state.ema) {
    if (!(v > 0.0)) continue;
    const auto scaled = static_cast<std::uint32_t>(std::lround(v / top * 65535.0));
    if (scaled == 0) continue;
    uids.push_back(uid);
    values.push_back(scaled);
  }
  return {uids, values};
}

proto::SignedVerdict make_verdict(std::uint32_t netuid, std::uint64_t window, const std::string& base_hash_hex,
                                  const WindowReport& report, std::uint64_t eval_seed, const Keypair& hotkey) {
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

namespace {

// The validator's process state between windows.
class Validator {
 public:
  explicit Validator(const ValidatorOptions& o) : o_(o) {}
  Status run();

 private:
  Status setup();
  void refresh_metagraph();
  Status finalize(const chain::CheckpointInfo& info);
  Status maybe_set_weights(std::uint64_t block);
  void save_state();
  std::uint64_t eval_seed(std::uint64_t window) const {
    return Rng::derive("tessera/eval-seed", secret_, window).next_u64();
  }

  const ValidatorOptions& o_;
  trainer::Joined j_;
  std::optional<dataset::TokenDataset> train_, val_;
  model::GPT model_{nullptr};
  gradients::CodecSettings codec_;
  fs::path dir_;
  ValidatorState state_;
  std::uint64_t secret_ = 0;
  std::optional<checkpoints::CheckpointStore> store_;
  std::unique_ptr<checkpoints::CheckpointServer> ck_server_;
  std::string ck_address_;
  std::unique_ptr<net::SubmissionServer> server_;
  std::unique_ptr<checkpoints::CheckpointFollower> follower_;
  WindowSchedule schedule_;
  std::atomic<std::uint64_t> block_{0};
  std::mutex meta_mu_;
  std::map<std::string, std::uint32_t> uid_by_hotkey_;
  std::map<std::uint32_t, std::string> hotkeys_;
  proto::SubnetParams params_;
  std::map<std::uint64_t, std::vector<net::Submission>> pending_;
  std::uint64_t windows_done_ = 0;
  nlohmann::json weights_event_;  // weights set or committed while finalising the current window
};

Status Validator::setup() {
  TESSERA_ASSIGN_OR_RETURN(j_, trainer::join_subnet(o_.join));
  const RunSpec& spec = j_.spec;
  model::configure_cpu_threads(o_.threads);
  TESSERA_ASSIGN_OR_RETURN(auto train, trainer::load_split(j_, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, trainer::load_split(j_, "val"));
  train_.emplace(std::move(train));
  val_.emplace(std::move(val));
  if (train_->num_pages(spec.data.page_tokens) < static_cast<std::uint64_t>(spec.data.pages_per_window)) {
    return FailedPrecondition("the train split holds fewer than data.pages_per_window pages");
  }
  model_ = model::make_gpt(j_.config, spec.seed);
  model_->to(o_.device);
  model_->eval();
  TESSERA_ASSIGN_OR_RETURN(codec_, gradients::CodecSettings::from_spec(spec.codec));
  schedule_.blocks_per_window = static_cast<std::uint64_t>(spec.schedule.blocks_per_window);
  dir_ = o_.join.home / "validators" / (o_.join.wallet + "-" + std::to_string(o_.join.netuid));
  std::error_code ec;
  fs::create_directories(dir_ / "verdicts", ec);
  if (ec) return IoError("cannot create " + dir_.string() + ": " + ec.message());
  const Hash256 secret = blake2b_256(std::span<const std::uint8_t>(j_.wallet.hotkey.seed()));
  for (int i = 0; i < 8; ++i) secret_ |= static_cast<std::uint64_t>(secret[i]) << (8 * i);

  // State: resume, or start fresh when absent, damaged or someone else's.
  auto loaded = load_validator_state(dir_ / "state.bin");
  if (loaded.ok() && loaded->netuid == o_.join.netuid && loaded->hotkey == j_.wallet.hotkey.public_hex()) {
    state_ = std::move(*loaded);
    spdlog::info("resumed validator state: last window {}, {} scored uids", state_.last_window, state_.ema.size());
  } else {
    if (!loaded.ok() && loaded.status().code() != StatusCode::kNotFound) {
      spdlog::warn("{} — starting with fresh scores", loaded.status().message());
    }
    state_ = ValidatorState{};
    state_.netuid = o_.join.netuid;
    state_.hotkey = j_.wallet.hotkey.public_hex();
    if (!loaded.ok() && loaded.status().code() == StatusCode::kCorrupted) state_.counters["state-reset"] += 1;
  }

  refresh_metagraph();
  if (o_.stake_rao > 0) {
    TESSERA_ASSIGN_OR_RETURN(auto subnet, j_.chain->subnet(o_.join.netuid));
    std::uint64_t have = 0;
    for (const auto& n : subnet.neurons()) {
      if (n.uid() == j_.uid) have = n.stake();
    }
    if (have < o_.stake_rao) {
      auto staked = j_.chain->add_stake(j_.wallet.coldkey, j_.wallet.hotkey.public_key(), o_.join.netuid, o_.stake_rao - have);
      if (!staked.ok()) return staked.status().with_context("staking " + chain::format_tao(o_.stake_rao - have) + " TAO");
    }
  }
  if (o_.aggregate) {
    if (params_.aggregator_hotkey() != raw_bytes(j_.wallet.hotkey.public_key())) {
      return FailedPrecondition("subnet " + std::to_string(o_.join.netuid) + " does not name this hotkey (" +
                                j_.wallet.hotkey.public_hex().substr(0, 16) +
                                "…) as its aggregator; the owner sets it with `tessera subnet set-aggregator`");
    }
    TESSERA_ASSIGN_OR_RETURN(auto store, checkpoints::CheckpointStore::open(
                                            dir_ / "checkpoints", checkpoints::Retention{o_.keep_checkpoints, 0}));
    store_.emplace(std::move(store));
    TESSERA_ASSIGN_OR_RETURN(ck_server_, checkpoints::CheckpointServer::start(&*store_, o_.checkpoint_listen,
                                                                                o_.checkpoint_data_port));
    std::string host = o_.checkpoint_listen.substr(0, o_.checkpoint_listen.rfind(':'));
    if (host == "0.0.0.0" || host == "[::]" || host.empty()) host = "127.0.0.1";
    ck_address_ = host + ":" + std::to_string(ck_server_->port());
  }

  TESSERA_ASSIGN_OR_RETURN(auto curve, net::CurveKeys::generate());
  net::ServerOptions so;
  so.bind = o_.listen;
  so.netuid = o_.join.netuid;
  so.max_payload_bytes = static_cast<std::size_t>(spec.validator.max_payload_bytes);
  so.schedule = schedule_;
  so.grace_blocks = static_cast<std::uint64_t>(spec.schedule.submission_grace_blocks);
  so.uid_of = [this](const std::string& hotkey) -> std::optional<std::uint32_t> {
    std::lock_guard lock(meta_mu_);
    auto it = uid_by_hotkey_.find(hotkey);
    if (it == uid_by_hotkey_.end()) return std::nullopt;
    return it->second;
  };
  so.current_block = [this] { return block_.load(); };
  TESSERA_ASSIGN_OR_RETURN(auto head, j_.chain->head());
  block_ = head.height;
  TESSERA_ASSIGN_OR_RETURN(server_, net::SubmissionServer::start(so, j_.wallet.hotkey, curve));
  auto served = j_.chain->serve(j_.wallet.hotkey, o_.join.netuid, server_->endpoint(), curve.public_key);
  if (!served.ok()) return served.status().with_context("publishing the endpoint on chain");
  follower_ = std::make_unique<checkpoints::CheckpointFollower>(j_.chain.get(), o_.join.netuid, dir_ / "cache",
                                                                store_ ? &*store_ : nullptr);
  spdlog::info("validator uid {} on subnet {} ({}): submissions at {}{}", j_.uid, o_.join.netuid, j_.config.describe(),
               server_->endpoint(), o_.aggregate ? ", aggregating, checkpoints at " + ck_address_ : "");
  return Status::Ok();
}

void Validator::refresh_metagraph() {
  auto subnet = j_.chain->subnet(o_.join.netuid);
  if (!subnet.ok()) return;
  std::lock_guard lock(meta_mu_);
  uid_by_hotkey_.clear();
  for (const auto& n : subnet->neurons()) uid_by_hotkey_[n.hotkey()] = n.uid();
  hotkeys_ = hotkeys_of(*subnet);
  params_ = subnet->params();
}

void Validator::save_state() {
  Status s = save_validator_state(dir_ / "state.bin", state_);
  if (!s.ok()) spdlog::error("saving validator state: {}", s.message());
}

Status Validator::maybe_set_weights(std::uint64_t block) {
  const RunSpec& spec = j_.spec;
  if (state_.pending_reveal && block >= state_.commit_block + params_.reveal_delay()) {
    auto r = j_.chain->reveal_weights(j_.wallet.hotkey, o_.join.netuid, state_.reveal_uids, state_.reveal_values,
                                      state_.reveal_salt);
    if (r.ok()) {
      spdlog::info("revealed weights for {} uids in block {}", state_.reveal_uids.size(), r->block);
      state_.counters["weights-revealed"] += 1;
    } else {
      spdlog::warn("revealing weights: {}", r.status().message());
      state_.counters["weights-failed"] += 1;
    }
    state_.pending_reveal = false;
  }
  if (state_.windows_since_weights < static_cast<std::uint64_t>(spec.validator.windows_per_weights)) return Status::Ok();
  auto [uids, values] = weights_from_scores(state_);
  state_.windows_since_weights = 0;
  if (uids.empty()) return Status::Ok();
  if (params_.commit_reveal()) {
    if (state_.pending_reveal) return Status::Ok();  // one commit at a time
    std::string salt(16, '\0');
    Rng rng = Rng::derive("tessera/weights-salt", secret_, block);
    for (auto& c : salt) c = static_cast<char>(rng.next_u64() & 0xff);
    const std::string hash = chain::weights_commit_hash(raw_bytes(j_.wallet.hotkey.public_key()), o_.join.netuid, uids,
                                                        values, salt, 0);
    auto c = j_.chain->commit_weights(j_.wallet.hotkey, o_.join.netuid, hash);
    if (!c.ok()) {
      spdlog::warn("committing weights: {}", c.status().message());
      state_.counters["weights-failed"] += 1;
      return Status::Ok();
    }
    weights_event_ = {{"committed", true}, {"uids", uids}, {"values", values}, {"block", c->block}};
    state_.pending_reveal = true;
    state_.reveal_uids = uids;
    state_.reveal_values = values;
    state_.reveal_salt = salt;
    state_.commit_block = c->block;
    state_.counters["weights-committed"] += 1;
    spdlog::info("committed weights for {} uids in block {}", uids.size(), c->block);
    return Status::Ok();
  }
  auto r = j_.chain->set_weights(j_.wallet.hotkey, o_.join.netuid, uids, values);
  if (r.ok()) {
    weights_event_ = {{"committed", false}, {"uids", uids}, {"values", values}, {"block", r->block}};
    state_.counters["weights-set"] += 1;
    spdlog::info("set weights for {} uids in block {}", uids.size(), r->block);
  } else {
    state_.counters["weights-failed"] += 1;
    spdlog::warn("setting weights: {}", r.status().message());
  }
  return Status::Ok();
}

Status Validator::finalize(const chain::CheckpointInfo& info) {
  const RunSpec& spec = j_.spec;
  const std::uint64_t w = info.window;
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* ck, follower_->load(info));
  const auto params = aggregator::model_parameters(*ck);
  Status loaded = trainer::load_parameters(model_, params);
  if (!loaded.ok()) return loaded.with_context("checkpoint " + ck->hash.substr(0, 16) + "… does not fit the run's model");
  std::vector<net::Submission> subs = std::move(pending_[w]);
  for (auto it = pending_.begin(); it != pending_.end() && it->first <= w;) {
    if (it->first < w) state_.counters["late"] += it->second.size();
    it = pending_.erase(it);
  }
  WindowContext ctx;
  ctx.spec = &spec;
  ctx.window = w;
  ctx.base_hash = ck->hash;
  ctx.model = model_;
  ctx.train = &*train_;
  ctx.val = &*val_;
  ctx.eval_seed = eval_seed(w);
  ctx.codec = codec_;
  TESSERA_ASSIGN_OR_RETURN(WindowReport report, evaluate_window(ctx, subs));
  std::map<std::uint32_t, std::string> hotkeys;
  {
    std::lock_guard lock(meta_mu_);
    hotkeys = hotkeys_;
  }
  update_scores(state_, report, spec.validator.score_ema, hotkeys);
  for (const auto& e : report.evaluations) state_.counters[outcome_name(e.outcome)] += 1;

  // Verdict (kept for audits: the newest 32).
  const proto::SignedVerdict verdict = make_verdict(o_.join.netuid, w, ck->hash, report, ctx.eval_seed, j_.wallet.hotkey);
  TESSERA_RETURN_IF_ERROR(write_file_atomic(dir_ / "verdicts" / (std::to_string(w) + ".pb"), verdict.SerializeAsString()));
  if (w >= 32) {
    std::error_code ec;
    fs::remove(dir_ / "verdicts" / (std::to_string(w - 32) + ".pb"), ec);
  }

  std::string next_hash;
  std::size_t merged = 0;
  if (o_.aggregate) {
    std::vector<checkpoints::AcceptedEntry> accepted;
    std::vector<const gradients::DecodedDelta*> deltas;
    for (std::size_t i = 0; i < report.evaluations.size(); ++i) {
      const auto& e = report.evaluations[i];
      if (e.outcome != Outcome::kScored) continue;
      TESSERA_RETURN_IF_ERROR(store_->put_blob(to_hex(e.payload_hash), subs[i].payload));
      accepted.push_back({e.uid, to_hex(e.hotkey), to_hex(e.payload_hash), e.score});
      deltas.push_back(e.delta.get());
    }
    merged = deltas.size();
    const std::uint64_t target = std::max(w + 1, schedule_.window_of(block_.load()));
    TESSERA_ASSIGN_OR_RETURN(auto next, aggregator::next_checkpoint(spec, *ck, target, accepted, deltas));
    TESSERA_ASSIGN_OR_RETURN(next_hash, store_->put(next.tensors, next.manifest, j_.wallet.hotkey));
    // The merged update U_w as applied, for nodes catching up from C_w.
    if (auto update = checkpoints::make_update(*ck, next.tensors, next_hash); update.ok()) {
      TESSERA_RETURN_IF_ERROR(store_->put_update(next_hash, *update));
    }
    TESSERA_ASSIGN_OR_RETURN(std::string raw, from_hex(next_hash));
    auto announced = j_.chain->announce_checkpoint(j_.wallet.hotkey, o_.join.netuid, target, raw, ck_address_);
    if (!announced.ok()) return announced.status().with_context("announcing checkpoint " + next_hash.substr(0, 16) + "…");
  }

  state_.has_window = true;
  state_.last_window = w;
  state_.windows_since_weights += 1;
  WindowSummary summary{w, static_cast<std::uint32_t>(subs.size()),
                        static_cast<std::uint32_t>(report.count(Outcome::kScored)), report.before_random, report.seconds};
  state_.history.push_back(summary);
  while (state_.history.size() > 64) state_.history.pop_front();
  weights_event_ = nullptr;
  TESSERA_RETURN_IF_ERROR(maybe_set_weights(block_.load()));
  save_state();

  // Status: the log line and the JSON object.
  const net::ServerStats stats = server_->stats();
  nlohmann::json rejected = nlohmann::json::object();
  for (const auto& [code, n] : stats.rejected) rejected[net::reject_name(static_cast<proto::RejectCode>(code))] = n;
  nlohmann::json outcomes = nlohmann::json::object();
  for (const auto& e : report.evaluations) outcomes[outcome_name(e.outcome)] = outcomes.value(outcome_name(e.outcome), 0) + 1;
  nlohmann::json per_uid = nlohmann::json::array();
  for (const auto& e : report.evaluations) {
    per_uid.push_back({{"uid", e.uid}, {"outcome", outcome_name(e.outcome)}, {"score", e.score},
                       {"gain_random", e.gain_random}, {"gain_own", e.gain_own}, {"reason", e.reason}});
  }
  nlohmann::json ema = nlohmann::json::object();
  for (const auto& [uid, v] : state_.ema) ema[std::to_string(uid)] = v;
  nlohmann::json status = {{"window", w},
                           {"received", subs.size()},
                           {"evaluated", report.loss_evaluated},
                           {"scored", report.count(Outcome::kScored)},
                           {"outcomes", outcomes},
                           {"rejected_at_receive_total", rejected},
                           {"eval_seconds", report.seconds},
                           {"forward_passes", report.forward_passes},
                           {"loss_before", report.before_random},
                           {"submissions", per_uid},
                           {"scores", ema},
                           {"checkpoint", ck->hash}};
  if (!weights_event_.is_null()) status["weights"] = weights_event_;
  if (o_.aggregate) {
    status["next_checkpoint"] = next_hash;
    status["merged"] = merged;
  }
  std::string outcome_text;
  for (auto it = outcomes.begin(); it != outcomes.end(); ++it) {
    outcome_text += (outcome_text.empty() ? "" : " ") + it.key() + "=" + std::to_string(it.value().get<int>());
  }
  spdlog::info("window {}: {} received, {} | held-out loss {} | eval {:.2f}s ({} forward passes){}", w, subs.size(),
               outcome_text.empty() ? "nothing to evaluate" : outcome_text,
               report.forward_passes ? fmt::format("{:.4f}", report.before_random) : std::string("-"), report.seconds,
               report.forward_passes,
               o_.aggregate ? " | merged " + std::to_string(merged) + " → " + next_hash.substr(0, 12) : std::string());
  if (o_.on_window) o_.on_window(status.dump());
  ++windows_done_;
  return Status::Ok();
}

Status Validator::run() {
  TESSERA_RETURN_IF_ERROR(setup());
  const auto tick = std::chrono::milliseconds(std::max(20, j_.spec.schedule.block_time_ms / 4));
  const std::uint64_t grace = static_cast<std::uint64_t>(j_.spec.schedule.submission_grace_blocks);
  std::uint64_t last_refresh = 0;
  while (!interrupted() && (o_.windows == 0 || windows_done_ < o_.windows)) {
    auto head = j_.chain->head();
    if (!head.ok()) {
      spdlog::warn("chain: {} (retrying)", head.status().message());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    block_ = head->height;
    if (head->height != last_refresh) {
      refresh_metagraph();
      last_refresh = head->height;
    }
    while (auto s = server_->pop(std::chrono::milliseconds(0))) pending_[s->header.window()].push_back(std::move(*s));

    auto ann = follower_->announced();
    if (!ann.ok()) {
      spdlog::warn("reading the checkpoint announcement: {}", ann.status().message());
    } else if (!ann->has_value()) {
      if (o_.aggregate) {
        // The run's first checkpoint: the deterministic initialisation from the run seed.
        const std::uint64_t w = schedule_.window_of(head->height);
        TESSERA_ASSIGN_OR_RETURN(auto init, aggregator::initial_checkpoint(j_.spec, w));
        TESSERA_ASSIGN_OR_RETURN(std::string hash, store_->put(init.tensors, init.manifest, j_.wallet.hotkey));
        TESSERA_ASSIGN_OR_RETURN(std::string raw, from_hex(hash));
        auto a = j_.chain->announce_checkpoint(j_.wallet.hotkey, o_.join.netuid, w, raw, ck_address_);
        if (!a.ok()) return a.status().with_context("announcing the initial checkpoint");
        spdlog::info("initial checkpoint {}… announced for window {}", hash.substr(0, 12), w);
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
          state_.counters["window-errors"] += 1;
          std::this_thread::sleep_for(std::chrono::seconds(1));
        }
        continue;
      }
      if (done && state_.pending_reveal) (void)maybe_set_weights(head->height);
    }
    std::this_thread::sleep_for(tick);
  }
  save_state();
  server_->stop();
  if (ck_server_) ck_server_->stop();
  spdlog::info("validator stopped after {} windows", windows_done_);
  return Status::Ok();
}

}  // namespace

Status run_validator(const ValidatorOptions& options) { return Validator(options).run(); }

}  // namespace tessera::verification
