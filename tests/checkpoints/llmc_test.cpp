// llm.c export: header fields, total size by llm.c's parameter-count formula, and tensors
// at the offsets llm.c reads them from.
#include <gtest/gtest.h>

#include <cstring>

#include "checkpoints/llmc.h"
#include "model/gpt.h"

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

}  // namespace
}  // namespace tessera::checkpoints
