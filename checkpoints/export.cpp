#include "checkpoints/export.h"

#include <nlohmann/json.hpp>

#include <map>
#include <regex>

#include "core/file_io.h"

namespace tessera::checkpoints {

namespace {

struct LayerTensor {
  const char* name;
  bool transposed_in_hf;  // GPT-2's Conv1D weights are [in, out]
};
// A layer's tensors in model order: transformers' order within a layer, and llm.c's
// order of the per-kind stacks across layers.
const LayerTensor kLayerTensors[] = {
    {"ln_1.weight", false},       {"ln_1.bias", false},      {"attn.c_attn.weight", true}, {"attn.c_attn.bias", false},
    {"attn.c_proj.weight", true}, {"attn.c_proj.bias", false}, {"ln_2.weight", false},     {"ln_2.bias", false},
    {"mlp.c_fc.weight", true},    {"mlp.c_fc.bias", false},  {"mlp.c_proj.weight", true},  {"mlp.c_proj.bias", false},
};

std::vector<std::int64_t> layer_shape(const std::string& name, const GptGeometry& g) {
  const std::int64_t C = g.d_model;
  if (name == "attn.c_attn.weight") return {3 * C, C};
  if (name == "attn.c_attn.bias") return {3 * C};
  if (name == "attn.c_proj.weight") return {C, C};
  if (name == "mlp.c_fc.weight") return {4 * C, C};
  if (name == "mlp.c_fc.bias") return {4 * C};
  if (name == "mlp.c_proj.weight") return {C, 4 * C};
  return {C};
}

// The model's tensors by name (float32, contiguous), each checked against the geometry.
class ByName {
 public:
  ByName(const NamedTensors& model, const char* format) : format_(format) {
    for (const auto& [name, t] : model) by_name_[name] = t;
  }
  Result<torch::Tensor> get(const std::string& name, const std::vector<std::int64_t>& shape) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return InvalidArgument(std::string(format_) + " export: the checkpoint has no tensor " + name);
    if (it->second.sizes().vec() != shape) {
      return InvalidArgument(std::string(format_) + " export: tensor " + name + " has an unexpected shape");
    }
    return it->second.to(torch::kFloat).contiguous();
  }

 private:
  const char* format_;
  std::map<std::string, torch::Tensor> by_name_;
};

}  // namespace

Result<GptGeometry> gpt_geometry(const NamedTensors& model, int n_head) {
  const torch::Tensor* wte = nullptr;
  const torch::Tensor* wpe = nullptr;
  std::int64_t layers = 0;
  for (const auto& [name, t] : model) {
    if (name == "wte.weight") wte = &t;
    if (name == "wpe.weight") wpe = &t;
    if (name == "h." + std::to_string(layers) + ".ln_1.weight") ++layers;
  }
  if (!wte || !wpe || wte->dim() != 2 || wpe->dim() != 2 || wte->size(1) != wpe->size(1)) {
    return InvalidArgument("not a GPT checkpoint (wte.weight/wpe.weight missing or misshapen)");
  }
  GptGeometry g{wte->size(0), wte->size(1), wpe->size(0), layers, n_head};
  if (g.layers == 0 || n_head <= 0 || g.d_model % n_head != 0) {
    return InvalidArgument("bad GPT geometry: " + std::to_string(g.layers) + " layers, " + std::to_string(n_head) +
                           " heads, d_model " + std::to_string(g.d_model));
  }
  return g;
}

Result<int> heads_from_description(const std::string& description) {
  static const std::regex heads(R"((\d+) heads)");
  std::smatch m;
  if (!std::regex_search(description, m, heads)) {
    return InvalidArgument("the checkpoint's model description '" + description + "' does not state the head count");
  }
  return std::stoi(m[1].str());
}

Result<std::string> encode_llmc(const NamedTensors& model, int n_head) {
  TESSERA_ASSIGN_OR_RETURN(GptGeometry g, gpt_geometry(model, n_head));
  const ByName by_name(model, "llm.c");
  const std::int64_t V = g.vocab, C = g.d_model, T = g.context, L = g.layers;
  const std::int64_t Vp = (V + 127) / 128 * 128;

  std::vector<torch::Tensor> parts;
  TESSERA_ASSIGN_OR_RETURN(auto wte_v, by_name.get("wte.weight", {V, C}));
  torch::Tensor wte = torch::zeros({Vp, C});
  wte.narrow(0, 0, V).copy_(wte_v);
  parts.push_back(wte);
  TESSERA_ASSIGN_OR_RETURN(auto wpe, by_name.get("wpe.weight", {T, C}));
  parts.push_back(wpe);
  for (const auto& p : kLayerTensors) {
    for (std::int64_t l = 0; l < L; ++l) {
      TESSERA_ASSIGN_OR_RETURN(auto t, by_name.get("h." + std::to_string(l) + "." + p.name, layer_shape(p.name, g)));
      parts.push_back(t);
    }
  }
  for (const char* name : {"ln_f.weight", "ln_f.bias"}) {
    TESSERA_ASSIGN_OR_RETURN(auto t, by_name.get(name, {C}));
    parts.push_back(t);
  }

  std::int32_t header[256] = {};
  header[0] = 20240326;
  header[1] = 3;
  header[2] = static_cast<std::int32_t>(T);
  header[3] = static_cast<std::int32_t>(V);
  header[4] = static_cast<std::int32_t>(L);
  header[5] = n_head;
  header[6] = static_cast<std::int32_t>(C);
  header[7] = static_cast<std::int32_t>(Vp);
  std::string out(reinterpret_cast<const char*>(header), sizeof(header));  // little-endian hosts only (x86-64, arm64)
  for (const auto& t : parts) out.append(reinterpret_cast<const char*>(t.data_ptr<float>()), static_cast<std::size_t>(t.numel()) * 4);
  return out;
}

Result<HfExport> encode_hf_gpt2(const NamedTensors& model, int n_head) {
  TESSERA_ASSIGN_OR_RETURN(GptGeometry g, gpt_geometry(model, n_head));
  const ByName by_name(model, "Hugging Face");
  const std::int64_t C = g.d_model;
  HfExport out;
  auto add = [&](const std::string& name, const std::vector<std::int64_t>& shape, bool transpose) -> Status {
    TESSERA_ASSIGN_OR_RETURN(torch::Tensor t, by_name.get(name, shape));
    out.tensors.emplace_back("transformer." + name, transpose ? t.t().contiguous() : t);
    return Status::Ok();
  };
  TESSERA_RETURN_IF_ERROR(add("wte.weight", {g.vocab, C}, false));
  TESSERA_RETURN_IF_ERROR(add("wpe.weight", {g.context, C}, false));
  for (std::int64_t l = 0; l < g.layers; ++l) {
    for (const auto& p : kLayerTensors) {
      TESSERA_RETURN_IF_ERROR(add("h." + std::to_string(l) + "." + p.name, layer_shape(p.name, g), p.transposed_in_hf));
    }
  }
  TESSERA_RETURN_IF_ERROR(add("ln_f.weight", {C}, false));
  TESSERA_RETURN_IF_ERROR(add("ln_f.bias", {C}, false));

  nlohmann::ordered_json config;
  config["architectures"] = {"GPT2LMHeadModel"};
  config["model_type"] = "gpt2";
  config["vocab_size"] = g.vocab;
  config["n_positions"] = g.context;
  config["n_ctx"] = g.context;
  config["n_embd"] = C;
  config["n_layer"] = g.layers;
  config["n_head"] = g.heads;
  config["n_inner"] = nullptr;  // 4 · n_embd
  config["activation_function"] = "gelu_new";  // the tanh approximation, as our MLP
  config["layer_norm_epsilon"] = 1e-5;
  config["resid_pdrop"] = 0.0;
  config["embd_pdrop"] = 0.0;
  config["attn_pdrop"] = 0.0;
  config["initializer_range"] = 0.02;
  config["scale_attn_weights"] = true;
  config["tie_word_embeddings"] = true;
  config["bos_token_id"] = nullptr;  // byte-level: no special tokens
  config["eos_token_id"] = nullptr;
  config["torch_dtype"] = "float32";
  config["tessera_tokenizer"] = "bytes: token id = byte value (0-255) of UTF-8 text";
  out.config_json = config.dump(2) + "\n";
  return out;
}

Status write_hf_gpt2(const std::filesystem::path& dir, const NamedTensors& model, int n_head) {
  TESSERA_ASSIGN_OR_RETURN(HfExport hf, encode_hf_gpt2(model, n_head));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
  TESSERA_RETURN_IF_ERROR(write_safetensors(dir / "model.safetensors", hf.tensors, {{"format", "pt"}}));
  return write_file_atomic(dir / "config.json", hf.config_json, 0644);
}

}  // namespace tessera::checkpoints
