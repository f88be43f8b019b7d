// Export to llm.c's GPT-2 checkpoint layout (train_gpt2.c, model header version 3): 256
// int32 header {20240326, 3, maxT, V, L, NH, C, Vp, 0…}, then float32 parameters in the
// order wte (Vp×C, rows ≥ V zero), wpe (maxT×C), ln1w, ln1b (L×C), qkvw (L×3C×C), qkvb
// (L×3C), attprojw (L×C×C), attprojb (L×C), ln2w, ln2b (L×C), fcw (L×4C×C), fcb (L×4C),
// fcprojw (L×C×4C), fcprojb (L×C), lnfw, lnfb (C). Our GPT uses GPT-2's names, layouts
// ([out, in] linear weights, q|k|v stacked) and tied output head, so the export is a
// reordering; Vp is V rounded up to a multiple of 128.
#pragma once

#include <string>

#include "checkpoints/safetensors.h"
#include "core/status.h"

namespace tessera::checkpoints {

// `model` holds the GPT's parameters by name (optimizer state is ignored); `n_head` is
// not recoverable from the shapes and is passed in.
Result<std::string> encode_llmc(const NamedTensors& model, int n_head);

// The head count from a manifest's model description ("tiny: 6 layers, 4 heads, …").
Result<int> heads_from_description(const std::string& description);

}  // namespace tessera::checkpoints
