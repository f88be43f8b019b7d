// Exports to other tools. llm.c: header fields, total size by llm.c's parameter-count formula,
// and tensors at the offsets llm.c reads them from. Hugging Face: see the HfExport tests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include "checkpoints/export.h"
#include "model/gpt.h"
#include "tests/test_util.h"

namespace tessera::checkpoints {
namespace {

TEST(LlmcExport, LayoutMatchesLlmcGpt2Checkpoint) {
  const auto config = *model::preset("nano");
  model::GPT gpt = model::make_gpt(config, 9);
  NamedTensors tensors;
  for (const auto& [name, p] : gpt->named_params()) tensors.emplace_back(name, p.detach());
  auto bytes = encode_llmc(tensors, config.n_head);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  const std::int64_t C = config.d_model, L = config.n_layer, T = config.context_length, V = config.vocab_size;
  const std::int64_t Vp = (V + 127) / 128 * 128;
  const std::int64_t params = Vp * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
  ASSERT_EQ(static_cast<std::int64_t>(bytes->size()), 1024 + 4 * params);
  std::int32_t header[8];
  std::memcpy(header, bytes->data(), sizeof(header));
  EXPECT_EQ(header[0], 20240326);
  EXPECT_EQ(header[1], 3);
  EXPECT_EQ(header[2], T);
  EXPECT_EQ(header[3], V);
  EXPECT_EQ(header[4], L);
  EXPECT_EQ(header[5], config.n_head);
  EXPECT_EQ(header[6], C);
  EXPECT_EQ(header[7], Vp);
  auto floats_at = [&](std::int64_t offset, std::int64_t n) {
    torch::Tensor t = torch::empty({n});
    std::memcpy(t.data_ptr<float>(), bytes->data() + 1024 + 4 * offset, static_cast<std::size_t>(n) * 4);
    return t;
  };
  auto named = [&](const std::string& n) {
    for (const auto& [name, t] : tensors) {
      if (name == n) return t.reshape({-1});
    }
    return torch::Tensor();
  };
  EXPECT_TRUE(torch::equal(floats_at(0, V * C), named("wte.weight")));
  EXPECT_TRUE(torch::equal(floats_at(Vp * C, T * C), named("wpe.weight")));
  // qkvw of layer 1: after wte, wpe, ln1w, ln1b (L·C each) and layer 0's qkvw.
  const std::int64_t qkv1 = Vp * C + T * C + 2 * L * C + 3 * C * C;
  EXPECT_TRUE(torch::equal(floats_at(qkv1, 3 * C * C), named("h.1.attn.c_attn.weight")));
  EXPECT_TRUE(torch::equal(floats_at(params - C, C), named("ln_f.bias")));
  tensors.pop_back();
  EXPECT_FALSE(encode_llmc(tensors, config.n_head).ok());
}

TEST(LlmcExport, HeadCountFromTheManifestDescription) {
  EXPECT_EQ(*heads_from_description("tiny: 6 layers, 4 heads, d=128, ctx=128, vocab=256, 1.24M params"), 4);
  EXPECT_FALSE(heads_from_description("something else").ok());
}

NamedTensors params_of(const model::GPT& gpt) {
  NamedTensors tensors;
  for (const auto& [name, p] : gpt->named_params()) tensors.emplace_back(name, p.detach());
  return tensors;
}

// The safetensors header of a file: its JSON, read by hand as an outside tool would.
nlohmann::json safetensors_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  return nlohmann::json::parse(text);
}

// The export of a model with GPT-2 small's geometry has exactly the names, dtypes and
// shapes transformers writes for GPT2LMHeadModel (a committed list), and its config
// describes that geometry.
TEST(HfExport, LayoutIsGpt2sAsTransformersWritesIt) {
  const auto config = *model::preset("gpt2-124m");
  const model::GPT gpt(config);  // torch's default initialisation: only the layout matters
  testing::TempDir dir;
  ASSERT_TRUE(write_hf_gpt2(dir.path(), params_of(gpt), config.n_head).ok());
  auto header = safetensors_header(dir / "model.safetensors");
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  header.erase("__metadata__");

  std::ifstream list(std::string(TESSERA_SOURCE_DIR) + "/tests/checkpoints/data/gpt2_hf_layout.txt");
  std::string line;
  std::size_t expected = 0;
  while (std::getline(list, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, dtype, dims;
    fields >> name >> dtype >> dims;
    std::vector<std::int64_t> shape;
    std::istringstream d(dims);
    for (std::string x; std::getline(d, x, ',');) shape.push_back(std::stoll(x));
    ++expected;
    ASSERT_TRUE(header.contains(name)) << name;
    EXPECT_EQ(header[name]["dtype"], dtype) << name;
    EXPECT_EQ(header[name]["shape"].get<std::vector<std::int64_t>>(), shape) << name;
  }
  EXPECT_EQ(expected, 148u);
  EXPECT_EQ(header.size(), expected);  // nothing beyond GPT-2's tensors

  std::ifstream config_file(dir / "config.json");
  const auto cfg = nlohmann::json::parse(config_file);
  EXPECT_EQ(cfg["model_type"], "gpt2");
  EXPECT_EQ(cfg["architectures"][0], "GPT2LMHeadModel");
  EXPECT_EQ(cfg["vocab_size"], 50257);
  EXPECT_EQ(cfg["n_positions"], 1024);
  EXPECT_EQ(cfg["n_embd"], 768);
  EXPECT_EQ(cfg["n_layer"], 12);
  EXPECT_EQ(cfg["n_head"], 12);
  EXPECT_EQ(cfg["activation_function"], "gelu_new");
  EXPECT_TRUE(cfg["tie_word_embeddings"].get<bool>());
}

// Runs tests/checkpoints/hf_logits.py: Debian's python3-torch computes GPT-2's forward
// pass from the exported files alone and compares the logits with ours.
testing::CommandResult python_logits(const std::filesystem::path& export_dir, const std::filesystem::path& tokens,
                                     const std::filesystem::path& logits) {
  return testing::run_command("/usr/bin/python3 " + std::string(TESSERA_SOURCE_DIR) + "/tests/checkpoints/hf_logits.py " +
                              export_dir.string() + " " + tokens.string() + " " + logits.string() + " 2>&1");
}

// The logits computed from the exported file by an independent GPT-2 forward pass match
// Tessera's on a fixed input. Every parameter is perturbed first, biases and norms
// included, so that a transposed square weight or a dropped bias would show. The same
// check on an export with attn.c_proj left in torch's layout must fail.
TEST(HfExport, LogitsFromTheExportedFileMatchTessera) {
  const auto config = *model::preset("nano");
  model::GPT gpt = model::make_gpt(config, 4);
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(11);
    for (auto& [name, p] : gpt->named_params()) p.add_(torch::randn_like(p) * 0.2);
  }
  std::vector<std::int64_t> tokens;
  for (char c : std::string("Tessera exports GPT-2.")) tokens.push_back(static_cast<unsigned char>(c));
  const auto input = torch::tensor(tokens, torch::kLong);
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = gpt->forward(input.unsqueeze(0)).squeeze(0).contiguous();
  }
  testing::TempDir dir;
  auto write_raw = [](const std::filesystem::path& path, const torch::Tensor& t) {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  };
  write_raw(dir / "tokens.bin", input);
  write_raw(dir / "logits.bin", logits);
  ASSERT_TRUE(write_hf_gpt2(dir / "hf", params_of(gpt), config.n_head).ok());
  auto r = python_logits(dir / "hf", dir / "tokens.bin", dir / "logits.bin");
  ASSERT_EQ(r.exit_code, 0) << "python3-torch (scripts/install-deps.sh) found the logits differ:\n" << r.output;
  EXPECT_NE(r.output.find("max |logit difference|"), std::string::npos) << r.output;

  // attn.c_proj is square: without its transpose the names and shapes still fit.
  auto hf = encode_hf_gpt2(params_of(gpt), config.n_head);
  ASSERT_TRUE(hf.ok());
  for (auto& [name, t] : hf->tensors) {
    if (name == "transformer.h.1.attn.c_proj.weight") t = t.t().contiguous();
  }
  ASSERT_TRUE(write_safetensors(dir / "hf" / "model.safetensors", hf->tensors, {{"format", "pt"}}).ok());
  r = python_logits(dir / "hf", dir / "tokens.bin", dir / "logits.bin");
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

}  // namespace
}  // namespace tessera::checkpoints
