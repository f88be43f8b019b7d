// Merged updates U_w for catch-up: C_{w+1}'s tensors where they differ from C_w's, bit for
// bit (sparse: indices + new values; dense when most of a tensor changed). A node that
// holds C_w applies the update and verifies the result against C_{w+1}'s manifest —
// the same check as a full pull — so an update can only save bytes, never weaken trust.
#pragma once

#include <cstdint>
#include <string>

#include "checkpoints/store.h"
#include "core/status.h"

namespace tessera::checkpoints {

// Serialised CheckpointUpdate from `parent` to `child` (same tensor names and shapes).
Result<std::string> make_update(const Checkpoint& parent, const NamedTensors& child, const std::string& child_hash);
// The most bytes make_update can produce for a model of these tensors: every tensor dense
// (4 bytes a value; the sparse form is used only when it is smaller), plus the framing.
// A client refuses a served update beyond it.
std::uint64_t max_update_bytes(const NamedTensors& model);
// The child's tensors: `parent` with the update applied; every malformed field (unknown
// tensor, indices out of range or not increasing, sizes) is an error naming it.
Result<NamedTensors> apply_update(const Checkpoint& parent, std::string_view update, const std::string& child_hash);

}  // namespace tessera::checkpoints
