// Partition of a model's parameters into S size-balanced shards of contiguous layers.
//
// The units of the partition, in order, are: the embeddings (wte, wpe), each transformer
// block h.0 … h.{L-1}, and the final norm ln_f. Shards are contiguous runs of units chosen
// to minimise the largest shard (exact, by binary search over the capacity). A miner
// with little memory trains and submits only some shards; every role derives the same
// partition from (config, S).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// Parses "0,2-3" into sorted unique shard indices < `shard_count`.
Result<std::vector<int>> parse_shard_list(const std::string& text, int shard_count);

}  // namespace tessera::model
