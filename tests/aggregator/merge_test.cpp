#include "gradients/merge.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "aggregator/outer.h"
#include "gradients/norm.h"

namespace tessera::aggregator {
namespace {

const std::vector<std::vector<std::int64_t>> kShapes = {{8, 6}, {10}};

gradients::TensorUpdate sparse(std::uint32_t param, std::vector<std::int64_t> idx, std::vector<float> vals) {
  gradients::TensorUpdate u;
  u.param_index = param;
  u.flat_index = torch::tensor(idx, torch::kLong);
  u.values = torch::tensor(vals, torch::kFloat);
  return u;
}

gradients::TensorUpdate dense(std::uint32_t param, torch::Tensor t) {
  gradients::TensorUpdate u;
  u.param_index = param;
  u.dense = std::move(t);
  return u;
}

std::vector<gradients::DecodedDelta> deltas() {
  torch::manual_seed(5);
  std::vector<gradients::DecodedDelta> d(3);
  d[0].tensors = {sparse(0, {0, 5, 47}, {1.0f, -2.0f, 0.5f}), sparse(1, {3}, {4.0f})};
  d[1].tensors = {sparse(0, {5, 6}, {3.0f, 1.0f}), sparse(1, {0}, {3.0f})};
  d[2].tensors = {dense(0, torch::randn({8, 6}) * 10), sparse(1, {3, 9}, {-1.0f, 2.0f})};  // the large one
  return d;
}

// The same merge written with dense tensor arithmetic.
std::vector<torch::Tensor> reference(const std::vector<gradients::DecodedDelta>& ds) {
  std::vector<double> norms;
  for (const auto& d : ds) norms.push_back(gradients::delta_norm(d));
  std::vector<double> sorted = norms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];  // odd count
  std::vector<torch::Tensor> sum, count;
  for (const auto& s : kShapes) {
    sum.push_back(torch::zeros(s, torch::kDouble));
    count.push_back(torch::zeros(s, torch::kDouble));
  }
  for (std::size_t k = 0; k < ds.size(); ++k) {
    const double scale = norms[k] > median ? median / norms[k] : 1.0;
    for (const auto& u : ds[k].tensors) {
      const auto shape = kShapes[u.param_index];
      auto full = u.to_dense(shape).to(torch::kDouble);
      auto mask = u.is_dense() ? torch::ones(shape, torch::kDouble)
                               : torch::zeros({full.numel()}, torch::kDouble).index_fill_(0, u.flat_index, 1.0).view(shape);
      sum[u.param_index] += full * scale;
      count[u.param_index] += mask;
    }
  }
  std::vector<torch::Tensor> out;
  for (std::size_t i = 0; i < sum.size(); ++i) out.push_back((sum[i] / count[i].clamp_min(1.0)).to(torch::kFloat));
  return out;
}

std::vector<const gradients::DecodedDelta*> ptrs(const std::vector<gradients::DecodedDelta>& ds) {
  std::vector<const gradients::DecodedDelta*> p;
  for (const auto& d : ds) p.push_back(&d);
  return p;
}

TEST(Merge, MatchesADenseReferenceWithMedianClipAndPerCoordinateMean) {
  const auto ds = deltas();
  gradients::MergeStats stats;
  auto merged = gradients::merge_deltas(ptrs(ds), kShapes, 0.0, &stats);
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  const auto want = reference(ds);
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(torch::allclose((*merged)[i], want[i], 1e-5, 1e-6)) << "parameter " << i;
  }
  EXPECT_EQ(stats.deltas, 3u);
  EXPECT_EQ(stats.clipped, 1u);  // only the large dense delta
  // Each delta's scale, as the merge applied it: clip / norm for the clipped one, else 1.
  ASSERT_EQ(stats.scales.size(), 3u);
  for (std::size_t d = 0; d < 3; ++d) {
    ASSERT_EQ(stats.scales[d].size(), 1u);
    const double want_scale = stats.norms[d] > stats.clip_norm ? stats.clip_norm / stats.norms[d] : 1.0;
    EXPECT_DOUBLE_EQ(stats.scales[d][0], want_scale) << "delta " << d;
  }
  // A coordinate chosen by one (unclipped) miner is not diluted by the others' zeros.
  EXPECT_FLOAT_EQ((*merged)[1][0].item<float>(), 3.0f);
}

TEST(Merge, RejectsUpdatesThatDoNotFitTheModel) {
  std::vector<gradients::DecodedDelta> bad(1);
  bad[0].tensors = {sparse(1, {10}, {1.0f})};
  auto r = gradients::merge_deltas(ptrs(bad), kShapes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not fit"), std::string::npos);
  bad[0].tensors = {sparse(7, {0}, {1.0f})};
  EXPECT_FALSE(gradients::merge_deltas(ptrs(bad), kShapes).ok());
}

// The outer step in words, as manifests and codec_study's study.json record it.
TEST(OuterOptimizer, DescribesItsSpec) {
  OuterSpec spec{"nesterov", 1.0, 0.5};
  EXPECT_EQ(describe_outer(spec), "nesterov lr=1 momentum=0.5");
  spec.warmup_windows = 8;
  spec.rescale = "norm";
  spec.rescale_max = 2.0;
  EXPECT_EQ(describe_outer(spec), "nesterov lr=1 momentum=0.5 warmup=8 rescale=norm:2");
}

TEST(OuterOptimizer, ResumesFromSavedMomentumBitForBit) {
  OuterSpec spec{"nesterov", 0.7, 0.9};
  auto make_params = [] { return std::vector<torch::Tensor>{torch::ones({8, 6}), torch::zeros({10})}; };
  const auto ds = deltas();
  const auto g = *gradients::merge_deltas(ptrs(ds), kShapes);
  auto p1 = make_params();
  auto o1 = *OuterOptimizer::from_spec(spec);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(o1.step(p1, g).ok());
  auto p2 = make_params();
  auto o2 = *OuterOptimizer::from_spec(spec);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(o2.step(p2, g).ok());
  std::vector<torch::Tensor> saved;
  for (const auto& m : o2.momentum_buffers()) saved.push_back(m.clone());
  auto o3 = *OuterOptimizer::from_spec(spec);  // a restarted aggregator
  ASSERT_TRUE(o3.restore(saved, p2).ok());
  ASSERT_TRUE(o3.step(p2, g).ok());
  for (std::size_t i = 0; i < p1.size(); ++i) EXPECT_TRUE(torch::equal(p1[i], p2[i])) << i;
  EXPECT_FALSE(OuterOptimizer::from_spec({"adam", 1, 0}).ok());
  EXPECT_FALSE(o3.restore({torch::zeros({3})}, p2).ok());
}

TEST(OuterOptimizer, MomentumWarmsUpOverTheFirstWindows) {
  OuterSpec spec{"nesterov", 1.0, 0.8};
  spec.warmup_windows = 4;
  for (std::uint64_t t = 0; t < 4; ++t) {
    EXPECT_DOUBLE_EQ(OuterOptimizer::from_spec(spec, t)->momentum(), 0.8 * static_cast<double>(t + 1) / 4.0) << t;
  }
  EXPECT_DOUBLE_EQ(OuterOptimizer::from_spec(spec, 4)->momentum(), 0.8);
  EXPECT_DOUBLE_EQ(OuterOptimizer::from_spec(spec, 1000)->momentum(), 0.8);
  // The first warmed-up step moves less than the unwarmed one: μ/4 of momentum, not μ.
  const auto g = *gradients::merge_deltas(ptrs(deltas()), kShapes);
  auto warm = std::vector<torch::Tensor>{torch::zeros({8, 6}), torch::zeros({10})};
  auto cold = std::vector<torch::Tensor>{torch::zeros({8, 6}), torch::zeros({10})};
  ASSERT_TRUE(OuterOptimizer::from_spec(spec, 0)->step(warm, g).ok());
  OuterSpec no_warmup = spec;
  no_warmup.warmup_windows = 0;
  ASSERT_TRUE(OuterOptimizer::from_spec(no_warmup, 0)->step(cold, g).ok());
  // Nesterov's first step is g + μ·g: (1 + 0.2)·g against (1 + 0.8)·g.
  EXPECT_TRUE(torch::allclose(warm[1], -1.2f * g[1])) << warm[1];
  EXPECT_TRUE(torch::allclose(cold[1], -1.8f * g[1])) << cold[1];
  // A warm-up with momentum 0 still keeps no buffers.
  auto sgd = std::vector<torch::Tensor>{torch::zeros({8, 6}), torch::zeros({10})};
  OuterSpec plain{"sgd", 1.0, 0.0};
  plain.warmup_windows = 4;
  auto o = *OuterOptimizer::from_spec(plain, 0);
  ASSERT_TRUE(o.step(sgd, g).ok());
  EXPECT_TRUE(o.momentum_buffers().empty());
}

TEST(OuterOptimizer, BadWarmupOrRescaleSettingsAreNamed) {
  OuterSpec s{"sgd", 1.0, 0.0};
  s.rescale = "cubic";
  auto r = OuterOptimizer::from_spec(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("outer.rescale = 'cubic'"), std::string::npos) << r.status().message();
  s.rescale = "norm";
  s.rescale_max = 0.5;
  r = OuterOptimizer::from_spec(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("outer.rescale_max"), std::string::npos) << r.status().message();
  s.rescale_max = 2.0;
  s.warmup_windows = -1;
  EXPECT_FALSE(OuterOptimizer::from_spec(s).ok());
  auto params = std::vector<torch::Tensor>{torch::zeros({8, 6}), torch::zeros({10})};
  const auto g = *gradients::merge_deltas(ptrs(deltas()), kShapes);
  auto o = *OuterOptimizer::from_spec({"sgd", 1.0, 0.0});
  EXPECT_FALSE(o.step(params, g, {}, {1.0f}).ok());                                       // wrong count
  EXPECT_FALSE(o.step(params, g, {}, {1.0f, std::numeric_limits<float>::quiet_NaN()}).ok());  // NaN
}

// Two deltas s + n and s − n average to s. With rescale = "norm" the step takes back the
// length of one of them, |s + n| / |s| times the mean, and no more than rescale_max.
TEST(OuterOptimizer, NormRescaleGivesTheMeanTheLengthOfATypicalDelta) {
  std::vector<gradients::DecodedDelta> ds(2);
  const auto sig = torch::full({10}, 1.0f);
  auto noise = torch::zeros({10});
  noise.index_put_({0}, 3.0f);
  noise.index_put_({1}, -3.0f);  // |s + n| = |s − n|: neither is clipped
  ds[0].tensors = {dense(1, sig + noise)};
  ds[1].tensors = {dense(1, sig - noise)};
  gradients::MergeStats stats;
  const auto g = *gradients::merge_deltas(ptrs(ds), kShapes, 0.0, &stats);
  ASSERT_TRUE(torch::allclose(g[1], sig));
  OuterSpec spec{"sgd", 1.0, 0.0};
  const auto groups = gradients::ParamGroups::whole(kShapes.size());
  EXPECT_EQ(rescale_factors(spec, g, stats, groups), (std::vector<float>{1.0f, 1.0f}));  // rescale = "none"
  spec.rescale = "norm";
  spec.rescale_max = 16.0;
  const double expected = std::sqrt(28.0 / 10.0);  // |s + n| = √(4² + 2² + 8·1²) over |s| = √10
  auto f = rescale_factors(spec, g, stats, groups);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_NEAR(f[1], expected, 1e-6);
  EXPECT_EQ(f[0], f[1]);  // one group: one factor
  spec.rescale_max = 1.25;
  EXPECT_FLOAT_EQ(rescale_factors(spec, g, stats, groups)[1], 1.25f);
  // Agreeing deltas are not lengthened; opposite ones (a zero mean) are left alone.
  ds[1].tensors = {dense(1, sig + noise)};
  const auto same = *gradients::merge_deltas(ptrs(ds), kShapes, 0.0, &stats);
  EXPECT_FLOAT_EQ(rescale_factors(spec, same, stats, groups)[1], 1.0f);
  ds[1].tensors = {dense(1, -(sig + noise))};
  const auto zero = *gradients::merge_deltas(ptrs(ds), kShapes, 0.0, &stats);
  EXPECT_FLOAT_EQ(rescale_factors(spec, zero, stats, groups)[1], 1.0f);
  // The step applies the factor to g.
  auto params = std::vector<torch::Tensor>{torch::zeros({8, 6}), torch::zeros({10})};
  spec.rescale_max = 16.0;
  ASSERT_TRUE(OuterOptimizer::from_spec(spec)->step(params, g, {}, rescale_factors(spec, g, stats, groups)).ok());
  EXPECT_TRUE(torch::allclose(params[1], -static_cast<float>(expected) * sig)) << params[1];
}

}  // namespace
}  // namespace tessera::aggregator
