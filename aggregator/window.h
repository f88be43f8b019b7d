// One aggregation step (DESIGN.md §1, step 4): checkpoint C_w + the accepted deltas of
// window w → C_{w+1}. The same function runs in the aggregating validator and in
// `tessera checkpoint verify`, so anyone holding C_w and the accepted payloads recomputes
// C_{w+1} bit for bit and compares its content hash with the one announced on chain.
//
// A checkpoint holds the model's parameters followed by the outer optimizer's momentum
// (checkpoints/parameters.h): the optimizer state travels with the checkpoint.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gradients/merge.h"
#include "checkpoints/store.h"
#include "core/run_spec.h"
#include "core/status.h"
#include "gradients/codec.h"

namespace tessera::aggregator {

struct NextCheckpoint {
  checkpoints::NamedTensors tensors;  // parameters, then momentum buffers (if any)
  checkpoints::Manifest manifest;     // unsigned; tensor entries filled
  std::vector<torch::Tensor> merged;  // U_w: the merged pseudo-gradient per parameter (undefined: untouched)
  gradients::MergeStats stats;
};

// The run's first checkpoint: the deterministic initialisation of the spec's model from
// the run seed, announced for `window`.
Result<NextCheckpoint> initial_checkpoint(const RunSpec& spec, std::uint64_t window);

// C_{w+1} from `base` (= C_w) and the accepted deltas in verdict order, announced for
// `window` (normally w + 1; later when the aggregator fell behind the chain).
// `accepted[i]` describes `deltas[i]`.
Result<NextCheckpoint> next_checkpoint(const RunSpec& spec, const checkpoints::Checkpoint& base,
                                       std::uint64_t window, const std::vector<checkpoints::AcceptedEntry>& accepted,
                                       const std::vector<const gradients::DecodedDelta*>& deltas);

// Recomputes `child` from `parent` and the payloads its manifest lists as accepted
// (`payloads[i]` holds the bytes of `child.manifest.accepted[i]`, hash-checked here),
// decoding each with the run's codec, and checks that the result hashes to child.hash.
// The error names the first thing that differs.
Status verify_transition(const RunSpec& spec, const checkpoints::Checkpoint& parent, const checkpoints::Checkpoint& child,
                         const std::vector<std::string>& payloads);

}  // namespace tessera::aggregator
