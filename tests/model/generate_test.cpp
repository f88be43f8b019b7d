// Generation: a fixed seed gives the same tokens; greedy decoding follows the model's
// argmax; sampling honours top-k and the vocabulary limit; bad input is refused.
#include <gtest/gtest.h>

#include <set>

#include "model/generate.h"

namespace tessera::model {
namespace {

TEST(Generate, FixedSeedGivesTheSameTokensAndOtherSeedsDiffer) {
  GPT gpt = make_gpt(*preset("nano"), 3);
  const std::vector<std::int64_t> prompt = {'T', 'h', 'e', ' '};
  SamplingOptions o;
  o.max_tokens = 40;
  o.temperature = 1.0;
  o.top_k = 0;
  o.seed = 7;
  auto a = generate(gpt, prompt, o);
  auto b = generate(gpt, prompt, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 40u);
  EXPECT_EQ(*a, *b);
  o.seed = 8;
  auto c = generate(gpt, prompt, o);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);  // an untrained model spreads its probability over 256 tokens
}

TEST(Generate, GreedyFirstTokenIsTheArgmaxAndRespectsTheVocabularyLimit) {
  GPT gpt = make_gpt(*preset("nano"), 5);
  const std::vector<std::int64_t> prompt = {'a', 'b', 'c'};
  torch::Tensor last;
  {
    torch::NoGradGuard no_grad;
    last = gpt->forward(torch::tensor(prompt, torch::kLong).unsqueeze(0)).select(0, 0).select(0, -1);
  }
  SamplingOptions o;
  o.max_tokens = 1;
  o.temperature = 0;
  auto greedy = generate(gpt, prompt, o);
  ASSERT_TRUE(greedy.ok());
  EXPECT_EQ(greedy->at(0), last.argmax().item<std::int64_t>());
  // Limited to ids below the argmax, greedy picks the best of those.
  const std::int64_t best = last.argmax().item<std::int64_t>();
  if (best > 0) {
    o.vocab_limit = static_cast<int>(best);
    auto limited = generate(gpt, prompt, o);
    ASSERT_TRUE(limited.ok());
    EXPECT_EQ(limited->at(0), last.narrow(0, 0, best).argmax().item<std::int64_t>());
  }
}

TEST(Generate, TopKSamplesOnlyAmongTheKMostLikely) {
  const torch::Tensor logits = torch::tensor({0.0, 5.0, 1.0, 4.9, -3.0}, torch::kFloat);
  SamplingOptions o;
  o.temperature = 5.0;  // flat enough that every token would be drawn without top-k
  o.top_k = 2;
  Rng rng(1);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 400; ++i) seen.insert(*sample_token(logits, o, rng));
  EXPECT_EQ(seen, (std::set<std::int64_t>{1, 3}));
  o.top_k = 0;
  seen.clear();
  for (int i = 0; i < 400; ++i) seen.insert(*sample_token(logits, o, rng));
  EXPECT_EQ(seen.size(), 5u);
}

TEST(Generate, RefusesBadInput) {
  GPT gpt = make_gpt(*preset("nano"), 1);
  SamplingOptions o;
  EXPECT_FALSE(generate(gpt, {}, o).ok());
  EXPECT_FALSE(generate(gpt, {300}, o).ok());
  Rng rng(1);
  EXPECT_FALSE(sample_token(torch::tensor({0.0f, NAN}), o, rng).ok());
  o.temperature = -1;
  EXPECT_FALSE(sample_token(torch::tensor({0.0, 1.0}), o, rng).ok());
}

}  // namespace
}  // namespace tessera::model
