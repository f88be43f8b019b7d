// GPT model configuration and presets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"

namespace tessera::model {

struct ModelConfig {
  std::string preset;
  int vocab_size = 256;
  int context_length = 128;
  int n_layer = 2;
  int n_head = 2;
  int d_model = 64;

  // Exact number of trainable parameters of the GPT this config describes.
  std::int64_t parameter_count() const;
  std::string describe() const;  // "tiny: 6 layers, 4 heads, d=128, ctx=128, vocab=256, 1.24M params"
};

// Presets: nano (~0.1M, unit tests), tiny (~1.2M, CPU demo), small (~11M),
// gpt2-124m (the GPT-2 small geometry, vocab 50257).
const std::vector<std::string>& preset_names();
Result<ModelConfig> preset(const std::string& name);
// Preset plus the spec's overrides, validated (d_model divisible by n_head, …).
Result<ModelConfig> resolve_config(const ModelSpec& spec);

}  // namespace tessera::model
