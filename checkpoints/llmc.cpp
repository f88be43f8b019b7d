#include "checkpoints/llmc.h"

#include <cstring>
#include <map>
#include <regex>

namespace tessera::checkpoints {

Result<int> heads_from_description(const std::string& description) {
  static const std::regex heads(R"((\d+) heads)");
  std::smatch m;
  if (!std::regex_search(description, m, heads)) {
    return InvalidArgument("the checkpoint's model description '" + description + "' does not state the head count");
  }
  return std::stoi(m[1].str());
}

Result<std::string> encode_llmc(const NamedTensors& model, int n_head) {
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [name, t] : model) by_name[name] = t.to(torch::kFloat).contiguous();
  auto get = [&](const std::string& name, std::vector<std::int64_t> shape) -> Result<torch::Tensor> {
    auto it = by_name.find(name);
    if (it == by_name.end()) return InvalidArgument("llm.c export: the checkpoint has no tensor " + name);
    if (it->second.sizes().vec() != shape) return InvalidArgument("llm.c export: tensor " + name + " has an unexpected shape");
    return it->second;
  };
  auto wte_it = by_name.find("wte.weight"), wpe_it = by_name.find("wpe.weight");
  if (wte_it == by_name.end() || wpe_it == by_name.end() || wte_it->second.dim() != 2 || wpe_it->second.dim() != 2) {
    return InvalidArgument("llm.c export: not a GPT checkpoint (wte/wpe missing)");
  }
  const std::int64_t V = wte_it->second.size(0), C = wte_it->second.size(1), T = wpe_it->second.size(0);
  std::int64_t L = 0;
  while (by_name.count("h." + std::to_string(L) + ".ln_1.weight")) ++L;
  if (L == 0 || n_head <= 0 || C % n_head != 0) return InvalidArgument("llm.c export: bad layer/head geometry");
  const std::int64_t Vp = (V + 127) / 128 * 128;

  std::vector<torch::Tensor> parts;
  torch::Tensor wte = torch::zeros({Vp, C});
  wte.narrow(0, 0, V).copy_(wte_it->second);
  parts.push_back(wte);
  parts.push_back(wpe_it->second);
  struct PerLayer {
    const char* name;
    std::vector<std::int64_t> shape;
  };
  const std::vector<PerLayer> layered = {
      {"ln_1.weight", {C}},          {"ln_1.bias", {C}},          {"attn.c_attn.weight", {3 * C, C}},
      {"attn.c_attn.bias", {3 * C}}, {"attn.c_proj.weight", {C, C}}, {"attn.c_proj.bias", {C}},
      {"ln_2.weight", {C}},          {"ln_2.bias", {C}},          {"mlp.c_fc.weight", {4 * C, C}},
      {"mlp.c_fc.bias", {4 * C}},    {"mlp.c_proj.weight", {C, 4 * C}}, {"mlp.c_proj.bias", {C}},
  };
  for (const auto& p : layered) {
    for (std::int64_t l = 0; l < L; ++l) {
      TESSERA_ASSIGN_OR_RETURN(auto t, get("h." + std::to_string(l) + "." + p.name, p.shape));
      parts.push_back(t);
    }
  }
  TESSERA_ASSIGN_OR_RETURN(auto lnfw, get("ln_f.weight", {C}));
  TESSERA_ASSIGN_OR_RETURN(auto lnfb, get("ln_f.bias", {C}));
  parts.push_back(lnfw);
  parts.push_back(lnfb);

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

}  // namespace tessera::checkpoints
