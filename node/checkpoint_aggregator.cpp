#include "node/checkpoint_aggregator.h"

#include <spdlog/spdlog.h>

#include "aggregator/window.h"
#include "checkpoints/update.h"
#include "core/hash.h"

namespace tessera::node {

Result<checkpoints::CheckpointStore*> CheckpointAggregator::start(const subnet::Joined& joined,
                                                                  const std::filesystem::path& dir) {
  joined_ = &joined;
  const std::uint32_t netuid = joined.netuid;
  TESSERA_ASSIGN_OR_RETURN(auto subnet, joined.chain->subnet(netuid));
  if (subnet.params.aggregator_hotkey() != raw_bytes(joined.wallet.hotkey.public_key())) {
    return FailedPrecondition("subnet " + std::to_string(netuid) + " does not name this hotkey (" +
                              joined.wallet.hotkey.public_hex().substr(0, 16) +
                              "…) as its aggregator; the owner sets it with `tessera subnet set-aggregator`");
  }
  TESSERA_ASSIGN_OR_RETURN(auto store, checkpoints::CheckpointStore::open(
                                          dir / "checkpoints", checkpoints::Retention{options_.keep_checkpoints, 0}));
  store_.emplace(std::move(store));
  TESSERA_ASSIGN_OR_RETURN(server_, checkpoints::CheckpointServer::start(&*store_, options_.checkpoint_listen,
                                                                         options_.checkpoint_data_port));
  return &*store_;
}

Status CheckpointAggregator::announce(std::uint64_t window, const std::string& hash) {
  TESSERA_ASSIGN_OR_RETURN(std::string raw, from_hex(hash));
  auto announced = joined_->chain->announce_checkpoint(joined_->wallet.hotkey, joined_->netuid, window, raw, server_->address());
  if (!announced.ok()) return announced.status().with_context("announcing checkpoint " + hash.substr(0, 16) + "…");
  return Status::Ok();
}

// The run's first checkpoint: the deterministic initialisation from the run seed.
Status CheckpointAggregator::publish_initial(std::uint64_t window) {
  TESSERA_ASSIGN_OR_RETURN(auto init, aggregator::initial_checkpoint(joined_->spec, window));
  TESSERA_ASSIGN_OR_RETURN(std::string hash, store_->put(init.tensors, init.manifest, joined_->wallet.hotkey));
  TESSERA_RETURN_IF_ERROR(announce(window, hash));
  spdlog::info("initial checkpoint {}… announced for window {}", hash.substr(0, 12), window);
  return Status::Ok();
}

Result<verification::WindowAggregator::Published> CheckpointAggregator::publish_next(
    const checkpoints::Checkpoint& base, std::uint64_t target, const verification::WindowReport& report,
    const std::vector<net::Submission>& submissions) {
  std::vector<checkpoints::AcceptedEntry> accepted;
  std::vector<const gradients::DecodedDelta*> deltas;
  for (std::size_t i = 0; i < report.evaluations.size(); ++i) {
    const auto& e = report.evaluations[i];
    if (!verification::merged_into_update(e)) continue;
    TESSERA_RETURN_IF_ERROR(store_->put_blob(to_hex(e.payload_hash), submissions[i].payload));
    accepted.push_back({e.uid, to_hex(e.hotkey), to_hex(e.payload_hash), e.score});
    deltas.push_back(e.delta.get());
  }
  TESSERA_ASSIGN_OR_RETURN(auto next, aggregator::next_checkpoint(joined_->spec, base, target, accepted, deltas));
  Published published;
  published.merged = deltas.size();
  TESSERA_ASSIGN_OR_RETURN(published.hash, store_->put(next.tensors, next.manifest, joined_->wallet.hotkey));
  // The merged update U_w as applied, for nodes catching up from C_w.
  if (auto update = checkpoints::make_update(base, next.tensors, published.hash); update.ok()) {
    TESSERA_RETURN_IF_ERROR(store_->put_update(published.hash, *update));
  }
  TESSERA_RETURN_IF_ERROR(announce(target, published.hash));
  published.update = std::move(next.merged);
  return published;
}

void CheckpointAggregator::stop() {
  if (server_) server_->stop();
}

}  // namespace tessera::node
