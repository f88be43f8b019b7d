// A GPT-style decoder in libtorch: token + position embeddings, pre-LayerNorm blocks
// (causal self-attention, GELU MLP), final LayerNorm, language-model head tied to the
// token embedding.
//
// Parameter names follow GPT-2 ("wte.weight", "h.3.attn.c_attn.weight", "ln_f.bias") and
// their order is fixed by construction, so names and order are the same on every
// machine. Linear weights are stored [out, in] as torch does.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"

namespace tessera::model {

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int n_head_;
  torch::nn::Linear c_attn_{nullptr}, c_proj_{nullptr};
  torch::Tensor causal_mask_;  // [ctx, ctx] bool, true above the diagonal (masked)
};
TORCH_MODULE(CausalSelfAttention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear c_fc_{nullptr}, c_proj_{nullptr};
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::LayerNorm ln_1_{nullptr}, ln_2_{nullptr};
  CausalSelfAttention attn_{nullptr};
  Mlp mlp_{nullptr};
};
TORCH_MODULE(Block);

class GPTImpl : public torch::nn::Module {
 public:
  explicit GPTImpl(const ModelConfig& config);

  // tokens: [B, T] int64 with T <= context_length → logits [B, T, vocab].
  torch::Tensor forward(const torch::Tensor& tokens);
  // Mean next-token cross-entropy of `targets` ([B, T] int64) given `tokens`.
  torch::Tensor loss(const torch::Tensor& tokens, const torch::Tensor& targets);

  const ModelConfig& config() const { return config_; }
  // Where the parameters live (all on one device: the module is moved as a whole).
  torch::Device device() const { return wte_->weight.device(); }
  // (name, tensor) in the fixed order.
  std::vector<std::pair<std::string, torch::Tensor>> named_params() const;

 private:
  ModelConfig config_;
  torch::nn::Embedding wte_{nullptr}, wpe_{nullptr};
  torch::nn::ModuleList h_{nullptr};
  torch::nn::LayerNorm ln_f_{nullptr};
};
TORCH_MODULE(GPT);

// Builds a GPT and initialises it deterministically from `seed` (GPT-2 scheme: N(0, 0.02)
// weights, residual projections scaled by 1/sqrt(2·n_layer), zero biases, unit norms).
// Each parameter draws from its own generator seeded with BLAKE2b(seed, name), so the
// result depends only on (config, seed): same seed → bit-identical parameters.
GPT make_gpt(const ModelConfig& config, std::uint64_t seed);

// BLAKE2b-256 over every parameter's name, shape and float32 bytes, in order.
std::string parameters_digest(const GPT& model);

}  // namespace tessera::model
