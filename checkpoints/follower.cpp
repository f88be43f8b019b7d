#include "checkpoints/follower.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "checkpoints/safetensors.h"
#include "checkpoints/service.h"
#include "checkpoints/update.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/metrics.h"

namespace tessera::checkpoints {

namespace {
// How a follower moved to each new checkpoint (how = pull | update) and the bytes it took.
void follow_metric(const char* how, double bytes) {
  auto& r = metrics::registry();
  r.counter("tessera_checkpoint_follows_total", "New checkpoints taken by a full pull or by a merged update.",
            {{"how", how}})
      .inc();
  r.counter("tessera_checkpoint_follow_bytes_total", "Bytes received to take new checkpoints.", {{"how", how}}).inc(bytes);
}
}  // namespace

namespace fs = std::filesystem;

Result<std::optional<chain::CheckpointInfo>> CheckpointFollower::announced() {
  return chain_->checkpoint(netuid_, std::nullopt);
}

Result<std::optional<chain::CheckpointInfo>> CheckpointFollower::announced(std::uint64_t window) {
  return chain_->checkpoint(netuid_, window);
}

Result<const Checkpoint*> CheckpointFollower::load(const chain::CheckpointInfo& info) {
  const std::string hash = to_hex(info.hash);
  // Whoever serves it, the checkpoint must be signed by the hotkey that announced it.
  const std::string signer = to_hex(info.announcer);  // empty when the chain named no announcer
  const auto by_announcer = [&](const Checkpoint& c) { return signer.empty() || c.manifest.signer == signer; };
  if (current_ && current_->hash == hash && by_announcer(*current_)) return &*current_;
  if (local_) {
    auto got = local_->get(hash);
    if (got.ok() && by_announcer(*got)) {
      current_ = std::move(*got);
      return &*current_;
    }
  }
  const fs::path dir = folder(hash);
  if (fs::exists(dir / "model.safetensors") && fs::exists(dir / "manifest.json")) {
    auto text = read_file(dir / "manifest.json");
    auto file = read_safetensors(dir / "model.safetensors");
    if (text.ok() && file.ok()) {
      auto manifest = Manifest::from_json(*text);
      if (manifest.ok() && verify_checkpoint(*manifest, hash, file->tensors, nullptr, signer).ok()) {
        current_ = Checkpoint{std::move(*manifest), std::move(file->tensors), hash};
        return &*current_;
      }
    }
    std::error_code ec;
    fs::remove_all(dir, ec);  // damaged cache entry: pull it again
  }
  if (current_ && !info.address.empty()) {
    // Catch up from the held checkpoint by the merged update when it is the parent.
    auto manifest = fetch_manifest(info.address, hash, signer);
    if (manifest.ok() && manifest->parent == current_->hash) {
      auto update = fetch_update(info.address, hash, max_update_bytes(current_->tensors));
      if (update.ok()) {
        auto tensors = apply_update(*current_, *update, hash);
        if (tensors.ok() && verify_checkpoint(*manifest, hash, *tensors, nullptr, signer).ok()) {
          stats_.updates += 1;
          stats_.update_bytes += update->size();
          follow_metric("update", static_cast<double>(update->size()));
          current_ = Checkpoint{std::move(*manifest), std::move(*tensors), hash};
          keep(*current_);
          return &*current_;
        }
      }
    }
  }
  PullOptions options = pull_;
  if (info.address.empty() && options.mirrors.empty()) {
    options.mirrors = neuron_sources(info.address);
    if (options.mirrors.empty()) {
      return FailedPrecondition("checkpoint " + hash.substr(0, 16) + "… was announced without an address, and no mirror or "
                                "other neuron serves checkpoints");
    }
  } else {
    // The metagraph is read for other sources only when the announced one and the mirrors failed.
    options.more_sources = [this, announced = info.address] { return neuron_sources(announced); };
  }
  options.address = info.address;
  options.expected_hash = hash;
  options.expected_signer = signer;
  options.out = dir;
  TESSERA_ASSIGN_OR_RETURN(PullResult pulled, pull_checkpoint(options));
  stats_.pulls += 1;
  stats_.bytes_pulled += pulled.bytes;
  follow_metric("pull", static_cast<double>(pulled.bytes));
  stats_.pull_seconds += pulled.seconds;
  if (pulled.source != info.address) spdlog::info("checkpoint {}… came from {}, not the announced {}", hash.substr(0, 16),
                                                   pulled.source, info.address.empty() ? "(none)" : info.address);
  current_ = std::move(pulled.checkpoint);
  keep(*current_);
  return &*current_;
}

std::vector<std::string> CheckpointFollower::neuron_sources(const std::string& announced) const {
  std::vector<std::string> out;
  if (chain_ == nullptr) return out;
  auto subnet = chain_->subnet(netuid_);
  if (!subnet.ok()) return out;  // the announced source and the mirrors remain
  std::vector<const chain::Neuron*> serving;
  for (const auto& n : subnet->neurons) {
    if (!n.checkpoint_address.empty() && n.checkpoint_address != announced && n.checkpoint_address != own_address_)
      serving.push_back(&n);
  }
  // Highest stake first (stake is what an attacker cannot get cheaply); uid breaks ties.
  std::sort(serving.begin(), serving.end(), [](const chain::Neuron* a, const chain::Neuron* b) {
    return a->stake != b->stake ? a->stake > b->stake : a->uid < b->uid;
  });
  for (const auto* n : serving) {
    if (out.size() == kNeuronSources) break;
    if (std::find(out.begin(), out.end(), n->checkpoint_address) == out.end()) out.push_back(n->checkpoint_address);
  }
  return out;
}

// Writes a checkpoint taken by an update into the cache (a pulled one is there already),
// then keeps the newest two.
void CheckpointFollower::keep(const Checkpoint& checkpoint) {
  const fs::path dir = folder(checkpoint.hash);
  std::error_code ec;
  if (!fs::exists(dir / "manifest.json", ec)) {
    // Written under tmp/ and renamed, so a reader of objects/ never sees half a checkpoint.
    const fs::path tmp = cache_dir_ / "tmp" / (checkpoint.hash + "." + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    Status written = write_checkpoint_folder(tmp, checkpoint);
    if (written.ok()) {
      fs::create_directories(dir.parent_path(), ec);
      fs::remove_all(dir, ec);
      fs::rename(tmp, dir, ec);
      if (ec) written = IoError("cannot move " + tmp.string() + " to " + dir.string() + ": " + ec.message());
    }
    if (!written.ok()) spdlog::warn("not keeping checkpoint {}… on disk: {}", checkpoint.hash.substr(0, 16), written.message());
  }
  std::vector<std::pair<fs::file_time_type, fs::path>> cached;
  for (const auto& e : fs::directory_iterator(cache_dir_ / "objects", ec)) {
    if (e.is_directory() && is_checkpoint_hash(e.path().filename().string())) cached.emplace_back(e.last_write_time(ec), e.path());
  }
  std::sort(cached.begin(), cached.end(), std::greater<>());
  for (std::size_t i = 2; i < cached.size(); ++i) fs::remove_all(cached[i].second, ec);
}

}  // namespace tessera::checkpoints
