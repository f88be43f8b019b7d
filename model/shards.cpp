#include "model/shards.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <sstream>

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
  if (name.rfind("h.", 0) == 0) return 1 + std::stoi(name.substr(2, name.find('.', 2) - 2));
  if (name.rfind("ln_f", 0) == 0) return n_layer + 1;
  return 0;
}
}  // namespace

Result<std::vector<Shard>> partition_shards(const GPT& model, int shards) {
  const int n_layer = model->config().n_layer;
  const auto params = model->named_params();
  std::vector<std::int64_t> unit_sizes(static_cast<std::size_t>(n_layer + 2), 0);
  for (const auto& [name, p] : params) unit_sizes[static_cast<std::size_t>(unit_of(name, n_layer))] += p.numel();
  auto starts = balanced_contiguous_partition(unit_sizes, shards);
  if (!starts.ok()) return starts.status().with_context("model.shards");
  std::vector<int> shard_of_unit(unit_sizes.size());
  for (std::size_t s = 0; s < starts->size(); ++s) {
    const std::size_t end = s + 1 < starts->size() ? (*starts)[s + 1] : unit_sizes.size();
    for (std::size_t u = (*starts)[s]; u < end; ++u) shard_of_unit[u] = static_cast<int>(s);
  }
  std::vector<Shard> out(static_cast<std::size_t>(shards));
  for (int s = 0; s < shards; ++s) out[static_cast<std::size_t>(s)].index = s;
  for (const auto& [name, p] : params) {
    Shard& shard = out[static_cast<std::size_t>(shard_of_unit[static_cast<std::size_t>(unit_of(name, n_layer))])];
    shard.parameter_names.push_back(name);
    shard.numel += p.numel();
  }
  return out;
}

Result<std::vector<int>> parse_shard_list(const std::string& text, int shard_count) {
  std::set<int> out;
  std::stringstream ss(text);
  std::string item;
  auto parse_int = [&](const std::string& s) -> Result<int> {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 6) {
      return InvalidArgument("--shards '" + text + "': '" + s + "' is not a shard index");
    }
    int v = std::stoi(s);
    if (v >= shard_count) {
      return InvalidArgument("--shards '" + text + "': shard " + s + " does not exist (the run has " +
                             std::to_string(shard_count) + " shards, 0.." + std::to_string(shard_count - 1) + ")");
    }
    return v;
  };
  while (std::getline(ss, item, ',')) {
    auto dash = item.find('-');
    if (dash == std::string::npos) {
      TESSERA_ASSIGN_OR_RETURN(int v, parse_int(item));
      out.insert(v);
    } else {
      TESSERA_ASSIGN_OR_RETURN(int a, parse_int(item.substr(0, dash)));
      TESSERA_ASSIGN_OR_RETURN(int b, parse_int(item.substr(dash + 1)));
      if (a > b) return InvalidArgument("--shards '" + text + "': range " + item + " is reversed");
      for (int v = a; v <= b; ++v) out.insert(v);
    }
  }
  if (out.empty()) return InvalidArgument("--shards '" + text + "': no shard given");
  return std::vector<int>(out.begin(), out.end());
}

}  // namespace tessera::model
