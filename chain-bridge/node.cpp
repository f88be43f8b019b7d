#include "chain-bridge/node.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "core/fault.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "chain-bridge/replay.h"
#include "core/interrupt.h"
#include "core/metrics.h"
#include "net/grpc.h"
#include "proto/chain.grpc.pb.h"

namespace tessera::chain {

namespace {

metrics::Gauge height_metric() {
  return metrics::registry().gauge("tessera_chain_height", "Height of the chain's head block.");
}

// Extrinsics by what became of them (included | refused | block-full), for --metrics-listen.
metrics::Counter extrinsics_metric(const char* result) {
  return metrics::registry().counter("tessera_chain_extrinsics_total", "Extrinsics submitted to this node, by result.",
                                     {{"result", result}});
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}


proto::HeadReply head_reply(const Ledger& l, const Head& h) {
  proto::HeadReply r;
  r.set_height(h.height);
  r.set_hash(h.hash);
  r.set_timestamp_ms(h.timestamp_ms);
  r.set_chain_id(l.state().chain_id);
  r.set_total_issuance(l.state().total_issuance);
  return r;
}

void fill_params(const SubnetHyper& h, proto::SubnetParams* p) {
  p->set_tempo(h.tempo);
  p->set_kappa_u16(h.kappa_u16);
  p->set_bonds_moving_average(h.bonds_moving_average);
  p->set_max_uids(h.max_uids);
  p->set_immunity_period(h.immunity_period);
  p->set_weights_rate_limit(h.weights_rate_limit);
  p->set_commit_reveal(h.commit_reveal);
  p->set_reveal_delay(h.reveal_delay);
  p->set_reveal_window(h.reveal_window);
  p->set_registration_burn(h.registration_burn);
  p->set_max_validators(h.max_validators);
  p->set_yuma3(h.yuma3);
  p->set_emission_per_block(h.emission_per_block);
  p->set_owner_cut_ppm(h.owner_cut_ppm);
  p->set_aggregator_hotkey(h.aggregator_hotkey);
  p->set_bonds_penalty_u16(h.bonds_penalty_u16);
  p->set_liquid_alpha(h.liquid_alpha);
  p->set_miner_share_ppm(h.miner_share_ppm);
  p->set_version_key(h.version_key);
  p->set_min_allowed_weights(h.min_allowed_weights);
  p->set_max_weight_limit_u16(h.max_weight_limit_u16);
  p->set_alpha_low_u16(h.alpha_low_u16);
  p->set_alpha_high_u16(h.alpha_high_u16);
  p->set_alpha_steepness(h.alpha_steepness);
}

class Service final : public proto::ChainService::Service {
 public:
  explicit Service(ChainNode* node) : node_(node) {}

  grpc::Status Submit(grpc::ServerContext* ctx, const proto::Extrinsic* req, proto::SubmitReply* reply) override {
    auto future = node_->submit(*req);
    while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    *reply = future.get();
    return grpc::Status::OK;
  }

  grpc::Status GetAccount(grpc::ServerContext*, const proto::AccountRequest* req, proto::AccountReply* reply) override {
    node_->read([&](const Ledger& l, const Head& h) {
      if (const Account* a = l.account(req->account())) {
        reply->set_balance(a->balance);
        reply->set_nonce(a->nonce);
      }
      reply->set_block(h.height);
      return 0;
    });
    return grpc::Status::OK;
  }

  grpc::Status GetHead(grpc::ServerContext*, const proto::Empty*, proto::HeadReply* reply) override {
    *reply = node_->read([](const Ledger& l, const Head& h) { return head_reply(l, h); });
    return grpc::Status::OK;
  }

  grpc::Status GetSubnet(grpc::ServerContext*, const proto::SubnetRequest* req, proto::SubnetReply* reply) override {
    const bool found = node_->read([&](const Ledger& l, const Head& h) {
      const SubnetState* s = l.subnet(req->netuid());
      if (s == nullptr) return false;
      reply->set_netuid(s->netuid);
      reply->set_owner(s->owner);
      fill_params(s->hyper, reply->mutable_params());
      reply->set_spec_toml(s->spec_toml);
      reply->set_spec_hash(s->spec_hash);
      reply->set_locked(s->locked);
      reply->set_pending_emission(s->pending_emission);
      reply->set_block(h.height);
      reply->set_last_epoch_block(s->last_epoch_block);
      for (std::size_t i = 0; i < s->neurons.size(); ++i) {
        const auto& n = s->neurons[i];
        auto* out = reply->add_neurons();
        out->set_uid(static_cast<std::uint32_t>(i));
        out->set_hotkey(n.hotkey);
        out->set_coldkey(n.coldkey);
        out->set_stake(n.stake);
        out->set_address(n.address);
        out->set_curve_public_key(n.curve_key);
        out->set_checkpoint_address(n.checkpoint_address);
        out->set_consensus_u16(n.consensus);
        out->set_incentive_u16(n.incentive);
        out->set_dividends_u16(n.dividends);
        out->set_validator_trust_u16(n.trust);
        out->set_last_emission(n.last_emission);
        out->set_total_earned(n.total_earned);
        out->set_last_update(n.last_update);
        out->set_registration_block(n.registration_block);
        out->set_validator_permit(n.validator_permit);
      }
      return true;
    });
    if (!found) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown subnet " + std::to_string(req->netuid()));
    return grpc::Status::OK;
  }

  grpc::Status GetCheckpoint(grpc::ServerContext*, const proto::CheckpointRequest* req,
                             proto::CheckpointReply* reply) override {
    const bool subnet = node_->read([&](const Ledger& l, const Head&) {
      const SubnetState* s = l.subnet(req->netuid());
      if (s == nullptr) return false;
      const CheckpointAnnouncement* a = nullptr;
      if (req->latest()) {
        if (!s->checkpoints.empty()) a = &s->checkpoints.rbegin()->second;
      } else if (auto it = s->checkpoints.find(req->window()); it != s->checkpoints.end()) {
        a = &it->second;
      }
      if (a != nullptr) {
        reply->set_found(true);
        reply->set_window(a->window);
        reply->set_hash(a->hash);
        reply->set_address(a->address);
        reply->set_announcer(a->announcer);
        reply->set_block(a->block);
      }
      return true;
    });
    if (!subnet) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown subnet " + std::to_string(req->netuid()));
    return grpc::Status::OK;
  }

  grpc::Status GetCommit(grpc::ServerContext*, const proto::CommitRequest* req, proto::CommitReply* reply) override {
    node_->read([&](const Ledger& l, const Head&) {
      if (const SubnetState* s = l.subnet(req->netuid())) {
        if (auto it = s->commits.find(req->hotkey()); it != s->commits.end()) {
          reply->set_found(true);
          reply->set_commit_hash(it->second.hash);
          reply->set_block(it->second.block);
        }
      }
      return 0;
    });
    return grpc::Status::OK;
  }

  grpc::Status WatchBlocks(grpc::ServerContext* ctx, const proto::WatchRequest* req,
                           grpc::ServerWriter<proto::HeadReply>* writer) override {
    // Every height after from_height, in order. Heights older than the node keeps (or
    // produced before it started) are not sent; the next reply counts them in `skipped`.
    std::uint64_t seen = req->from_height();
    const std::string chain_id = node_->chain_id();
    while (!ctx->IsCancelled() && !node_->stopping()) {
      if (node_->wait_for_block_after(seen, std::chrono::milliseconds(500)).height <= seen) continue;
      for (const HeadEvent& e : node_->heads_after(seen)) {
        proto::HeadReply r;
        r.set_height(e.head.height);
        r.set_hash(e.head.hash);
        r.set_timestamp_ms(e.head.timestamp_ms);
        r.set_chain_id(chain_id);
        r.set_total_issuance(e.total_issuance);
        r.set_skipped(e.head.height - seen - 1);
        seen = e.head.height;
        if (!writer->Write(r)) return grpc::Status::OK;
      }
    }
    return grpc::Status::OK;
  }

 private:
  ChainNode* node_;
};

}  // namespace

ChainNode::~ChainNode() { stop(); }

Result<std::unique_ptr<ChainNode>> ChainNode::open(const NodeOptions& options) {
  std::unique_ptr<ChainNode> node(new ChainNode());
  node->options_ = options;
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return IoError("cannot create " + options.data_dir.string() + ": " + ec.message());
  if (options.block_time_ms < 10) return InvalidArgument("--block-time-ms must be at least 10");
  if (options.snapshot_every == 0) return InvalidArgument("--snapshot-every must be at least 1");

  const auto genesis_path = options.data_dir / "genesis.json";
  Genesis genesis = options.genesis;
  if (std::filesystem::exists(genesis_path)) {
    TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(genesis_path));
    TESSERA_ASSIGN_OR_RETURN(genesis, Genesis::from_json(text));
    if (genesis.id() != options.genesis.id() && !options.genesis.balances.empty()) {
      spdlog::warn("{} already holds a chain; its genesis is kept and the new funding flags are ignored",
                   options.data_dir.string());
    }
  } else {
    TESSERA_RETURN_IF_ERROR(write_file_atomic(genesis_path, genesis.to_json(), 0600));
  }
  node->ledger_ = Ledger::from_genesis(genesis);
  TESSERA_ASSIGN_OR_RETURN(std::string genesis_hash, from_hex(genesis.id()));
  node->head_ = {0, genesis_hash, 0};

  std::vector<proto::Block> blocks;
  std::uint64_t cut = 0;
  TESSERA_ASSIGN_OR_RETURN(node->log_, BlockLog::open(options.data_dir / "blocks.log", &blocks, &cut));
  if (cut > 0) spdlog::warn("block log: cut a torn last record of {} bytes (never acknowledged)", cut);

  // Snapshot, if it matches the log.
  std::uint64_t start = 0;
  auto snap = read_snapshot(options.data_dir / "snapshot.bin");
  if (snap.ok()) {
    if (snap->height <= blocks.size() && snap->height > 0 &&
        raw_bytes(block_hash(blocks[snap->height - 1])) == snap->head_hash) {
      TESSERA_ASSIGN_OR_RETURN(node->ledger_, Ledger::deserialize(snap->ledger));
      const auto& b = blocks[snap->height - 1];
      node->head_ = {snap->height, snap->head_hash, b.timestamp_ms()};
      start = snap->height;
    } else {
      spdlog::warn("snapshot at height {} does not match the block log; replaying from genesis", snap->height);
    }
  } else if (snap.status().code() != StatusCode::kNotFound) {
    spdlog::warn("{}; replaying from genesis", snap.status().message());
  }
  ReplayReport report;
  replay_blocks(blocks, start, &node->ledger_, &node->head_.hash, &report, [&](const proto::Block& b) {
    node->head_.height = b.height();
    node->head_.timestamp_ms = b.timestamp_ms();
  });
  if (report.diverged_at) {
    return Corrupted("block log: block " + std::to_string(*report.diverged_at) + " does not replay: " + report.divergence +
                     ". `tessera chain check --data-dir " + options.data_dir.string() +
                     "` names it with its extrinsics; `tessera chain recover` keeps the blocks before it");
  }
  node->replayed_ = report.verified;
  node->committed_ = node->ledger_;
  spdlog::info("chain {} at height {} (snapshot {}, replayed {} blocks)", genesis.id().substr(0, 16), node->head_.height,
               start, node->replayed_);
  return node;
}

std::string ChainNode::chain_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ledger_.state().chain_id;
}

bool ChainNode::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

std::string ChainNode::address() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bound_;
}

Head ChainNode::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return head_;
}

std::vector<HeadEvent> ChainNode::heads_after(std::uint64_t height) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<HeadEvent> out;
  for (const auto& e : recent_) {
    if (e.head.height > height) out.push_back(e);
  }
  return out;
}

Head ChainNode::wait_for_block_after(std::uint64_t height, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  block_cv_.wait_for(lock, timeout, [&] { return head_.height > height || stopping_; });
  return head_;
}

std::future<proto::SubmitReply> ChainNode::submit(const proto::Extrinsic& ex) {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = std::make_unique<Pending>();
  auto future = p->reply.get_future();
  if (stopping_) {
    proto::SubmitReply r;
    r.set_reason("node is shutting down");
    p->reply.set_value(r);
    return future;
  }
  const std::size_t size = ex.ByteSizeLong();
  if (pending_bytes_ + size > kMaxBlockExtrinsicBytes) {
    proto::SubmitReply r;
    extrinsics_metric("block-full").inc();
    r.set_reason("block " + std::to_string(head_.height + 1) + " is full; resubmit in the next block");
    p->reply.set_value(r);
    return future;
  }
  auto result = ledger_.apply(ex, head_.height + 1);
  if (!result.ok()) {
    extrinsics_metric("refused").inc();
    proto::SubmitReply r;
    r.set_reason(result.status().message());
    p->reply.set_value(r);
    return future;
  }
  p->ex = ex;
  p->result = *result;
  pending_bytes_ += size;
  pending_.push_back(std::move(p));
  return future;
}

Status ChainNode::produce_block() {
  std::unique_lock<std::mutex> lock(mu_);
  proto::Block b;
  b.set_height(head_.height + 1);
  b.set_parent_hash(head_.hash);
  b.set_timestamp_ms(std::max(now_ms(), head_.timestamp_ms));
  b.set_state_format(Ledger::kStateFormat);
  for (const auto& p : pending_) *b.add_extrinsics() = p->ex;
  ledger_.end_block(b.height());
  int epochs = 0;  // subnets whose epoch ran in this block
  for (const auto& [netuid, s] : ledger_.state().subnets) {
    if (s.last_epoch_block == b.height()) {
      fault_point("epoch");
      ++epochs;
    }
  }
  b.set_state_hash(raw_bytes(ledger_.state_hash()));
  // Never write a block that a replay cannot reproduce: recompute it from the parent state.
  if (Status same = self_check(b); !same.ok()) {
    spdlog::error("block {} refused: {}", b.height(), same.message());
    ledger_ = committed_;
    for (auto& p : pending_) {
      proto::SubmitReply r;
      r.set_reason("the node refused its block " + std::to_string(b.height()) + " (" + same.message() + "); resubmit");
      p->reply.set_value(r);
    }
    pending_.clear();
    pending_bytes_ = 0;
    return Status::Ok();
  }
  TESSERA_RETURN_IF_ERROR(log_.append(b));
  committed_ = ledger_;
  head_ = {b.height(), raw_bytes(block_hash(b)), b.timestamp_ms()};
  recent_.push_back({head_, ledger_.state().total_issuance});
  while (recent_.size() > std::max<std::size_t>(options_.recent_heads, 1)) recent_.pop_front();
  if (b.height() % options_.snapshot_every == 0) {
    Status st = write_snapshot(options_.data_dir / "snapshot.bin", {head_.height, head_.hash, ledger_.serialize()});
    if (!st.ok()) spdlog::warn("snapshot at height {} failed: {}", head_.height, st.message());
  }
  for (auto& p : pending_) {
    proto::SubmitReply r;
    r.set_accepted(true);
    r.set_block(head_.height);
    r.set_block_hash(head_.hash);
    r.set_result(p->result);
    p->reply.set_value(r);
  }
  auto& m = metrics::registry();
  height_metric().set(static_cast<double>(head_.height));
  m.counter("tessera_chain_blocks_total", "Blocks produced by this node.").inc();
  extrinsics_metric("included").inc(static_cast<double>(pending_.size()));
  m.counter("tessera_chain_epochs_total", "Subnet epochs run (Yuma Consensus and emission).").inc(epochs);
  if (!pending_.empty()) spdlog::debug("block {}: {} extrinsics", head_.height, pending_.size());
  pending_.clear();
  pending_bytes_ = 0;
  lock.unlock();
  block_cv_.notify_all();
  return Status::Ok();
}

// The block's state recomputed from the last durable state and the block's extrinsics, as
// a replay will; an error names the first extrinsic that does not apply, or the state.
Status ChainNode::self_check(const proto::Block& b) const {
  Ledger replay = committed_;
  for (int i = 0; i < b.extrinsics_size(); ++i) {
    auto applied = replay.apply(b.extrinsics(i), b.height());
    if (!applied.ok()) {
      return Internal("extrinsic " + std::to_string(i) + " (" + describe_extrinsic(b.extrinsics(i)) +
                      ") does not apply on replay: " + applied.status().message());
    }
  }
  replay.end_block(b.height());
  if (raw_bytes(replay.state_hash()) != b.state_hash()) {
    return Internal("the recomputed state differs from the live state after " + std::to_string(b.extrinsics_size()) +
                    " extrinsic(s)");
  }
  return Status::Ok();
}

Status ChainNode::run() {
  // The server lives and dies on this thread: `service` is local, so the server must be
  // stopped here, whichever thread asked for the stop.
  Service service(this);
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<net::GrpcServer> server,
                           net::GrpcServer::start({options_.listen, 4 << 20}, {&service}));
  // The address clients dial: the port the OS picked when the listen address asked for 0.
  const std::string bound = options_.listen.substr(0, options_.listen.rfind(':') + 1) + std::to_string(server->port());
  {
    std::lock_guard<std::mutex> lock(mu_);
    bound_ = bound;
  }
  spdlog::info("chain node listening on {} ({} ms blocks), data in {}", bound, options_.block_time_ms,
               options_.data_dir.string());
  height_metric().set(static_cast<double>(head().height));
  std::printf("chain node ready on %s at height %llu, chain id %s\n", bound.c_str(),
              static_cast<unsigned long long>(head().height), chain_id().c_str());
  std::fflush(stdout);
  auto next = std::chrono::steady_clock::now();
  Status result = Status::Ok();
  while (true) {
    next += std::chrono::milliseconds(options_.block_time_ms);
    {
      std::unique_lock<std::mutex> lock(mu_);
      block_cv_.wait_until(lock, next, [&] { return stopping_; });
      if (stopping_) break;
    }
    if (interrupted()) break;
    Status st = produce_block();
    if (!st.ok()) {
      // The block is not durable: stop without acknowledging anything of it.
      spdlog::error("cannot write block: {}", st.message());
      result = st;
      break;
    }
    if (std::chrono::steady_clock::now() > next + std::chrono::milliseconds(options_.block_time_ms)) {
      next = std::chrono::steady_clock::now();  // fell behind (slow disk): do not burst
    }
  }
  stop();
  server->stop();
  return result;
}

void ChainNode::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& p : pending_) {
      proto::SubmitReply r;
      r.set_reason("node stopped before the extrinsic was included");
      p->reply.set_value(r);
    }
    pending_.clear();
  }
  block_cv_.notify_all();
}

}  // namespace tessera::chain
