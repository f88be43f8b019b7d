// Applying a decoded delta to model parameters with an undo log, so a validator can test
// a delta and restore the model bit for bit: the log saves the values each write
// replaced (sparse updates: the touched slots; dense updates: the whole tensor) and
// restore() copies them back — no subtraction, so no rounding.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "core/status.h"
#include "gradients/codec.h"

namespace tessera::gradients {

struct UndoLog {
  struct Entry {
    std::uint32_t param_index;
    torch::Tensor flat_index;  // sparse: touched slots
    torch::Tensor saved;       // sparse: old values; dense: old tensor
  };
  std::vector<Entry> entries;
};

// params[i] += alpha · update_i for every tensor of `delta`; params must be float32,
// contiguous, and match the delta's indices. They may live on any device with kernels
// (gradients/dispatch.h): the update is copied there and applied by that device's
// kernels; the undo log lives there too. Returns the undo log. A delta that does not fit
// the parameters is refused before anything is written; if a device kernel fails partway,
// the tensors already written are restored before the error returns.
Result<UndoLog> apply_delta(const std::vector<torch::Tensor>& params, const DecodedDelta& delta, float alpha);
// Restores what apply_delta replaced, bit for bit. Fails only when a device kernel fails.
Status undo_delta(const std::vector<torch::Tensor>& params, const UndoLog& log);
// Restores several applied deltas, the last applied first (the order that restores a
// slot two of them wrote).
Status undo_deltas(const std::vector<torch::Tensor>& params, const std::vector<UndoLog>& logs);

}  // namespace tessera::gradients
