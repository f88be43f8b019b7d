// Merging the accepted deltas of a window into one pseudo-gradient (DESIGN.md §1, step 4):
// every delta is first clipped to the window's norm reference — the one the validators
// judged it against (gradients/norm.h), or the median L2 norm of the set when the run has
// none yet — so that a large, possibly poisoned delta cannot dominate; then each coordinate takes the mean over the miners
// that sent it (a coordinate chosen by one miner of four is not diluted by three zeros).
//
// Deterministic by construction: deltas are reduced in the order given, one coordinate at
// a time, sequentially, with norms accumulated in double — two aggregators with the same
// inputs produce bit-identical results whatever their thread count.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "core/status.h"
#include "gradients/codec.h"
#include "gradients/norm.h"

namespace tessera::gradients {

struct MergeStats {
  std::size_t deltas = 0;
  double clip_norm = 0.0;        // the reference every delta was clipped to (group 0's)
  std::vector<double> norms;     // each delta's raw L2 norm, in the order given
  // Per parameter group: the reference that group's parts were clipped to, and the raw
  // norms of the parts of the deltas that touch it, in the order given.
  std::vector<double> clip_norms;
  std::vector<std::vector<double>> group_norms;
  std::vector<std::size_t> group_deltas;  // deltas that touch each group
  // Per delta, per group: the factor the merge scaled that part by (1 where it was not
  // clipped), in double; the merge applies it as float.
  std::vector<std::vector<double>> scales;
  std::size_t clipped = 0;       // deltas scaled down to clip_norm
  std::int64_t touched = 0;      // coordinates with at least one contribution
};

// Returns one dense float32 tensor per parameter (undefined where no delta touched the
// parameter). `param_shapes` is the model's parameter list. `reference` > 0: clip to it;
// otherwise to the median norm of `deltas`.
Result<std::vector<torch::Tensor>> merge_deltas(const std::vector<const gradients::DecodedDelta*>& deltas,
                                                const std::vector<std::vector<std::int64_t>>& param_shapes,
                                                double reference = 0.0, MergeStats* stats = nullptr);

// The same per parameter group (gradients/norm.h): each delta's part in group g is
// clipped to references[g] (or, when that is 0, to the median norm of the parts that
// touch g), then every coordinate takes the mean over the deltas that sent it — so a
// shard's update is the mean over the miners that trained that shard.
Result<std::vector<torch::Tensor>> merge_deltas(const std::vector<const gradients::DecodedDelta*>& deltas,
                                                const std::vector<std::vector<std::int64_t>>& param_shapes,
                                                const ParamGroups& groups, const std::vector<double>& references,
                                                MergeStats* stats = nullptr);

}  // namespace tessera::gradients
