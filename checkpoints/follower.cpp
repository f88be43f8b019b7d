#include "checkpoints/follower.h"

#include <algorithm>
#include <chrono>

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
  const fs::path dir = cache_dir_ / hash;
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
          return &*current_;
        }
      }
    }
  }
  if (info.address.empty() && pull_.mirrors.empty()) {
    return FailedPrecondition("checkpoint " + hash.substr(0, 16) + "… was announced without an address");
  }
  PullOptions options = pull_;
  options.address = info.address;
  options.expected_hash = hash;
  options.expected_signer = signer;
  options.out = dir;
  TESSERA_ASSIGN_OR_RETURN(PullResult pulled, pull_checkpoint(options));
  stats_.pulls += 1;
  stats_.bytes_pulled += pulled.bytes;
  follow_metric("pull", static_cast<double>(pulled.bytes));
  stats_.pull_seconds += pulled.seconds;
  current_ = std::move(pulled.checkpoint);
  // Keep the newest two cached checkpoints.
  std::vector<std::pair<fs::file_time_type, fs::path>> cached;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache_dir_, ec)) {
    if (e.is_directory() && is_checkpoint_hash(e.path().filename().string())) cached.emplace_back(e.last_write_time(ec), e.path());
  }
  std::sort(cached.begin(), cached.end(), std::greater<>());
  for (std::size_t i = 2; i < cached.size(); ++i) fs::remove_all(cached[i].second, ec);
  return &*current_;
}

}  // namespace tessera::checkpoints
