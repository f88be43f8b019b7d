// Text generation from a GPT: autoregressive sampling with temperature and top-k, seeded
// by our portable RNG so that a fixed seed gives the same tokens on every machine with the
// same logits. Each step runs the model over the last context_length tokens (no key/value
// cache: generation is a user tool, not a hot path).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/rng.h"
#include "core/status.h"
#include "model/gpt.h"

namespace tessera::model {

struct SamplingOptions {
  int max_tokens = 200;
  double temperature = 0.8;  // 0: greedy (the argmax; ties go to the lowest id)
  int top_k = 40;            // sample among the k most likely tokens; 0: all of them
  std::uint64_t seed = 0;
  // Only ids below this are sampled (0: the whole vocabulary). The byte tokenizer uses
  // ids 0-255; a preset with a larger vocabulary never trained the ids above.
  int vocab_limit = 0;
};

// The next token after `logits` ([vocab], any device) under `options`, drawing from
// `rng` unless greedy. An error for a non-finite logit or bad options.
Result<std::int64_t> sample_token(const torch::Tensor& logits, const SamplingOptions& options, Rng& rng);

// Appends up to options.max_tokens tokens to `prompt` (non-empty), calling on_token with
// each as it is chosen (it returns false to stop early). Returns the tokens generated.
Result<std::vector<std::int64_t>> generate(GPT& model, const std::vector<std::int64_t>& prompt,
                                           const SamplingOptions& options,
                                           const std::function<bool(std::int64_t)>& on_token = {});

}  // namespace tessera::model
