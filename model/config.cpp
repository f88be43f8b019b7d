#include "model/config.h"

#include <cstdio>

namespace tessera::model {

std::int64_t ModelConfig::parameter_count() const {
  const std::int64_t d = d_model;
  const std::int64_t per_layer = 2 * d            // ln_1
                                 + 3 * d * d + 3 * d  // c_attn
                                 + d * d + d          // attn c_proj
                                 + 2 * d              // ln_2
                                 + 4 * d * d + 4 * d  // c_fc
                                 + 4 * d * d + d;     // mlp c_proj
  return static_cast<std::int64_t>(vocab_size) * d + static_cast<std::int64_t>(context_length) * d +
         n_layer * per_layer + 2 * d;
}

std::string ModelConfig::describe() const {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s: %d layers, %d heads, d=%d, ctx=%d, vocab=%d, %.2fM params",
                preset.c_str(), n_layer, n_head, d_model, context_length, vocab_size,
                static_cast<double>(parameter_count()) / 1e6);
  return buf;
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"nano", "tiny", "small", "gpt2-124m"};
  return names;
}

Result<ModelConfig> preset(const std::string& name) {
  //                         name     vocab  ctx   layers heads d_model
  if (name == "nano") return ModelConfig{"nano", 256, 64, 3, 3, 48};
  if (name == "tiny") return ModelConfig{"tiny", 256, 128, 6, 4, 128};
  if (name == "small") return ModelConfig{"small", 256, 256, 6, 6, 384};
  if (name == "gpt2-124m") return ModelConfig{"gpt2-124m", 50257, 1024, 12, 12, 768};
  std::string list;
  for (const auto& n : preset_names()) list += (list.empty() ? "" : " | ") + n;
  return InvalidArgument("model.preset = \"" + name + "\": must be one of " + list);
}

Result<ModelConfig> resolve_config(const ModelSpec& spec) {
  TESSERA_ASSIGN_OR_RETURN(ModelConfig config, preset(spec.preset));
  if (spec.n_layer > 0) config.n_layer = spec.n_layer;
  if (spec.n_head > 0) config.n_head = spec.n_head;
  if (spec.d_model > 0) config.d_model = spec.d_model;
  if (spec.context_length > 0) config.context_length = spec.context_length;
  if (spec.vocab_size > 0) config.vocab_size = spec.vocab_size;
  if (config.d_model % config.n_head != 0) {
    return InvalidArgument("model.d_model = " + std::to_string(config.d_model) +
                           ": must be divisible by model.n_head = " + std::to_string(config.n_head));
  }
  const int units = config.n_layer + 2;
  if (spec.shards > units) {
    return InvalidArgument("model.shards = " + std::to_string(spec.shards) + ": must be at most " +
                           std::to_string(units) + " (embeddings, " + std::to_string(config.n_layer) +
                           " layers, final norm)");
  }
  if (spec.shards_per_miner > spec.shards) {
    return InvalidArgument("model.shards_per_miner = " + std::to_string(spec.shards_per_miner) +
                           ": must be at most model.shards = " + std::to_string(spec.shards));
  }
  return config;
}

}  // namespace tessera::model
