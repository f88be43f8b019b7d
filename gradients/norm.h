// The arithmetic the validator's checks and the aggregator's merge share: one delta's L2
// norm, the median of a set of norms, the norm reference a window is judged and merged
// against, and the cosine similarity of two deltas (copy and replay detection). All are
// consensus arithmetic (the merge and the verdicts depend on them), so they run in
// double in a fixed order on the host.
#pragma once

#include <vector>

#include "gradients/codec.h"

namespace tessera::gradients {

// The groups of parameters the checks and the merge work per: the model's shards when
// miners train parts of it (model/shards.h), else one group holding everything. Each
// group has its own norm reference, clip and copy comparison, so that deltas of a small
// or slow shard are measured against their own kind.
struct ParamGroups {
  std::vector<int> group_of;  // one entry per parameter, in 0 … count − 1
  int count = 1;
  static ParamGroups whole(std::size_t params);
  bool one() const { return count <= 1; }
};

// `delta` cut into one part per group, sharing its tensors (an untouched group's part is
// empty).
std::vector<DecodedDelta> split_by_group(const DecodedDelta& delta, const ParamGroups& groups);

// next_norm_reference for each group.
std::vector<double> next_norm_references(const std::vector<double>& references,
                                         const std::vector<std::vector<double>>& merged_norms);

// L2 norm of a decoded delta (sparse values or dense tensors), accumulated in double in
// tensor order.
double delta_norm(const DecodedDelta& delta);

// The median of `values` (mean of the two middle ones for an even count); 0 when empty.
double median(std::vector<double> values);

// The norm reference of the next window, from the current one's `reference` (0: none
// yet) and the raw L2 norms of the deltas that were merged (judged useful): their
// median, moved at most a factor of 2 from `reference` per window, so that no window's
// merged set can drag the reference far. When nothing was merged, 2 × `reference`: a
// reference left behind while deltas grow (the inner learning rate's warm-up, a shard
// whose deltas were all refused for another reason) would otherwise refuse every later
// delta as an outlier, and with nothing merged it could never move again. It depends
// only on what was merged, so `checkpoint verify` recomputes it.
double next_norm_reference(double reference, const std::vector<double>& merged_norms);

// Cosine similarity of two deltas over the whole parameter vector: Σ a·b / (|a|·|b|),
// with sparse and dense updates mixed freely (a sparse update's flat indices address
// the dense parameter). 0 when either is all zero. Survives index swaps and value noise
// that defeat an index-set comparison: swapping s of k indices of a chunk still leaves
// about (k − s)/k of the energy aligned.
// `norm_a`/`norm_b`: the deltas' norms when already known (negative: computed here).
double delta_cosine(const DecodedDelta& a, const DecodedDelta& b, double norm_a = -1.0, double norm_b = -1.0);

}  // namespace tessera::gradients
