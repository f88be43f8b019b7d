// Prints one hash over the results of the CPU arithmetic that consensus depends on: the
// inverse DCT a decoder runs, the merge of several deltas and an outer Nesterov step.
// CMake builds it several times from the same sources with different code-generation
// flags (tests/CMakeLists.txt); tests/consensus/reproducibility_test.cpp compares their
// output. Inputs come from core's specified PRNG, never from torch's.
#include <cmath>
#include <cstdio>
#include <vector>

#include "gradients/merge.h"
#include "aggregator/outer.h"
#include "core/hash.h"
#include "core/rng.h"
#include "kernels/dct.h"

namespace {

using tessera::Rng;

float gaussian(Rng& rng) {  // Box–Muller in double, rounded once
  const double u = std::max(rng.uniform_double(), 1e-300), v = rng.uniform_double();
  return static_cast<float>(std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v) * 0.01);
}

void append(std::string* out, const float* p, std::size_t n) {
  out->append(reinterpret_cast<const char*>(p), n * sizeof(float));
}

}  // namespace

int main() {
  namespace agg = tessera::aggregator;
  namespace grad = tessera::gradients;
  Rng rng(20261204);
  std::string bytes;

  // Inverse and forward DCT on 64×64, 32×48 and 7×5 blocks.
  for (auto [rows, cols] : {std::pair{64, 64}, std::pair{32, 48}, std::pair{7, 5}}) {
    std::vector<float> blocks(static_cast<std::size_t>(rows * cols) * 3);
    for (auto& v : blocks) v = gaussian(rng);
    if (!tessera::kernels::dct_blocks_cpu(blocks.data(), 3, rows, cols, true)) return 2;
    append(&bytes, blocks.data(), blocks.size());
    if (!tessera::kernels::dct_blocks_cpu(blocks.data(), 3, rows, cols, false)) return 2;
    append(&bytes, blocks.data(), blocks.size());
  }

  // Four deltas over two parameters, sparse and dense, one far larger (it gets clipped).
  const std::vector<std::vector<std::int64_t>> shapes = {{96, 64}, {512}};
  std::vector<grad::DecodedDelta> deltas(4);
  for (std::size_t d = 0; d < deltas.size(); ++d) {
    grad::TensorUpdate sparse;
    sparse.param_index = 0;
    std::vector<std::int64_t> idx;
    for (std::int64_t i = static_cast<std::int64_t>(d); i < 96 * 64; i += 3 + static_cast<std::int64_t>(rng.uniform(5))) idx.push_back(i);
    sparse.flat_index = torch::tensor(idx, torch::kLong);
    sparse.values = torch::empty({static_cast<std::int64_t>(idx.size())}, torch::kFloat);
    for (std::int64_t i = 0; i < sparse.values.numel(); ++i) sparse.values.data_ptr<float>()[i] = gaussian(rng) * (d == 3 ? 50.0f : 1.0f);
    grad::TensorUpdate dense;
    dense.param_index = 1;
    dense.dense = torch::empty({512}, torch::kFloat);
    for (std::int64_t i = 0; i < 512; ++i) dense.dense.data_ptr<float>()[i] = gaussian(rng);
    deltas[d].tensors = {sparse, dense};
  }
  std::vector<const grad::DecodedDelta*> pointers;
  for (const auto& d : deltas) pointers.push_back(&d);
  tessera::gradients::MergeStats stats;
  auto merged = tessera::gradients::merge_deltas(pointers, shapes, 0.0, &stats);
  if (!merged.ok()) return 3;
  for (const auto& t : *merged) append(&bytes, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()));

  std::vector<torch::Tensor> params;
  for (const auto& shape : shapes) {
    params.push_back(torch::empty(shape, torch::kFloat));
    for (std::int64_t i = 0; i < params.back().numel(); ++i) params.back().data_ptr<float>()[i] = gaussian(rng);
  }
  // The outer step as the aggregator takes it: Nesterov with a momentum warm-up and the
  // norm rescale, a fresh optimizer per window restored from the last one's buffers.
  tessera::OuterSpec outer_spec{"nesterov", 0.7, 0.9};
  outer_spec.warmup_windows = 2;
  outer_spec.rescale = "norm";
  const auto scales = agg::rescale_factors(outer_spec, *merged, stats, grad::ParamGroups::whole(shapes.size()));
  for (float f : scales) append(&bytes, &f, 1);
  std::vector<torch::Tensor> buffers;
  for (int step = 0; step < 3; ++step) {
    auto outer = agg::OuterOptimizer::from_spec(outer_spec, static_cast<std::uint64_t>(step));
    if (!outer.ok() || (!buffers.empty() && !outer->restore(buffers, params).ok())) return 4;
    if (!outer->step(params, *merged, {}, scales).ok()) return 4;
    buffers = outer->momentum_buffers();
  }
  for (const auto& t : params) append(&bytes, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()));
  for (const auto& t : buffers) append(&bytes, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()));

  std::printf("%s\n", tessera::to_hex(tessera::blake2b_256(bytes)).c_str());
  return 0;
}
