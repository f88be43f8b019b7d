#include "model/gpt.h"

#include <cmath>

#include "core/hash.h"

namespace tessera::model {

namespace nn = torch::nn;

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const ModelConfig& c) : n_head_(c.n_head) {
  c_attn_ = register_module("c_attn", nn::Linear(c.d_model, 3 * c.d_model));
  c_proj_ = register_module("c_proj", nn::Linear(c.d_model, c.d_model));
  causal_mask_ = register_buffer(
      "causal_mask",
      torch::ones({c.context_length, c.context_length}, torch::kBool).triu(/*diagonal=*/1));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x) {
  const auto B = x.size(0), T = x.size(1), C = x.size(2);
  const auto head_dim = C / n_head_;
  auto qkv = c_attn_(x).view({B, T, 3, n_head_, head_dim}).permute({2, 0, 3, 1, 4});
  auto q = qkv[0], k = qkv[1], v = qkv[2];  // [B, H, T, hd]
  auto att = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(head_dim)));
  att = att.masked_fill(causal_mask_.slice(0, 0, T).slice(1, 0, T),
                        -std::numeric_limits<float>::infinity());
  att = torch::softmax(att, -1);
  auto y = torch::matmul(att, v).transpose(1, 2).reshape({B, T, C});
  return c_proj_(y);
}

MlpImpl::MlpImpl(const ModelConfig& c) {
  c_fc_ = register_module("c_fc", nn::Linear(c.d_model, 4 * c.d_model));
  c_proj_ = register_module("c_proj", nn::Linear(4 * c.d_model, c.d_model));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return c_proj_(torch::gelu(c_fc_(x), "tanh"));
}

BlockImpl::BlockImpl(const ModelConfig& c) {
  ln_1_ = register_module("ln_1", nn::LayerNorm(nn::LayerNormOptions({c.d_model})));
  attn_ = register_module("attn", CausalSelfAttention(c));
  ln_2_ = register_module("ln_2", nn::LayerNorm(nn::LayerNormOptions({c.d_model})));
  mlp_ = register_module("mlp", Mlp(c));
}

torch::Tensor BlockImpl::forward(torch::Tensor x) {
  x = x + attn_(ln_1_(x));
  return x + mlp_(ln_2_(x));
}

GPTImpl::GPTImpl(const ModelConfig& c) : config_(c) {
  wte_ = register_module("wte", nn::Embedding(c.vocab_size, c.d_model));
  wpe_ = register_module("wpe", nn::Embedding(c.context_length, c.d_model));
  h_ = register_module("h", nn::ModuleList());
  for (int i = 0; i < c.n_layer; ++i) h_->push_back(Block(c));
  ln_f_ = register_module("ln_f", nn::LayerNorm(nn::LayerNormOptions({c.d_model})));
}

torch::Tensor GPTImpl::forward(const torch::Tensor& tokens) {
  const auto T = tokens.size(1);
  TORCH_CHECK(T <= config_.context_length, "sequence length ", T, " exceeds context length ",
              config_.context_length);
  auto positions = torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(tokens.device()));
  auto x = wte_(tokens) + wpe_(positions);
  for (auto& block : *h_) x = block->as<Block>()->forward(x);
  x = ln_f_(x);
  return torch::matmul(x, wte_->weight.t());  // tied head
}

torch::Tensor GPTImpl::loss(const torch::Tensor& tokens, const torch::Tensor& targets) {
  auto logits = forward(tokens);
  return torch::nn::functional::cross_entropy(logits.view({-1, logits.size(-1)}), targets.reshape({-1}));
}

std::vector<std::pair<std::string, torch::Tensor>> GPTImpl::named_params() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

namespace {
std::uint64_t parameter_seed(std::uint64_t seed, const std::string& name) {
  Hash256 h = Blake2b256().update("tessera/init/v1").update_u64(seed).update(name).finish();
  std::uint64_t s = 0;
  for (int i = 0; i < 8; ++i) s |= static_cast<std::uint64_t>(h[i]) << (8 * i);
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

GPT make_gpt(const ModelConfig& config, std::uint64_t seed) {
  GPT model(config);
  torch::NoGradGuard no_grad;
  const double residual_std = 0.02 / std::sqrt(2.0 * config.n_layer);
  for (auto& [name, p] : model->named_params()) {
    auto gen = at::detail::createCPUGenerator(parameter_seed(seed, name));
    const bool is_norm = name.find("ln_") != std::string::npos;
    if (is_norm) {
      p.fill_(ends_with(name, ".weight") ? 1.0 : 0.0);
    } else if (ends_with(name, ".bias")) {
      p.zero_();
    } else if (ends_with(name, "c_proj.weight")) {
      p.normal_(0.0, residual_std, gen);
    } else {
      p.normal_(0.0, 0.02, gen);
    }
  }
  return model;
}

std::string parameters_digest(const GPT& model) {
  Blake2b256 h;
  for (const auto& [name, p] : model->named_params()) {
    h.update(name);
    for (auto d : p.sizes()) h.update_u64(static_cast<std::uint64_t>(d));
    auto c = p.detach().to(torch::kCPU, torch::kFloat).contiguous();
    h.update(std::span(reinterpret_cast<const std::uint8_t*>(c.data_ptr<float>()),
                       static_cast<std::size_t>(c.numel()) * sizeof(float)));
  }
  Hash256 digest = h.finish();
  return to_hex(digest);
}

}  // namespace tessera::model
