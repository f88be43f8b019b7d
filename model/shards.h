// Partition of a model's parameters into S size-balanced shards of contiguous layers, and
// which shards each miner trains.
//
// The units of the partition, in order, are: the embeddings (wte, wpe), each transformer
// block h.0 … h.{L-1}, and the final norm ln_f. Shards are contiguous runs of units chosen
// to minimise the largest shard (exact, by binary search over the capacity). Every role
// derives the same partition from (config, S).
//
// Assignment (model.shards_per_miner = k < S): uid u trains the k shards
//   (u·k + o_e + j) mod S,  j = 0 … k−1,  o_e = H(run seed, e) mod S,  e = window / E
// where E = model.shard_epoch_windows. Anyone recomputes it from public values; the
// miner's signed header names the result and validators refuse anything else. Any S
// consecutive uids cover every shard exactly k times (their intervals [u·k, u·k + k)
// tile [0, S·k)), and any ⌈S/k⌉ consecutive uids cover every shard at least once. The
// offset o_e rotates every E windows, so a shard that a gap in the uids leaves without
// miners in one epoch gets them in another; a miner keeps its shards, with their
// optimizer and error-feedback state, for the E windows in between.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"
#include "model/gpt.h"

namespace tessera::model {

struct Shard {
  int index = 0;
  std::vector<std::string> parameter_names;  // in model order
  std::int64_t numel = 0;
};

// Splits `sizes` (all >= 0) into `parts` contiguous non-empty groups minimising the
// largest group sum. Returns the start index of each group (first is 0).
Result<std::vector<std::size_t>> balanced_contiguous_partition(const std::vector<std::int64_t>& sizes,
                                                               int parts);

Result<std::vector<Shard>> partition_shards(const GPT& model, int shards);

// The shard epoch of a window: window / model.shard_epoch_windows.
std::uint64_t shard_epoch(const ModelSpec& spec, std::uint64_t window);

// The shards uid `uid` trains in `window`, ascending (above). Every shard 0 … S−1 when
// the run is not sharded (ModelSpec::sharded()).
std::vector<int> assign_shards(std::uint64_t run_seed, const ModelSpec& spec, std::uint64_t window, std::uint32_t uid);

// The same partition from parameter names and element counts alone (what a checkpoint
// holds): for each parameter, in the order given, its shard.
Result<std::vector<int>> shard_of_parameters(const std::vector<std::string>& names,
                                             const std::vector<std::int64_t>& numels, int n_layer, int shards);

// How many parameter groups parameter_groups makes: model.shards when sharded, else 1.
inline int parameter_group_count(const ModelSpec& spec) { return spec.sharded() ? spec.shards : 1; }

// The parameter groups the validators' checks and the aggregator's merge work per: the
// shard of each parameter when the run is sharded (ModelSpec::sharded()), else all 0.
// Returns the group of each parameter and the group count.
Result<std::pair<std::vector<int>, int>> parameter_groups(const ModelSpec& spec, const std::vector<std::string>& names,
                                                          const std::vector<std::vector<std::int64_t>>& shapes);

}  // namespace tessera::model
