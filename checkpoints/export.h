// Exports of a checkpoint's GPT to the formats other tools load.
//
// Our GPT uses GPT-2's parameter names, [out, in] linear weights (torch's layout), q|k|v
// stacked in c_attn, tanh-approximated GELU, LayerNorm ε = 1e-5 and an output head tied to
// the token embedding. Tokens are bytes (ids 0-255; a preset with a larger vocabulary
// leaves the ids above 255 unused).
//
// - llm.c (train_gpt2.c, model header version 3): 256 int32 header {20240326, 3, maxT, V,
//   L, NH, C, Vp, 0…}, then float32 parameters in the order wte (Vp×C, rows ≥ V zero), wpe
//   (maxT×C), ln1w, ln1b (L×C), qkvw (L×3C×C), qkvb (L×3C), attprojw (L×C×C), attprojb
//   (L×C), ln2w, ln2b (L×C), fcw (L×4C×C), fcb (L×4C), fcprojw (L×C×4C), fcprojb (L×C),
//   lnfw, lnfb (C); Vp is V rounded up to a multiple of 128. A reordering: llm.c keeps
//   torch's [out, in].
// - Hugging Face transformers (GPT2LMHeadModel): config.json plus model.safetensors with
//   the names `save_pretrained` writes ("transformer.h.0.attn.c_attn.weight", …; the tied
//   lm_head is left out, as transformers does) and metadata {"format": "pt"}. GPT-2's
//   Conv1D stores its weight as [in, out], so c_attn, c_proj and c_fc weights are written
//   transposed; names alone would load the square attn.c_proj transposed without a word.
#pragma once

#include <filesystem>
#include <string>

#include "checkpoints/safetensors.h"
#include "core/status.h"

namespace tessera::checkpoints {

// The GPT's geometry read off its tensors (n_head is not recoverable from shapes and is
// passed in); an error names the tensor that is missing or misshapen.
struct GptGeometry {
  std::int64_t vocab = 0, d_model = 0, context = 0, layers = 0, heads = 0;
};
Result<GptGeometry> gpt_geometry(const NamedTensors& model, int n_head);

// The head count from a manifest's model description ("tiny: 6 layers, 4 heads, …").
Result<int> heads_from_description(const std::string& description);

// `model` holds the GPT's parameters by name (optimizer state is ignored).
Result<std::string> encode_llmc(const NamedTensors& model, int n_head);

struct HfExport {
  std::string config_json;
  NamedTensors tensors;  // Hugging Face names and layout, in model order
};
Result<HfExport> encode_hf_gpt2(const NamedTensors& model, int n_head);
// Writes <dir>/config.json and <dir>/model.safetensors (each atomically).
Status write_hf_gpt2(const std::filesystem::path& dir, const NamedTensors& model, int n_head);

}  // namespace tessera::checkpoints
