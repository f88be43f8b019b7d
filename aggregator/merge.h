// Merging the accepted deltas of a window into one pseudo-gradient (DESIGN.md §1, step 4):
// every delta is first clipped to the median L2 norm of the set (a large, possibly
// poisoned delta cannot dominate), then each coordinate takes the mean over the miners
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

namespace tessera::aggregator {

struct MergeStats {
  std::size_t deltas = 0;
  double median_norm = 0.0;
  std::size_t clipped = 0;       // deltas scaled down to the median norm
  std::int64_t touched = 0;      // coordinates with at least one contribution
};

// Returns one dense float32 tensor per parameter (undefined where no delta touched the
// parameter). `param_shapes` is the model's parameter list.
Result<std::vector<torch::Tensor>> merge_deltas(const std::vector<const gradients::DecodedDelta*>& deltas,
                                                const std::vector<std::vector<std::int64_t>>& param_shapes,
                                                bool clip_to_median = true, MergeStats* stats = nullptr);

}  // namespace tessera::aggregator
