// Codec training study: does compression hurt training? Runs the run spec's
// decentralised loop in one process — M miners, W windows of H inner AdamW steps on
// their assigned pages, pseudo-gradients merged (clip to median norm, mean per
// coordinate) and applied by the outer optimizer — once with dense fp32 deltas and once
// per codec preset with error feedback, all from the same initial model, pages and
// batches. Prints JSON: final validation loss per configuration and its ratio to dense.
// The preset `centralized` adds `tessera train` on the same total tokens (the spec's
// centralized batch, 8 on tiny); `sync-dp` is synchronous data parallel on the same
// tokens: one model, one step per inner step of the miners, batch = miners × batch (32
// with 4 miners of 8). Every run is measured on the run's validation batches (those of
// the baseline and `tessera demo`).
//
// A study: `--seeds 1,2,3` repeats every preset per run seed (initial model, pages,
// batches, validation batches), and `--out DIR` writes study.json (every run with its
// curve of validation loss against tokens, and per preset the mean and spread over the
// seeds and the gap to sync-dp), study.md (the table) and study.svg (the mean curves).
//
//   build/bench/codec_study --spec examples/tiny.toml --windows 30 --miners 2
//       --presets dense,int2-k32,fp16-k32,sign-k32,sign-k8   (one line)
//   build/bench/codec_study --spec examples/tiny.toml --windows 12 --miners 4 --seeds 1,2,3
//       --presets int2-k32,dense,centralized,sync-dp --out study/   (bench/README.md)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <cmath>
#include <filesystem>
#include <optional>
#include <sstream>

#include "bench/collective_adamw.h"
#include "gradients/merge.h"
#include "aggregator/outer.h"
#include "core/chart.h"
#include "core/file_io.h"
#include "core/run_spec.h"
#include "dataset/token_dataset.h"
#include "gradients/error_feedback.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "model/runtime.h"
#include "trainer/baseline.h"
#include "trainer/inner_loop.h"
#include "trainer/lr_schedule.h"
#include "trainer/optim.h"

using namespace tessera;

namespace {

struct Options {
  std::string spec = "examples/tiny.toml";
  int windows = 30;
  int miners = 2;
  int threads = 0;
  double ef_beta = -1.0;    // overrides of the spec, for tuning
  double outer_lr = -1.0;
  double outer_momentum = -1.0;
  std::string outer;         // "kind:lr:momentum": the codec presets' outer step instead of the spec's
  int outer_warmup = -1;     // outer.warmup_windows for every preset with an outer step but dense-sgd
  std::string outer_rescale;  // "none" | "norm" | "norm:MAX": outer.rescale(_max), likewise
  std::string dense_outer = "nesterov:0.7:0.9";  // DiLoCo's outer step for the dense runs
  std::string whole_outer;  // "kind:lr:momentum": another outer step for the parameters a codec sends whole
  std::vector<std::string> presets = {"dense", "dense-sgd", "int2-k32", "int2-k32-dct", "fp16-k32", "sign-k32", "sign-k8"};
  std::vector<std::uint64_t> seeds;  // empty: the spec's run seed
  std::string out;                   // a folder for study.json / .md / .svg ("": print JSON only)
  int eval_every = 5;                // windows between validation points of a subnet run
  // Overlapped windows (docs/architecture.md): each miner trains window w ≥ 1 from
  // C_{w−1} for this many inner steps, then rebases onto C_w (0: no overlap; H: the
  // whole window from C_{w−1}, rebased after the last step).
  int overlap_steps = 0;
  // Where an overlapped window starts: local (θ_end of the miner's last window) |
  // checkpoint (C_{w−1}) | extrapolate (C_{w−1} + (C_{w−1} − C_{w−2})).
  std::string overlap_from = "local";
  // Inner-optimizer statistics shared through the outer step: after every window each
  // miner's AdamW moments are replaced by the miners' mean (none | v: the second moment
  // only | m: the first only | mv: both), or (m0) each miner's first moment is zeroed at
  // the start of every window. A study lever: the subnet's protocol does not carry them.
  std::string share_inner = "none";
  // The miners' inner optimizer: adamw (the subnet's) | collective (bench/collective_adamw.h,
  // normalised for the miners' combined batch).
  std::string inner = "adamw";
  // Per-coordinate averaging weights from the senders' agreement: the merged update is
  // multiplied by 1 + α·|Σ sign(Δ_i)| / M per coordinate (0: plain mean). A study lever.
  double agree_boost = 0.0;
  // Per-coordinate averaging weights from the senders' spread (coord | tensor | wiener; "":
  // the plain mean). With m, s² and n the mean, variance and count of the (clipped) values
  // the deltas sent for a coordinate (n ≥ 2): `coord` scales the mean by
  // √(1 + (1 − 1/n)·s²/m²), at most √n. A miner's AdamW divides by its own batch's noise, so
  // where the miners disagree (noise-dominated coordinates) each step carries 1/√n of the
  // signal a step on the combined batch would, and averaging keeps that; this lengthens
  // those coordinates towards the combined batch's step. `tensor` takes the sums over each
  // tensor; `wiener` shrinks instead, by m²/(m² + s²/n), the noise taken out of the mean.
  // A study lever.
  std::string spread_boost;
  // What each coordinate's mean divides by: `senders`, the deltas that sent it (the
  // aggregator's merge), or `all`, every delta of the window, an unsent coordinate
  // counting as 0. With error feedback an unsent value is held back, not dropped: a
  // coordinate that the miners send in different windows moves by each one's whole
  // residual under `senders`, up to M times what the dense mean moves it. A study lever.
  std::string merge_mean = "senders";
  // Parameters a codec preset encodes otherwise: "MATCH=CODEC" items, MATCH a substring of
  // the parameter's name ("wte", "ln_") or `1d` (every 1-D parameter: biases and LayerNorm
  // gains), CODEC a codec preset ("int2-k512", each with its own error feedback) or
  // `dense` (fp32, as sent). The first matching item wins; the rest take the run's preset.
  // Attributes the codec's cost to the parameters it compresses. A study lever.
  std::vector<std::string> param_codec;
  double inner_lr = -1.0;     // train.lr for every preset (the miners' and the baselines')
  double baseline_lr = -1.0;  // train.lr for centralized, sync-dp and sync-dp-pages only
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// "nesterov:0.7:0.9" → the optimizer, lr and momentum of `base`.
Result<OuterSpec> parse_outer(const std::string& text, OuterSpec base = {}) {
  const auto a = text.find(':'), b = text.rfind(':');
  if (a == std::string::npos || a == b) return InvalidArgument("outer step '" + text + "' must be kind:lr:momentum");
  try {
    base.optimizer = text.substr(0, a);
    base.lr = std::stod(text.substr(a + 1, b - a - 1));
    base.momentum = std::stod(text.substr(b + 1));
    return base;
  } catch (const std::exception&) {
    return InvalidArgument("outer step '" + text + "' has a bad number");
  }
}

// The warm-up and rescale overrides of the command line, on any outer step.
Result<OuterSpec> with_overrides(OuterSpec o, const Options& opt) {
  if (opt.outer_warmup >= 0) o.warmup_windows = opt.outer_warmup;
  if (!opt.outer_rescale.empty()) {
    const auto colon = opt.outer_rescale.find(':');
    o.rescale = opt.outer_rescale.substr(0, colon);
    try {
      if (colon != std::string::npos) o.rescale_max = std::stod(opt.outer_rescale.substr(colon + 1));
    } catch (const std::exception&) {
      return InvalidArgument("--outer-rescale '" + opt.outer_rescale + "' has a bad number");
    }
  }
  TESSERA_RETURN_IF_ERROR(aggregator::OuterOptimizer::from_spec(o).status());
  return o;
}

struct Outcome {
  double final_val_loss = 0.0;
  double bytes_per_submission = 0.0;
  std::vector<double> val_curve;
  std::vector<std::pair<double, double>> curve;  // (tokens trained, validation loss), from 0
  std::vector<double> rescale;  // outer.rescale = "norm": each window's factor
  double seconds = 0.0;
};

// Whether a subnet-shaped run (the windows of the subnet, or of sync-dp-pages) measures
// the validation loss after window `w`: every eval_every windows and after the last.
bool is_eval_window(const Options& opt, int w) { return (w + 1) % opt.eval_every == 0 || w + 1 == opt.windows; }

// One point of such a run's curve, after window `w`, printed as it is taken.
void record_point(Outcome* outcome, const Options& opt, const std::string& preset, int w, double tokens_per_window,
                  double val) {
  outcome->val_curve.push_back(val);
  outcome->curve.emplace_back(tokens_per_window * (w + 1), val);
  std::fprintf(stderr, "  %-14s window %3d/%d  val loss %.4f\n", preset.c_str(), w + 1, opt.windows, val);
}

// Replaces every miner's AdamW second moment (and, with `first`, its first moment) by the
// miners' mean, parameter by parameter (the models share one parameter order). The miners
// train with torch's AdamW (parse_args refuses --share-inner with --inner collective).
template <typename Miner>
void share_inner_state(std::vector<Miner>& miners, bool first, bool second) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<torch::optim::AdamWParamState*>> states;
  for (auto& m : miners) {
    std::vector<torch::optim::AdamWParamState*> own;
    for (const auto& group : m.optimizer->param_groups()) {
      for (const auto& p : group.params()) {
        auto it = m.optimizer->state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
        own.push_back(it == m.optimizer->state().end() ? nullptr
                                                       : static_cast<torch::optim::AdamWParamState*>(it->second.get()));
      }
    }
    states.push_back(std::move(own));
  }
  for (std::size_t i = 0; i < states[0].size(); ++i) {
    bool all = true;
    for (const auto& own : states) all = all && own[i] != nullptr;
    if (!all) continue;
    auto v = torch::zeros_like(states[0][i]->exp_avg_sq());
    auto m = torch::zeros_like(states[0][i]->exp_avg());
    for (const auto& own : states) {
      v += own[i]->exp_avg_sq() / static_cast<double>(states.size());
      m += own[i]->exp_avg() / static_cast<double>(states.size());
    }
    for (auto& own : states) {
      if (second) own[i]->exp_avg_sq().copy_(v);
      if (first) own[i]->exp_avg().copy_(m);
    }
  }
}

// Zeroes an AdamW's first moment (the step count, and so the bias correction, go on).
void zero_first_moment(torch::optim::Optimizer& optimizer) {
  torch::NoGradGuard no_grad;
  for (auto& [key, state] : optimizer.state()) static_cast<torch::optim::AdamWParamState&>(*state).exp_avg().zero_();
}

Result<Outcome> run_config(const RunSpec& spec, const model::ModelConfig& config, const Options& opt,
                           const std::string& preset, const dataset::TokenDataset& train,
                           const std::vector<std::pair<torch::Tensor, torch::Tensor>>& val_batches) {
  const auto t0 = std::chrono::steady_clock::now();
  const double tokens_per_sequence = spec.train.seq_len;
  if (preset == "centralized" || preset == "sync-dp") {
    // `tessera train` on the same total tokens (miners × windows × H steps of the
    // miners' batch, in steps of the baseline's batch), its cosine schedule over that
    // length; measured on the run's validation batches, like every run of the study.
    // sync-dp: the batch of all miners together, one step per inner step.
    RunSpec base = spec;
    if (preset == "sync-dp") base.train.baseline_batch_size = opt.miners * spec.train.batch_size;
    const long batch = base.train.centralized_batch();
    trainer::BaselineOptions bo;
    const long sequences = static_cast<long>(opt.miners) * opt.windows * spec.train.inner_steps * spec.train.batch_size;
    if (sequences % batch != 0) {
      return InvalidArgument("the miners' " + std::to_string(sequences) + " sequences are not a whole number of baseline batches of " +
                             std::to_string(batch));
    }
    bo.steps = sequences / batch;
    bo.threads = opt.threads;
    base.train.eval_every = static_cast<int>(std::max<long>(1, bo.steps / 12));
    Outcome outcome;
    TESSERA_ASSIGN_OR_RETURN(auto r, trainer::train_baseline(base, bo, [&](const trainer::BaselineProgress& p) {
      if (p.val_loss >= 0) outcome.curve.emplace_back(static_cast<double>(p.step * batch) * tokens_per_sequence, p.val_loss);
    }));
    outcome.curve.insert(outcome.curve.begin(), {0.0, r.initial_val_loss});
    if (outcome.curve.back().first < static_cast<double>(sequences) * tokens_per_sequence) {
      outcome.curve.emplace_back(static_cast<double>(sequences) * tokens_per_sequence, r.final_val_loss);
    }
    outcome.final_val_loss = r.final_val_loss;
    outcome.val_curve = {r.final_val_loss};
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "  %-14s %ld steps of batch %ld  val loss %.4f\n", preset.c_str(), bo.steps, batch,
                 r.final_val_loss);
    return outcome;
  }
  if (preset == "sync-dp-pages") {
    // Synchronous data parallel on exactly the miners' sequences: at every inner step of
    // every window, the batches the M miners draw from their assigned pages (the same
    // seeds as the inner loop) form one batch of M × batch, one AdamW step on it, the
    // subnet's schedule over windows × H. What separates it from the subnet is only the
    // averaging; from sync-dp, only the page assignment's locality and repetition.
    auto model = model::make_gpt(config, spec.seed);
    auto optimizer = trainer::make_adamw(model, spec.train);
    const auto& ts = spec.train;
    trainer::CosineSchedule schedule{ts.lr, ts.min_lr_ratio, ts.warmup_steps, static_cast<long>(opt.windows) * ts.inner_steps};
    const auto num_pages = train.num_pages(static_cast<std::uint64_t>(spec.data.page_tokens));
    const double tokens_per_window = static_cast<double>(opt.miners) * ts.inner_steps * ts.batch_size * tokens_per_sequence;
    Outcome outcome;
    outcome.curve.emplace_back(0.0, trainer::evaluate_loss(model, val_batches));
    for (int w = 0; w < opt.windows; ++w) {
      std::vector<std::vector<std::uint64_t>> pages;
      for (int uid = 0; uid < opt.miners; ++uid) {
        TESSERA_ASSIGN_OR_RETURN(auto p, dataset::assign_pages(spec.seed, static_cast<std::uint64_t>(w), static_cast<std::uint64_t>(uid),
                                                               static_cast<std::uint64_t>(spec.data.pages_per_window), num_pages));
        pages.push_back(std::move(p));
      }
      model->train();
      for (int step = 0; step < ts.inner_steps; ++step) {
        std::vector<torch::Tensor> xs, ys;
        for (int uid = 0; uid < opt.miners; ++uid) {
          auto [x, y] = dataset::inner_batch(train, spec, pages[static_cast<std::size_t>(uid)], static_cast<std::uint64_t>(w),
                                             static_cast<std::uint64_t>(uid), step);
          xs.push_back(x);
          ys.push_back(y);
        }
        trainer::train_step(model, *optimizer, torch::cat(xs), torch::cat(ys),
                            schedule.at(static_cast<long>(w) * ts.inner_steps + step), ts.grad_clip);
      }
      if (is_eval_window(opt, w)) {
        record_point(&outcome, opt, preset, w, tokens_per_window, trainer::evaluate_loss(model, val_batches));
      }
    }
    outcome.final_val_loss = outcome.val_curve.back();
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return outcome;
  }
  // "dense": full-precision pseudo-gradients with DiLoCo's outer Nesterov step;
  // "dense-sgd": full precision with plain averaging (outer SGD, lr 1) — with one miner
  // this is exactly centralised training. Codec presets use the spec's outer step.
  const bool dense = preset == "dense" || preset == "dense-sgd";
  gradients::CodecSettings settings;
  OuterSpec outer_spec = spec.outer;
  if (preset == "dense") {
    TESSERA_ASSIGN_OR_RETURN(outer_spec, parse_outer(opt.dense_outer));
    TESSERA_ASSIGN_OR_RETURN(outer_spec, with_overrides(outer_spec, opt));
  } else if (preset == "dense-sgd") {
    outer_spec = OuterSpec{"sgd", 1.0, 0.0};
  } else {
    TESSERA_ASSIGN_OR_RETURN(settings, gradients::CodecSettings::from_preset(preset));
  }
  auto global = model::make_gpt(config, spec.seed);
  std::vector<torch::Tensor> theta = model::snapshot_parameters(global);
  std::vector<torch::Tensor> previous, before_previous;  // C_{w−1} and C_{w−2}: where an overlapped window may start
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& t : theta) shapes.emplace_back(t.sizes().begin(), t.sizes().end());
  std::vector<torch::Tensor> momentum;  // the outer step's buffers, carried between windows as a checkpoint carries them
  // --whole-outer: the parameters the codec sends whole take their own outer step (and
  // buffers); each step leaves the other's parameters frozen.
  std::optional<OuterSpec> whole_spec;
  std::vector<torch::Tensor> whole_momentum;
  std::vector<bool> whole_frozen(theta.size(), true), rest_frozen(theta.size(), false);
  if (!opt.whole_outer.empty() && !settings.whole_params.empty()) {
    TESSERA_ASSIGN_OR_RETURN(auto w, parse_outer(opt.whole_outer));
    TESSERA_ASSIGN_OR_RETURN(whole_spec, with_overrides(w, opt));
    for (std::uint32_t i : settings.whole_params) whole_frozen[i] = false, rest_frozen[i] = true;
  }
  const auto groups = gradients::ParamGroups::whole(theta.size());
  // Each parameter's codec group (--param-codec): group 0 the preset's codec, a group
  // without settings sent dense.
  std::vector<std::optional<gradients::CodecSettings>> group_codecs = {settings};
  std::vector<std::size_t> codec_group(theta.size(), 0);
  if (!dense) {
    const auto named = global->named_params();
    for (const auto& item : opt.param_codec) {
      const auto eq = item.find('=');
      if (eq == std::string::npos) return InvalidArgument("--param-codec item '" + item + "' must be MATCH=CODEC");
      const std::string match = item.substr(0, eq), codec = item.substr(eq + 1);
      if (codec == "dense") {
        group_codecs.emplace_back(std::nullopt);
      } else {
        TESSERA_ASSIGN_OR_RETURN(auto s, gradients::CodecSettings::from_preset(codec));
        group_codecs.emplace_back(s);
      }
      for (std::size_t i = 0; i < named.size(); ++i) {
        const bool hit = (match == "1d" && named[i].second.dim() == 1) || named[i].first.find(match) != std::string::npos;
        if (hit && codec_group[i] == 0) codec_group[i] = group_codecs.size() - 1;
      }
    }
  }

  struct Miner {
    model::GPT model{nullptr};
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    std::vector<gradients::ErrorFeedback> ef;  // one per codec group
  };
  std::vector<Miner> miners(static_cast<std::size_t>(opt.miners));
  for (auto& m : miners) {
    m.model = model::make_gpt(config, spec.seed);
    if (opt.inner == "collective") {
      m.optimizer = bench::make_collective_adamw(m.model, spec.train, opt.miners);
    } else {
      m.optimizer = trainer::make_adamw(m.model, spec.train);
    }
    m.ef.assign(group_codecs.size(), gradients::ErrorFeedback(spec.codec.ef_beta));
  }
  trainer::InnerLoop loop{&spec, static_cast<long>(opt.windows) * spec.train.inner_steps};
  const auto num_pages = train.num_pages(static_cast<std::uint64_t>(spec.data.page_tokens));
  Outcome outcome;
  double bytes = 0.0;
  const double tokens_per_window = static_cast<double>(opt.miners) * spec.train.inner_steps * spec.train.batch_size *
                                   tokens_per_sequence;
  outcome.curve.emplace_back(0.0, trainer::evaluate_loss(global, val_batches));
  for (int w = 0; w < opt.windows; ++w) {
    std::vector<gradients::DecodedDelta> decoded;
    for (std::size_t uid = 0; uid < miners.size(); ++uid) {
      auto& m = miners[uid];
      TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, static_cast<std::uint64_t>(w), uid,
                                                                static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                                num_pages));
      trainer::InnerLoop window_loop = loop;
      if (opt.overlap_steps > 0 && !previous.empty()) {
        window_loop.rebase = [&](int step, bool last) -> Result<trainer::InnerLoop::Base> {
          if (step < opt.overlap_steps && !last) return trainer::InnerLoop::Base();
          std::vector<torch::Tensor> copy;
          for (const auto& t : theta) copy.push_back(t.clone());
          return trainer::InnerLoop::Base(std::move(copy));
        };
      }
      if (opt.share_inner == "m0") zero_first_moment(*m.optimizer);
      std::vector<torch::Tensor> start = !window_loop.rebase            ? theta
                                         : opt.overlap_from == "local" ? model::snapshot_parameters(m.model)
                                                                        : previous;
      if (window_loop.rebase && opt.overlap_from == "extrapolate" && !before_previous.empty()) {
        start.clear();
        for (std::size_t i = 0; i < previous.size(); ++i) start.push_back(2 * previous[i] - before_previous[i]);
      }
      TESSERA_ASSIGN_OR_RETURN(auto inner, window_loop.run(m.model, *m.optimizer, start, train, pages,
                                                           static_cast<std::uint64_t>(w), uid));
      if (dense) {
        gradients::DecodedDelta d;
        for (std::size_t i = 0; i < inner.delta.size(); ++i) {
          gradients::TensorUpdate u;
          u.param_index = static_cast<std::uint32_t>(i);
          u.dense = inner.delta[i];
          d.tensors.push_back(std::move(u));
        }
        decoded.push_back(std::move(d));
        bytes += static_cast<double>(config.parameter_count()) * 4.0;
        continue;
      }
      // One encoding per codec group (group 0 the preset's), merged into one delta.
      gradients::DecodedDelta d;
      for (std::size_t g = 0; g < group_codecs.size(); ++g) {
        std::vector<gradients::IndexedTensor> indexed;
        for (std::size_t i = 0; i < inner.delta.size(); ++i) {
          if (codec_group[i] != g) continue;
          if (!group_codecs[g]) {  // sent as it is
            gradients::TensorUpdate u;
            u.param_index = static_cast<std::uint32_t>(i);
            u.dense = inner.delta[i];
            d.tensors.push_back(std::move(u));
            bytes += static_cast<double>(inner.delta[i].numel()) * 4.0;
          } else {
            indexed.push_back({static_cast<std::uint32_t>(i), inner.delta[i]});
          }
        }
        if (indexed.empty()) continue;
        TESSERA_ASSIGN_OR_RETURN(auto encoded, m.ef[g].step(indexed, *group_codecs[g]));
        // What the aggregator sees: the bytes, decoded strictly.
        TESSERA_ASSIGN_OR_RETURN(auto part, gradients::decode_delta(encoded.bytes, shapes, *group_codecs[g]));
        bytes += static_cast<double>(encoded.bytes.size());
        for (auto& u : part.tensors) d.tensors.push_back(std::move(u));
      }
      // The merge wants strictly increasing parameter indices.
      std::sort(d.tensors.begin(), d.tensors.end(),
                [](const auto& a, const auto& b) { return a.param_index < b.param_index; });
      decoded.push_back(std::move(d));
    }
    if (opt.share_inner == "v" || opt.share_inner == "m" || opt.share_inner == "mv") {
      share_inner_state(miners, opt.share_inner != "v", opt.share_inner != "m");
    }
    std::vector<const gradients::DecodedDelta*> ptrs;
    for (const auto& d : decoded) ptrs.push_back(&d);
    gradients::MergeStats stats;
    TESSERA_ASSIGN_OR_RETURN(auto merged, gradients::merge_deltas(ptrs, shapes, 0.0, &stats));
    if (opt.agree_boost > 0.0) {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < merged.size(); ++i) {
        if (!merged[i].defined()) continue;
        auto votes = torch::zeros_like(merged[i]);
        for (const auto& d : decoded) {
          for (const auto& u : d.tensors) {
            if (u.param_index == i) votes += u.to_dense(merged[i].sizes()).sign();
          }
        }
        merged[i] = merged[i] * (1.0 + opt.agree_boost * votes.abs() / static_cast<double>(decoded.size()));
      }
    }
    // How many of the window's deltas sent each coordinate of parameter i.
    const auto senders_of = [&](std::size_t i) {
      auto senders = torch::zeros_like(merged[i]);
      for (const auto& d : decoded) {
        for (const auto& u : d.tensors) {
          if (u.param_index != i) continue;
          senders += u.is_dense() ? torch::ones_like(senders)
                                  : torch::zeros({senders.numel()}, senders.options()).index_fill_(0, u.flat_index, 1.0).view_as(senders);
        }
      }
      return senders;
    };
    if (opt.merge_mean == "all") {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < merged.size(); ++i) {
        if (merged[i].defined()) merged[i] = merged[i] * senders_of(i) / static_cast<double>(decoded.size());
      }
    }
    if (!opt.spread_boost.empty()) {
      // The senders' mean m (what the merge gave), variance s² and count n per coordinate,
      // over the deltas as the merge clipped them.
      torch::NoGradGuard no_grad;
      double weighted = 0.0, count = 0.0;
      for (std::size_t i = 0; i < merged.size(); ++i) {
        if (!merged[i].defined()) continue;
        auto squares = torch::zeros_like(merged[i]);
        const auto senders = senders_of(i);
        for (std::size_t k = 0; k < decoded.size(); ++k) {
          const double scale = stats.scales[k][0];  // one parameter group here
          for (const auto& u : decoded[k].tensors) {
            if (u.param_index != i) continue;
            const auto x = u.to_dense(merged[i].sizes()) * scale;
            squares += x * x;
          }
        }
        const auto& mean = merged[i];
        const auto signal = mean * mean;
        const auto var = ((squares - senders * signal) / (senders - 1.0).clamp_min(1.0)).clamp_min(0.0);
        const auto measured = (senders >= 2) & (signal > 0);
        torch::Tensor factor;
        if (opt.spread_boost == "wiener") {
          factor = torch::where(measured, signal / (signal + var / senders), torch::ones_like(signal));
        } else if (opt.spread_boost == "tensor") {
          const double spread = torch::where(measured, var * (1.0 - 1.0 / senders), torch::zeros_like(var)).sum().item<double>();
          const double total = torch::where(measured, signal, torch::zeros_like(signal)).sum().item<double>();
          const double cap = std::sqrt(static_cast<double>(decoded.size()));
          factor = torch::full({}, total > 0 ? std::min(cap, std::sqrt(1.0 + spread / total)) : 1.0, mean.options());
        } else {
          factor = torch::where(measured, (1.0 + (1.0 - 1.0 / senders) * var / signal.clamp_min(1e-30)).sqrt().clamp_max(senders.sqrt()),
                                torch::ones_like(signal));
        }
        merged[i] = mean * factor;
        weighted += factor.mean().item<double>() * static_cast<double>(mean.numel());
        count += static_cast<double>(mean.numel());
      }
      outcome.rescale.push_back(count > 0 ? weighted / count : 1.0);
    }
    before_previous = std::move(previous);
    previous.clear();
    for (const auto& t : theta) previous.push_back(t.clone());
    // As aggregator::next_checkpoint: this window's outer step (the warm-up counts
    // windows), the buffers restored, the rescale factors from the merge.
    TESSERA_ASSIGN_OR_RETURN(auto outer, aggregator::OuterOptimizer::from_spec(outer_spec, static_cast<std::uint64_t>(w)));
    if (!momentum.empty()) TESSERA_RETURN_IF_ERROR(outer.restore(momentum, theta));
    const std::vector<float> scales = aggregator::rescale_factors(outer_spec, merged, stats, groups);
    if (outer_spec.rescale != "none") outcome.rescale.push_back(scales.empty() ? 1.0 : scales[0]);
    TESSERA_RETURN_IF_ERROR(outer.step(theta, merged, whole_spec ? rest_frozen : std::vector<bool>{}, scales));
    momentum = outer.momentum_buffers();
    if (whole_spec) {
      TESSERA_ASSIGN_OR_RETURN(auto whole, aggregator::OuterOptimizer::from_spec(*whole_spec, static_cast<std::uint64_t>(w)));
      if (!whole_momentum.empty()) TESSERA_RETURN_IF_ERROR(whole.restore(whole_momentum, theta));
      TESSERA_RETURN_IF_ERROR(whole.step(theta, merged, whole_frozen, scales));
      whole_momentum = whole.momentum_buffers();
    }
    if (is_eval_window(opt, w)) {
      TESSERA_RETURN_IF_ERROR(model::load_parameters(global, theta));
      record_point(&outcome, opt, preset, w, tokens_per_window, trainer::evaluate_loss(global, val_batches));
    }
  }
  outcome.final_val_loss = outcome.val_curve.back();
  outcome.bytes_per_submission = bytes / (static_cast<double>(opt.windows) * opt.miners);
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return outcome;
}

// Every preset for one run seed: the results array of the JSON.
Result<nlohmann::json> run_seed(const Options& opt, const RunSpec& spec, const model::ModelConfig& config,
                                const dataset::TokenDataset& train, const dataset::TokenDataset& val) {
  // The run's validation batches (those of `tessera train` and `tessera demo`), whatever
  // the presets, so that every study run is comparable with every baseline.
  const auto val_batches = trainer::validation_batches(spec, val);
  nlohmann::json results = nlohmann::json::array();
  for (const auto& preset : opt.presets) {
    std::fprintf(stderr, "seed %llu, %s\n", static_cast<unsigned long long>(spec.seed), preset.c_str());
    // The baselines may take their own learning rate (tuned separately: batch 32 wants a
    // larger one than the miners' batch 8).
    RunSpec preset_spec = spec;
    if (opt.baseline_lr > 0.0 && (preset == "centralized" || preset.rfind("sync-dp", 0) == 0)) {
      preset_spec.train.lr = opt.baseline_lr;
    }
    TESSERA_ASSIGN_OR_RETURN(auto o, run_config(preset_spec, config, opt, preset, train, val_batches));
    nlohmann::json r = {
        {"preset", preset},
        {"lr", preset_spec.train.lr},
        {"outer", preset == "dense"         ? opt.dense_outer
                  : preset == "dense-sgd"   ? "sgd:1:0"
                  : preset == "centralized" || preset.rfind("sync-dp", 0) == 0 ? "none"
                                            : "spec"},
        {"final_val_loss", o.final_val_loss},
        {"val_loss_every_5_windows", o.val_curve},
        {"curve", o.curve},
        {"bytes_per_submission", o.bytes_per_submission},
        {"ratio_vs_fp32", o.bytes_per_submission > 0 ? nlohmann::json(static_cast<double>(config.parameter_count()) * 4.0 /
                                                                       o.bytes_per_submission)
                                                      : nlohmann::json()},
        {"seconds", o.seconds},
    };
    if (!o.rescale.empty()) r["rescale_factors"] = o.rescale;
    results.push_back(r);
  }
  // Ratios against the best dense run (the stricter of the two baselines).
  double dense_loss = 0.0;
  for (const auto& r : results) {
    const auto p = r["preset"].get<std::string>();
    if (p == "dense" || p == "dense-sgd") {
      const double l = r["final_val_loss"].get<double>();
      dense_loss = dense_loss == 0.0 ? l : std::min(dense_loss, l);
    }
  }
  if (dense_loss > 0.0) {
    for (auto& r : results) r["loss_vs_best_dense"] = r["final_val_loss"].get<double>() / dense_loss;
  }
  return results;
}

double final_of(const nlohmann::json& results, const std::string& preset) {
  for (const auto& r : results) {
    if (r["preset"] == preset) return r["final_val_loss"].get<double>();
  }
  return 0.0;
}

// Per preset over the seeds: mean, spread and standard deviation of the final loss, and
// the per-seed gaps to sync-dp, (the subnet's runs) to sync-dp-pages and (codecs) to dense,
// as mean / min / max. The gap to sync-dp-pages, the same sequences stepped together, is
// the averaging's alone; the rest of the gap to sync-dp is the page assignment's.
nlohmann::json summarize(const Options& opt, const nlohmann::json& runs) {
  nlohmann::json out = nlohmann::json::object();
  auto stats = [](const std::vector<double>& v) {
    double mean = 0, sq = 0;
    for (double x : v) mean += x / static_cast<double>(v.size());
    for (double x : v) sq += (x - mean) * (x - mean);
    return nlohmann::json{{"mean", mean},
                          {"min", *std::min_element(v.begin(), v.end())},
                          {"max", *std::max_element(v.begin(), v.end())},
                          {"std", v.size() > 1 ? std::sqrt(sq / static_cast<double>(v.size() - 1)) : 0.0}};
  };
  for (const auto& preset : opt.presets) {
    std::vector<double> finals, vs_sync, vs_pages, vs_dense;
    for (const auto& run : runs) {
      const double l = final_of(run["results"], preset);
      finals.push_back(l);
      const double sync = final_of(run["results"], "sync-dp"), pages = final_of(run["results"], "sync-dp-pages"),
                   dense = final_of(run["results"], "dense");
      if (sync > 0) vs_sync.push_back(l / sync - 1.0);
      if (pages > 0) vs_pages.push_back(l / pages - 1.0);
      if (dense > 0) vs_dense.push_back(l / dense - 1.0);
    }
    const bool baseline = preset == "centralized" || preset.rfind("sync-dp", 0) == 0;
    nlohmann::json p = {{"final_val_loss", stats(finals)}};
    if (!vs_sync.empty()) p["gap_vs_sync_dp"] = stats(vs_sync);
    if (!vs_pages.empty() && !baseline) p["gap_vs_sync_dp_pages"] = stats(vs_pages);
    if (!vs_dense.empty() && !baseline && preset != "dense") p["gap_vs_dense"] = stats(vs_dense);
    out[preset] = p;
  }
  return out;
}

std::string percent(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100 * x);
  return b;
}

std::string markdown(const nlohmann::json& study) {
  bool pages = false;  // a column for the gap to sync-dp-pages when the study ran it
  for (const auto& [preset, p] : study["summary"].items()) pages = pages || p.contains("gap_vs_sync_dp_pages");
  std::ostringstream md;
  md << "Study: " << study["model"].get<std::string>() << ", " << study["miners"] << " miners, " << study["windows"]
     << " windows of H = " << study["inner_steps"] << ", seeds " << study["seeds"].dump() << "\n\n"
     << "| preset | final validation loss, mean (min–max) | vs sync-dp, mean (min–max) |"
     << (pages ? " vs sync-dp-pages, mean (min–max) |" : "") << " vs dense, mean (min–max) |\n"
     << (pages ? "|---|---|---|---|---|\n" : "|---|---|---|---|\n");
  for (const auto& [preset, p] : study["summary"].items()) {
    char loss[96];
    std::snprintf(loss, sizeof loss, "%.4f (%.4f–%.4f)", p["final_val_loss"]["mean"].get<double>(),
                  p["final_val_loss"]["min"].get<double>(), p["final_val_loss"]["max"].get<double>());
    auto gap = [&](const char* key) {
      if (!p.contains(key)) return std::string("");
      return percent(p[key]["mean"].get<double>()) + " (" + percent(p[key]["min"].get<double>()) + " – " +
             percent(p[key]["max"].get<double>()) + ")";
    };
    md << "| " << preset << " | " << loss << " | " << gap("gap_vs_sync_dp") << " | "
       << (pages ? gap("gap_vs_sync_dp_pages") + " | " : "") << gap("gap_vs_dense") << " |\n";
  }
  return md.str();
}

// The mean curve of each preset over the seeds (their points fall on the same tokens).
std::string chart(const Options& opt, const nlohmann::json& study) {
  std::vector<ChartSeries> series;
  for (const auto& preset : opt.presets) {
    std::vector<std::pair<double, double>> mean;
    std::size_t runs = 0;
    for (const auto& run : study["runs"]) {
      for (const auto& r : run["results"]) {
        if (r["preset"] != preset) continue;
        const auto curve = r["curve"].get<std::vector<std::pair<double, double>>>();
        if (mean.empty()) mean.assign(curve.size(), {0.0, 0.0});
        for (std::size_t i = 0; i < std::min(mean.size(), curve.size()); ++i) {
          mean[i].first = curve[i].first;
          mean[i].second += curve[i].second;
        }
        ++runs;
      }
    }
    for (auto& pt : mean) pt.second /= static_cast<double>(std::max<std::size_t>(1, runs));
    series.push_back({preset, chart_color(series.size()), std::move(mean)});
  }
  const std::size_t seeds = study["seeds"].size();
  return line_chart_svg(series, seeds == 1 ? std::string("Validation loss against tokens, one seed")
                                           : "Validation loss against tokens, mean of " + std::to_string(seeds) + " seeds");
}

Status run(const Options& opt) {
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(opt.spec));
  if (opt.ef_beta >= 0.0) spec.codec.ef_beta = opt.ef_beta;
  if (opt.outer_lr > 0.0) spec.outer.lr = opt.outer_lr;
  if (opt.inner_lr > 0.0) spec.train.lr = opt.inner_lr;
  if (opt.outer_momentum >= 0.0) spec.outer.momentum = opt.outer_momentum;
  if (!opt.outer.empty()) {
    TESSERA_ASSIGN_OR_RETURN(spec.outer, parse_outer(opt.outer, spec.outer));
  }
  TESSERA_ASSIGN_OR_RETURN(spec.outer, with_overrides(spec.outer, opt));
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(spec.data.dir, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(spec.data.dir, "val"));
  model::configure_cpu_threads(opt.threads);
  const std::vector<std::uint64_t> seeds = opt.seeds.empty() ? std::vector<std::uint64_t>{spec.seed} : opt.seeds;
  nlohmann::json runs = nlohmann::json::array();
  for (std::uint64_t seed : seeds) {
    RunSpec seeded = spec;
    seeded.seed = seed;
    TESSERA_ASSIGN_OR_RETURN(auto results, run_seed(opt, seeded, config, train, val));
    runs.push_back({{"seed", seed}, {"results", results}});
  }
  nlohmann::json out = {
      {"bench", "codec_study"},
      {"model", config.describe()},
      {"spec", opt.spec},
      {"windows", opt.windows},
      {"miners", opt.miners},
      {"inner_steps", spec.train.inner_steps},
      {"tokens_per_miner_window", static_cast<long>(spec.train.inner_steps) * spec.train.batch_size * spec.train.seq_len},
      {"outer", aggregator::describe_outer(spec.outer)},
      {"ef_beta", spec.codec.ef_beta},
      {"overlap_steps", opt.overlap_steps},
      {"overlap_from", opt.overlap_from},
      {"share_inner", opt.share_inner},
      {"whole_outer", opt.whole_outer},
      {"inner", opt.inner},
      {"agree_boost", opt.agree_boost},
      {"spread_boost", opt.spread_boost},
      {"merge_mean", opt.merge_mean},
      {"param_codec", opt.param_codec},
      {"seeds", seeds},
      {"runs", runs},
      {"summary", summarize(opt, runs)},
  };
  if (seeds.size() == 1) out["results"] = runs[0]["results"];
  if (!opt.out.empty()) {
    const std::filesystem::path dir(opt.out);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
    TESSERA_RETURN_IF_ERROR(write_file_atomic(dir / "study.json", out.dump(2) + "\n"));
    TESSERA_RETURN_IF_ERROR(write_file_atomic(dir / "study.md", markdown(out)));
    TESSERA_RETURN_IF_ERROR(write_file_atomic(dir / "study.svg", chart(opt, out)));
    std::fprintf(stderr, "wrote %s/study.json, study.md and study.svg\n", dir.c_str());
  }
  std::printf("%s\n", out.dump(2).c_str());
  return Status::Ok();
}

// Fills `opt` from the command line; false (after printing why) on a bad argument.
bool parse_args(int argc, char** argv, Options* opt) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: codec_study [--spec F] [--windows W] [--miners M] [--threads N] [--presets a,b]\n"
                   "       [--ef-beta B] [--outer-lr L] [--outer-momentum M] [--outer kind:lr:mu]\n"
                   "       [--outer-warmup W] [--outer-rescale none|norm[:max]] [--dense-outer kind:lr:mu]\n"
                   "       [--whole-outer kind:lr:mu]\n"
                   "       [--seeds 1,2,3] [--out DIR] [--eval-every W] [--overlap-steps R]\n"
                   "       [--overlap-from local|checkpoint|extrapolate] [--share-inner none|v|m|mv|m0]\n"
                   "       [--inner adamw|collective] [--agree-boost A] [--spread-boost coord|tensor|wiener]\n"
                   "       [--merge-mean senders|all] [--param-codec wte=int2-k512,1d=dense] [--lr X] [--baseline-lr X]\n");
      return false;
    }
    const std::string v = argv[++i];
    try {
      if (a == "--spec") opt->spec = v;
      else if (a == "--windows") opt->windows = std::stoi(v);
      else if (a == "--miners") opt->miners = std::stoi(v);
      else if (a == "--threads") opt->threads = std::stoi(v);
      else if (a == "--ef-beta") opt->ef_beta = std::stod(v);
      else if (a == "--outer-lr") opt->outer_lr = std::stod(v);
      else if (a == "--outer-momentum") opt->outer_momentum = std::stod(v);
      else if (a == "--dense-outer") opt->dense_outer = v;
      else if (a == "--whole-outer") opt->whole_outer = v;
      else if (a == "--outer") opt->outer = v;
      else if (a == "--outer-warmup") opt->outer_warmup = std::stoi(v);
      else if (a == "--outer-rescale") opt->outer_rescale = v;
      else if (a == "--presets") opt->presets = split_commas(v);
      else if (a == "--out") opt->out = v;
      else if (a == "--eval-every") opt->eval_every = std::max(1, std::stoi(v));
      else if (a == "--overlap-steps") opt->overlap_steps = std::max(0, std::stoi(v));
      else if (a == "--overlap-from") opt->overlap_from = v;
      else if (a == "--share-inner") opt->share_inner = v;
      else if (a == "--inner") opt->inner = v;
      else if (a == "--agree-boost") opt->agree_boost = std::stod(v);
      else if (a == "--spread-boost") opt->spread_boost = v;
      else if (a == "--merge-mean") opt->merge_mean = v;
      else if (a == "--param-codec") opt->param_codec = split_commas(v);
      else if (a == "--lr") opt->inner_lr = std::stod(v);
      else if (a == "--baseline-lr") opt->baseline_lr = std::stod(v);
      else if (a == "--seeds") {
        for (const auto& seed : split_commas(v)) opt->seeds.push_back(std::stoull(seed));
      } else {
        std::fprintf(stderr, "error: unknown option %s\n", a.c_str());
        return false;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "error: %s '%s' is not a number\n", a.c_str(), v.c_str());
      return false;
    }
  }
  if (opt->inner != "adamw" && opt->inner != "collective") {
    std::fprintf(stderr, "error: --inner '%s' must be adamw or collective\n", opt->inner.c_str());
    return false;
  }
  if (opt->merge_mean != "senders" && opt->merge_mean != "all") {
    std::fprintf(stderr, "error: --merge-mean '%s' must be senders or all\n", opt->merge_mean.c_str());
    return false;
  }
  if (!opt->spread_boost.empty() && opt->spread_boost != "coord" && opt->spread_boost != "tensor" &&
      opt->spread_boost != "wiener") {
    std::fprintf(stderr, "error: --spread-boost '%s' must be coord, tensor or wiener\n", opt->spread_boost.c_str());
    return false;
  }
  // The spread boost reads the merged tensor as the senders' mean of each coordinate,
  // which `--merge-mean all` has already shrunk by the senders' share.
  if (!opt->spread_boost.empty() && opt->merge_mean != "senders") {
    std::fprintf(stderr, "error: --spread-boost needs the senders' mean; drop it or --merge-mean %s\n", opt->merge_mean.c_str());
    return false;
  }
  if (opt->share_inner != "none" && opt->share_inner != "v" && opt->share_inner != "m" && opt->share_inner != "mv" &&
      opt->share_inner != "m0") {
    std::fprintf(stderr, "error: --share-inner '%s' must be none, v, m, mv or m0\n", opt->share_inner.c_str());
    return false;
  }
  if (opt->share_inner != "none" && opt->inner != "adamw") {
    std::fprintf(stderr, "error: --share-inner works on the miners' AdamW; drop it or --inner %s\n", opt->inner.c_str());
    return false;
  }
  if (opt->overlap_from != "local" && opt->overlap_from != "checkpoint" && opt->overlap_from != "extrapolate") {
    std::fprintf(stderr, "error: --overlap-from '%s' must be local, checkpoint or extrapolate\n", opt->overlap_from.c_str());
    return false;
  }
  if (opt->windows <= 0 || opt->miners <= 0 || opt->presets.empty()) {
    std::fprintf(stderr, "error: --windows and --miners must be positive and --presets non-empty\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse_args(argc, argv, &opt)) return 2;
  Status st = run(opt);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
