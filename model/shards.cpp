#include "model/shards.h"

#include <algorithm>
#include <numeric>

#include "core/rng.h"
#include "model/config.h"

namespace tessera::model {

Result<std::vector<std::size_t>> balanced_contiguous_partition(const std::vector<std::int64_t>& sizes,
                                                               int parts) {
  if (parts < 1) return InvalidArgument("shard count must be >= 1, got " + std::to_string(parts));
  if (static_cast<std::size_t>(parts) > sizes.size()) {
    return InvalidArgument("cannot split " + std::to_string(sizes.size()) + " units into " +
                           std::to_string(parts) + " non-empty shards");
  }
  // Greedy fill under a capacity: fewest groups that fit. Binary search the smallest
  // capacity that needs <= parts groups.
  auto groups_needed = [&](std::int64_t cap) {
    int groups = 1;
    std::int64_t acc = 0;
    for (auto s : sizes) {
      if (acc + s > cap) {
        ++groups;
        acc = s;
      } else {
        acc += s;
      }
    }
    return groups;
  };
  std::int64_t lo = *std::max_element(sizes.begin(), sizes.end());
  std::int64_t hi = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  while (lo < hi) {
    std::int64_t mid = lo + (hi - lo) / 2;
    if (groups_needed(mid) <= parts) hi = mid;
    else lo = mid + 1;
  }
  // Cut greedily under capacity `lo`, but never leave fewer units than groups still owed,
  // so every group is non-empty.
  std::vector<std::size_t> starts{0};
  std::int64_t acc = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::size_t units_left = sizes.size() - i;
    const std::size_t groups_left = static_cast<std::size_t>(parts) - starts.size();
    const bool must_cut = groups_left > 0 && units_left == groups_left && i != starts.back();
    if (i != starts.back() && (acc + sizes[i] > lo || must_cut) && groups_left > 0) {
      starts.push_back(i);
      acc = 0;
    }
    acc += sizes[i];
  }
  return starts;
}

namespace {
// Unit index of a parameter: 0 = embeddings, 1 + i = block i, L + 1 = final norm.
int unit_of(const std::string& name, int n_layer) {
  if (name.rfind("h.", 0) == 0) {
    const std::string digits = name.substr(2, name.find('.', 2) - 2);
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return 1 + std::stoi(digits);
  }
  if (name.rfind("ln_f", 0) == 0) return n_layer + 1;
  return 0;
}
}  // namespace

Result<std::vector<int>> shard_of_parameters(const std::vector<std::string>& names,
                                             const std::vector<std::int64_t>& numels, int n_layer, int shards) {
  std::vector<std::int64_t> unit_sizes(static_cast<std::size_t>(n_layer + 2), 0);
  std::vector<int> unit(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    unit[i] = unit_of(names[i], n_layer);
    if (unit[i] < 0 || unit[i] > n_layer + 1) return InvalidArgument("parameter " + names[i] + " belongs to no layer of the model");
    unit_sizes[static_cast<std::size_t>(unit[i])] += numels[i];
  }
  auto starts = balanced_contiguous_partition(unit_sizes, shards);
  if (!starts.ok()) return starts.status().with_context("model.shards");
  std::vector<int> shard_of_unit(unit_sizes.size());
  for (std::size_t s = 0; s < starts->size(); ++s) {
    const std::size_t end = s + 1 < starts->size() ? (*starts)[s + 1] : unit_sizes.size();
    for (std::size_t u = (*starts)[s]; u < end; ++u) shard_of_unit[u] = static_cast<int>(s);
  }
  std::vector<int> out(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) out[i] = shard_of_unit[static_cast<std::size_t>(unit[i])];
  return out;
}

Result<std::vector<Shard>> partition_shards(const GPT& model, int shards) {
  const auto params = model->named_params();
  std::vector<std::string> names;
  std::vector<std::int64_t> numels;
  for (const auto& [name, p] : params) {
    names.push_back(name);
    numels.push_back(p.numel());
  }
  TESSERA_ASSIGN_OR_RETURN(auto shard_of, shard_of_parameters(names, numels, model->config().n_layer, shards));
  std::vector<Shard> out(static_cast<std::size_t>(shards));
  for (int s = 0; s < shards; ++s) out[static_cast<std::size_t>(s)].index = s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    Shard& shard = out[static_cast<std::size_t>(shard_of[i])];
    shard.parameter_names.push_back(names[i]);
    shard.numel += numels[i];
  }
  return out;
}

Result<std::pair<std::vector<int>, int>> parameter_groups(const ModelSpec& spec, const std::vector<std::string>& names,
                                                          const std::vector<std::vector<std::int64_t>>& shapes) {
  if (!spec.sharded()) return std::make_pair(std::vector<int>(names.size(), 0), 1);
  TESSERA_ASSIGN_OR_RETURN(ModelConfig config, resolve_config(spec));
  std::vector<std::int64_t> numels;
  for (const auto& shape : shapes) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    numels.push_back(n);
  }
  TESSERA_ASSIGN_OR_RETURN(auto shard_of, shard_of_parameters(names, numels, config.n_layer, spec.shards));
  return std::make_pair(std::move(shard_of), parameter_group_count(spec));
}

std::uint64_t shard_epoch(const ModelSpec& spec, std::uint64_t window) {
  return window / static_cast<std::uint64_t>(std::max(1, spec.shard_epoch_windows));
}

std::vector<int> assign_shards(std::uint64_t run_seed, const ModelSpec& spec, std::uint64_t window, std::uint32_t uid) {
  const int count = std::max(1, spec.shards);
  std::vector<int> out;
  if (!spec.sharded()) {
    for (int s = 0; s < count; ++s) out.push_back(s);
    return out;
  }
  const auto S = static_cast<std::uint64_t>(count), k = static_cast<std::uint64_t>(spec.shards_per_miner);
  const std::uint64_t offset = Rng::derive("tessera/shards", run_seed, shard_epoch(spec, window)).next_u64() % S;
  const std::uint64_t first = (static_cast<std::uint64_t>(uid) % S * k + offset) % S;
  for (std::uint64_t j = 0; j < k; ++j) out.push_back(static_cast<int>((first + j) % S));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tessera::model
