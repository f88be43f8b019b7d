#include "trainer/miner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "aggregator/window.h"
#include "checkpoints/follower.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/schedule.h"
#include "gradients/error_feedback.h"
#include "model/runtime.h"
#include "model/shards.h"
#include "net/submission.h"
#include "core/file_io.h"
#include "core/process.h"
#include "trainer/data_parallel.h"
#include "trainer/inner_loop.h"
#include "trainer/miner_state.h"
#include "trainer/optim.h"

namespace tessera::trainer {

namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The parameters a miner trains: all, or those of the chosen shards (the others get no
// gradient and no optimizer state).
Result<std::vector<std::uint32_t>> select_trained(model::GPT& model, const RunSpec& spec, const std::string& shards) {
  const auto named = model->named_params();
  std::vector<std::uint32_t> trained;
  if (shards.empty()) {
    for (std::uint32_t i = 0; i < named.size(); ++i) trained.push_back(i);
    return trained;
  }
  TESSERA_ASSIGN_OR_RETURN(auto partition, model::partition_shards(model, spec.model.shards));
  TESSERA_ASSIGN_OR_RETURN(auto chosen, model::parse_shard_list(shards, spec.model.shards));
  std::set<std::string> names;
  for (int s : chosen) names.insert(partition[s].parameter_names.begin(), partition[s].parameter_names.end());
  for (std::uint32_t i = 0; i < named.size(); ++i) {
    if (names.count(named[i].first)) {
      trained.push_back(i);
    } else {
      named[i].second.set_requires_grad(false);
    }
  }
  return trained;
}

// The per-window control record rank 0 broadcasts: window, uid, origin window, stop.
constexpr int kControlLen = 4;

struct Endpoint {
  std::string address, curve_key;
  std::uint32_t uid = 0;
  std::string hotkey;
};

class Miner {
 public:
  explicit Miner(const MinerOptions& o) : o_(o) {}
  Status run();

 private:
  Status setup();
  Status do_window(const chain::CheckpointInfo& info, double waited);
  void save_state();
  std::vector<Endpoint> validators();

  const MinerOptions& o_;
  Joined j_;
  std::optional<dataset::TokenDataset> train_;
  model::GPT model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<gradients::ErrorFeedback> ef_;
  gradients::CodecSettings codec_;
  std::vector<std::uint32_t> trained_;  // parameter indices this miner trains and submits
  fs::path dir_;
  MinerRecord record_;
  std::unique_ptr<checkpoints::CheckpointFollower> follower_;
  WindowSchedule schedule_;
  std::map<std::string, std::unique_ptr<net::SubmissionClient>> clients_;  // by address + key
  std::uint64_t submitted_ = 0;
  std::optional<std::uint64_t> skipped_window_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::unique_ptr<DataParallelGroup> group_;
  Status start_workers();
  void stop_workers();
};

Status Miner::start_workers() {
  if (o_.workers <= 1) return Status::Ok();
  if (j_.spec.train.batch_size % o_.workers != 0) {
    return InvalidArgument("--workers " + std::to_string(o_.workers) + " must divide train.batch_size = " +
                           std::to_string(j_.spec.train.batch_size));
  }
  const fs::path wdir = dir_ / "workers";
  std::error_code ec;
  fs::remove_all(wdir, ec);
  fs::create_directories(wdir, ec);
  if (ec) return IoError("cannot create " + wdir.string() + ": " + ec.message());
  TESSERA_RETURN_IF_ERROR(write_file_atomic(wdir / "spec.toml", j_.spec.text));
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  for (int r = 1; r < o_.workers; ++r) {
    // One GPU per rank: rank r of a CUDA miner on cuda:N trains on cuda:N+r.
    const std::string device =
        o_.device.is_cuda() ? "cuda:" + std::to_string((o_.device.has_index() ? o_.device.index() : 0) + r) : "cpu";
    std::vector<std::string> argv = {exe.string(), "miner-worker", "--rank", std::to_string(r), "--world",
                                     std::to_string(o_.workers), "--store", (wdir / "store").string(), "--spec",
                                     (wdir / "spec.toml").string(), "--data", j_.data_dir, "--threads",
                                     std::to_string(std::max(1, o_.threads)), "--device", device};
    if (!o_.shards.empty()) argv.insert(argv.end(), {"--shards", o_.shards});
    workers_.push_back(std::make_unique<Subprocess>(argv, wdir / ("worker-" + std::to_string(r) + ".log")));
  }
  TESSERA_ASSIGN_OR_RETURN(group_, DataParallelGroup::join(wdir / "store", 0, o_.workers, o_.device));
  std::string state = save_optimizer(*optimizer_);
  TESSERA_RETURN_IF_ERROR(group_->broadcast_bytes(&state));
  spdlog::info("{} local workers joined ({}): each trains 1/{} of every batch", o_.workers - 1, group_->backend(),
               o_.workers);
  return Status::Ok();
}

void Miner::stop_workers() {
  if (!group_) return;
  std::vector<torch::Tensor> control{torch::tensor({0L, 0L, 0L, 1L}, torch::kLong)};
  (void)group_->broadcast(control);
  for (auto& w : workers_) {
    if (!w->wait(std::chrono::seconds(10))) w->stop();
  }
}

Status Miner::setup() {
  TESSERA_ASSIGN_OR_RETURN(j_, join_subnet(o_.join));
  const RunSpec& spec = j_.spec;
  model::configure_cpu_threads(o_.threads);
  TESSERA_ASSIGN_OR_RETURN(auto train, load_split(j_, "train"));
  train_.emplace(std::move(train));
  if (train_->num_pages(spec.data.page_tokens) < static_cast<std::uint64_t>(spec.data.pages_per_window)) {
    return FailedPrecondition("the train split in " + j_.data_dir + " holds fewer than data.pages_per_window = " +
                              std::to_string(spec.data.pages_per_window) + " pages");
  }
  model_ = model::make_gpt(j_.config, spec.seed);
  model_->to(o_.device);
  const auto named = model_->named_params();
  TESSERA_ASSIGN_OR_RETURN(trained_, select_trained(model_, spec, o_.shards));
  optimizer_ = make_adamw(model_, spec.train);
  ef_ = std::make_unique<gradients::ErrorFeedback>(spec.codec.ef_beta);
  TESSERA_ASSIGN_OR_RETURN(codec_, gradients::CodecSettings::from_spec(spec.codec));
  schedule_.blocks_per_window = static_cast<std::uint64_t>(spec.schedule.blocks_per_window);
  dir_ = o_.join.home / "miners" / (o_.join.wallet + "-" + std::to_string(o_.join.netuid));
  follower_ = std::make_unique<checkpoints::CheckpointFollower>(j_.chain.get(), o_.join.netuid, dir_ / "cache");

  const std::string spec_hash = to_hex(blake2b_256(spec.text));
  auto loaded = load_miner_state(dir_ / "state");
  if (loaded.ok() && loaded->record.netuid == o_.join.netuid && loaded->record.hotkey == j_.wallet.hotkey.public_hex() &&
      loaded->record.spec_hash == spec_hash) {
    Status opt = load_optimizer(*optimizer_, loaded->optimizer, o_.device);
    if (opt.ok()) {
      record_ = loaded->record;
      for (auto& [index, buffer] : loaded->ef) buffer = buffer.to(o_.device);
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
  record_.netuid = o_.join.netuid;
  record_.hotkey = j_.wallet.hotkey.public_hex();
  record_.spec_hash = spec_hash;
  spdlog::info("miner uid {} on subnet {} ({}, {}), training {} of {} parameter tensors, codec {}", j_.uid,
               o_.join.netuid, j_.config.describe(), o_.device.str(), trained_.size(), named.size(), codec_.name());
  return Status::Ok();
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
  auto subnet = j_.chain->subnet(o_.join.netuid);
  if (!subnet.ok()) return out;
  for (const auto& n : subnet->neurons()) {
    if (n.address().empty() || n.curve_public_key().size() != 32 || n.uid() == j_.uid) continue;
    out.push_back({n.address(), n.curve_public_key(), n.uid(), n.hotkey()});
  }
  return out;
}

Status Miner::do_window(const chain::CheckpointInfo& info, double waited) {
  const RunSpec& spec = j_.spec;
  const std::uint64_t w = info.window;
  const auto t_pull = std::chrono::steady_clock::now();
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* ck, follower_->load(info));
  const double pull_s = since(t_pull);
  const std::vector<torch::Tensor> start = aggregator::model_parameters(*ck);
  TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, w, j_.uid,
                                                             static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                             train_->num_pages(spec.data.page_tokens)));
  InnerLoop inner{&spec};
  inner.origin_window = ck->manifest.origin_window;
  if (group_) {
    std::vector<torch::Tensor> control{torch::tensor(
        {static_cast<std::int64_t>(w), static_cast<std::int64_t>(j_.uid), static_cast<std::int64_t>(inner.origin_window), 0L},
        torch::kLong)};
    TESSERA_RETURN_IF_ERROR(group_->broadcast(control));
    std::vector<torch::Tensor> params;
    for (const auto& t : start) params.push_back(t.contiguous().clone());
    TESSERA_RETURN_IF_ERROR(group_->broadcast(params));
    inner.group = group_.get();
  }
  auto trained = inner.run(model_, *optimizer_, start, *train_, pages, w, j_.uid);
  if (!trained.ok()) return trained.status().with_context("checkpoint " + ck->hash.substr(0, 16) + "…");
  const double compute_s = trained->seconds;

  // Never send stale work: the window must still accept submissions.
  TESSERA_ASSIGN_OR_RETURN(chain::HeadInfo head, j_.chain->head());
  const auto grace = static_cast<std::uint64_t>(spec.schedule.submission_grace_blocks);
  if (!schedule_.accepts(w, head.height, grace)) {
    record_.counters["stale-dropped"] += 1;
    spdlog::warn("window {}: closed while training (chain at block {}, window {}); delta dropped, not sent", w,
                 head.height, schedule_.window_of(head.height));
    return Status::Ok();
  }

  const auto t_enc = std::chrono::steady_clock::now();
  std::vector<gradients::IndexedTensor> delta;
  for (std::uint32_t i : trained_) delta.push_back({i, trained->delta[i]});
  TESSERA_ASSIGN_OR_RETURN(gradients::EncodedDelta encoded, ef_->step(delta, codec_));
  const double encode_s = since(t_enc);

  proto::SubmissionHeader header;
  header.set_netuid(o_.join.netuid);
  header.set_window(w);
  header.set_uid(j_.uid);
  header.set_hotkey(raw_bytes(j_.wallet.hotkey.public_key()));
  header.set_base_checkpoint(info.hash);
  TESSERA_ASSIGN_OR_RETURN(std::string digest, from_hex(dataset::pages_digest(pages)));
  header.set_data_digest(digest);
  header.set_codec(codec_.name());
  const auto now_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  header.set_timestamp_ms(now_ms);

  const auto t_send = std::chrono::steady_clock::now();
  std::size_t accepted = 0, sent_to = 0;
  std::uint64_t bytes_sent = 0;
  std::vector<std::string> problems;
  for (const auto& v : validators()) {
    ++sent_to;
    const std::string key = v.address + "/" + to_hex(v.curve_key);
    auto& client = clients_[key];
    if (!client) {
      auto c = net::SubmissionClient::connect(v.address, v.curve_key);
      if (!c.ok()) {
        problems.push_back("uid " + std::to_string(v.uid) + ": " + c.status().message());
        continue;
      }
      client = std::move(*c);
    }
    record_.nonce = std::max(record_.nonce + 1, now_ms * 1000);
    header.set_nonce(record_.nonce);
    auto reply = client->submit(header, encoded.bytes, j_.wallet.hotkey, std::chrono::seconds(10));
    bytes_sent += encoded.bytes.size();
    if (!reply.ok()) {
      clients_.erase(key);  // reconnect next time
      problems.push_back("uid " + std::to_string(v.uid) + ": " + reply.status().message());
    } else if (!reply->accepted()) {
      problems.push_back("uid " + std::to_string(v.uid) + " rejected: " + reply->reason());
    } else if (v.hotkey.size() == 32) {
      PublicKey vk;
      std::copy(v.hotkey.begin(), v.hotkey.end(), vk.begin());
      if (net::verify_receipt(*reply, vk)) {
        ++accepted;
      } else {
        problems.push_back("uid " + std::to_string(v.uid) + ": receipt signature does not verify");
      }
    }
  }
  const double send_s = since(t_send);
  record_.counters["submitted"] += 1;
  record_.counters["accepted-by-validators"] += accepted;
  record_.has_window = true;
  record_.last_window = w;
  save_state();
  ++submitted_;

  std::int64_t dense_bytes = 0;
  for (std::uint32_t i : trained_) dense_bytes += trained->delta[i].numel() * 4;
  spdlog::info("window {}: loss {:.4f} → {:.4f} | {} B to {}/{} validators ({:.0f}× smaller than dense) | compute {:.2f}s "
               "encode {:.3f}s send {:.3f}s wait {:.2f}s pull {:.2f}s",
               w, trained->first_loss, trained->last_loss, encoded.bytes.size(), accepted, sent_to,
               static_cast<double>(dense_bytes) / static_cast<double>(std::max<std::size_t>(1, encoded.bytes.size())),
               compute_s, encode_s, send_s, waited, pull_s);
  for (const auto& p : problems) spdlog::warn("window {}: {}", w, p);
  if (o_.on_window) {
    nlohmann::json j = {{"window", w},
                        {"uid", j_.uid},
                        {"loss_before", trained->first_loss},
                        {"loss_after", trained->last_loss},
                        {"bytes", encoded.bytes.size()},
                        {"bytes_sent", bytes_sent},
                        {"dense_bytes", dense_bytes},
                        {"validators", sent_to},
                        {"accepted", accepted},
                        {"compute_s", compute_s},
                        {"encode_s", encode_s},
                        {"send_s", send_s},
                        {"wait_s", waited},
                        {"pull_s", pull_s},
                        {"checkpoint_pulls", follower_->stats().pulls},
                        {"checkpoint_updates", follower_->stats().updates},
                        {"problems", problems}};
    o_.on_window(j.dump());
  }
  return Status::Ok();
}

Status Miner::run() {
  TESSERA_RETURN_IF_ERROR(setup());
  Status started = start_workers();
  if (!started.ok()) {
    workers_.clear();
    return started;
  }
  const auto tick = std::chrono::milliseconds(std::max(20, j_.spec.schedule.block_time_ms / 4));
  auto wait_start = std::chrono::steady_clock::now();
  while (!interrupted() && (o_.windows == 0 || submitted_ < o_.windows)) {
    auto head = j_.chain->head();
    auto ann = follower_->announced();
    if (!head.ok() || !ann.ok()) {
      spdlog::warn("chain: {} (retrying)", (!head.ok() ? head.status() : ann.status()).message());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (ann->has_value()) {
      const chain::CheckpointInfo& info = **ann;
      const bool done = (record_.has_window && record_.last_window >= info.window) ||
                        (skipped_window_ && *skipped_window_ == info.window);
      if (!done) {
        if (schedule_.window_of(head->height) > info.window) {
          // Behind: the checkpoint's window is already over; wait for the next one
          // instead of training on a stale base.
          skipped_window_ = info.window;
          record_.counters["windows-skipped"] += 1;
          spdlog::info("window {} is over (chain in window {}); catching up with the next checkpoint", info.window,
                       schedule_.window_of(head->height));
        } else {
          Status s = do_window(info, since(wait_start));
          if (!s.ok()) {
            record_.counters["window-errors"] += 1;
            spdlog::error("window {}: {}", info.window, s.message());
            skipped_window_ = info.window;
          }
          wait_start = std::chrono::steady_clock::now();
          continue;
        }
      }
    }
    std::this_thread::sleep_for(tick);
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
  TESSERA_RETURN_IF_ERROR(select_trained(gpt, spec, o.shards).status());
  auto optimizer = make_adamw(gpt, spec.train);
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
    InnerLoop inner{&spec};
    inner.origin_window = static_cast<std::uint64_t>(c[2].item<std::int64_t>());
    inner.group = group.get();
    TESSERA_RETURN_IF_ERROR(inner.run(gpt, *optimizer, start, train, pages, window, uid).status());
  }
}

}  // namespace tessera::trainer
