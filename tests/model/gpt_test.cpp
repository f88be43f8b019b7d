#include "model/gpt.h"

#include <gtest/gtest.h>

namespace tessera::model {
namespace {

ModelConfig nano() { return *preset("nano"); }

TEST(Presets, SizesMatchTheirPurpose) {
  EXPECT_NEAR(static_cast<double>(preset("nano")->parameter_count()), 1e5, 3e4);
  const auto tiny = preset("tiny")->parameter_count();
  EXPECT_GE(tiny, 1'000'000);
  EXPECT_LE(tiny, 3'000'000);
  const auto small = preset("small")->parameter_count();
  EXPECT_GE(small, 10'000'000);
  EXPECT_LE(small, 30'000'000);
  EXPECT_NEAR(static_cast<double>(preset("gpt2-124m")->parameter_count()), 124.4e6, 0.5e6);
  EXPECT_FALSE(preset("giant").ok());
}

TEST(Presets, OverridesAreValidated) {
  ModelSpec spec;
  spec.preset = "nano";
  spec.n_layer = 5;
  EXPECT_EQ(resolve_config(spec)->n_layer, 5);
  spec.n_head = 5;  // 48 % 5 != 0
  EXPECT_FALSE(resolve_config(spec).ok());
  ModelSpec too_many;
  too_many.preset = "nano";
  too_many.shards = 6;  // 3 layers + 2 units
  EXPECT_FALSE(resolve_config(too_many).ok());
}

TEST(Gpt, ParameterCountAndNamesAreStable) {
  auto model = make_gpt(nano(), 1);
  std::int64_t total = 0;
  std::vector<std::string> names;
  for (const auto& [name, p] : model->named_params()) {
    total += p.numel();
    names.push_back(name);
  }
  EXPECT_EQ(total, nano().parameter_count());
  ASSERT_GE(names.size(), 4u);
  EXPECT_EQ(names.front(), "wte.weight");
  EXPECT_EQ(names[1], "wpe.weight");
  EXPECT_EQ(names[2], "h.0.ln_1.weight");
  EXPECT_EQ(names.back(), "ln_f.bias");
  EXPECT_NE(std::find(names.begin(), names.end(), "h.2.attn.c_attn.weight"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "h.1.mlp.c_proj.bias"), names.end());
}

TEST(Gpt, SameSeedBitIdenticalDifferentSeedDifferent) {
  auto a = make_gpt(nano(), 7);
  auto b = make_gpt(nano(), 7);
  auto c = make_gpt(nano(), 8);
  EXPECT_EQ(parameters_digest(a), parameters_digest(b));
  EXPECT_NE(parameters_digest(a), parameters_digest(c));
  auto pa = a->named_params(), pb = b->named_params();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first;
}

TEST(Gpt, InitFollowsGpt2Scheme) {
  auto model = make_gpt(*preset("tiny"), 3);
  for (const auto& [name, p] : model->named_params()) {
    if (name == "ln_f.weight") {
      EXPECT_TRUE(torch::all(p == 1).item<bool>());
    } else if (name == "h.0.attn.c_attn.bias") {
      EXPECT_TRUE(torch::all(p == 0).item<bool>());
    } else if (name == "wte.weight") {
      EXPECT_NEAR(p.std().item<double>(), 0.02, 0.002);
    } else if (name == "h.0.mlp.c_proj.weight") {
      EXPECT_NEAR(p.std().item<double>(), 0.02 / std::sqrt(12.0), 0.001);
    }
  }
}

TEST(Gpt, ForwardShapesAndCausality) {
  auto model = make_gpt(nano(), 1);
  model->eval();
  auto tokens = torch::randint(0, 256, {2, 16}, torch::kLong);
  auto logits = model->forward(tokens);
  EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{2, 16, 256}));
  // Changing a later token must not change earlier logits.
  auto altered = tokens.clone();
  altered.index_put_({0, 10}, (tokens.index({0, 10}).item<std::int64_t>() + 1) % 256);
  auto logits2 = model->forward(altered);
  EXPECT_TRUE(torch::allclose(logits.index({0, torch::indexing::Slice(0, 10)}),
                              logits2.index({0, torch::indexing::Slice(0, 10)})));
  EXPECT_FALSE(torch::allclose(logits.index({0, 10}), logits2.index({0, 10})));
  // Initial loss is close to ln(vocab) for a freshly initialised model.
  auto targets = torch::randint(0, 256, {2, 16}, torch::kLong);
  auto loss = model->loss(tokens, targets).item<double>();
  EXPECT_NEAR(loss, std::log(256.0), 0.3);
}

}  // namespace
}  // namespace tessera::model
