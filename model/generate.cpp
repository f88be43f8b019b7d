#include "model/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace tessera::model {

Result<std::int64_t> sample_token(const torch::Tensor& logits, const SamplingOptions& options, Rng& rng) {
  if (logits.dim() != 1 || logits.size(0) == 0) return InvalidArgument("sampling needs one row of logits");
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature)) {
    return InvalidArgument("temperature must be a finite number >= 0");
  }
  if (options.top_k < 0) return InvalidArgument("top-k must be >= 0");
  torch::Tensor row = logits.detach().to(torch::kCPU, torch::kDouble).contiguous();
  std::int64_t n = row.size(0);
  if (options.vocab_limit > 0) n = std::min<std::int64_t>(n, options.vocab_limit);
  const double* l = row.data_ptr<double>();
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(l[i])) return InvalidArgument("the model produced a non-finite logit for token " + std::to_string(i));
  }
  if (options.temperature == 0) return std::max_element(l, l + n) - l;  // first maximum
  // Candidates by falling logit, ties by rising id: the order is fully specified.
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  const std::size_t k = options.top_k > 0 ? std::min<std::size_t>(static_cast<std::size_t>(options.top_k), ids.size()) : ids.size();
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](std::int64_t a, std::int64_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  std::vector<double> weights(k);
  double total = 0;
  for (std::size_t i = 0; i < k; ++i) total += weights[i] = std::exp((l[ids[i]] - l[ids[0]]) / options.temperature);
  double u = rng.uniform_double() * total;
  for (std::size_t i = 0; i < k; ++i) {
    if (u < weights[i]) return ids[i];
    u -= weights[i];
  }
  return ids[k - 1];  // rounding left u just above the last weight
}

Result<std::vector<std::int64_t>> generate(GPT& model, const std::vector<std::int64_t>& prompt,
                                           const SamplingOptions& options,
                                           const std::function<bool(std::int64_t)>& on_token) {
  const auto& config = model->config();
  if (prompt.empty()) return InvalidArgument("generation needs a prompt of at least one token");
  for (auto t : prompt) {
    if (t < 0 || t >= config.vocab_size) return InvalidArgument("prompt token " + std::to_string(t) + " is outside the vocabulary");
  }
  if (options.max_tokens < 0) return InvalidArgument("max-tokens must be >= 0");
  torch::NoGradGuard no_grad;
  model->eval();
  Rng rng = Rng::derive("tessera-generate", options.seed);
  std::vector<std::int64_t> context = prompt, out;
  for (int step = 0; step < options.max_tokens; ++step) {
    const std::size_t from = context.size() > static_cast<std::size_t>(config.context_length)
                                 ? context.size() - static_cast<std::size_t>(config.context_length)
                                 : 0;
    std::vector<std::int64_t> window(context.begin() + static_cast<std::ptrdiff_t>(from), context.end());
    torch::Tensor tokens = torch::tensor(window, torch::kLong).unsqueeze(0).to(model->device());
    torch::Tensor logits = model->forward(tokens).select(0, 0).select(0, -1);
    TESSERA_ASSIGN_OR_RETURN(std::int64_t next, sample_token(logits, options, rng));
    context.push_back(next);
    out.push_back(next);
    if (on_token && !on_token(next)) break;
  }
  return out;
}

}  // namespace tessera::model
