// Codec training study: does compression hurt training? Runs the run spec's
// decentralised loop in one process — M miners, W windows of H inner AdamW steps on
// their assigned pages, pseudo-gradients merged (clip to median norm, mean per
// coordinate) and applied by the outer optimizer — once with dense fp32 deltas and once
// per codec preset with error feedback, all from the same initial model, pages and
// batches. Prints JSON: final validation loss per configuration and its ratio to dense.
// The preset `centralized` adds `tessera train` on the same total tokens. Every run is
// measured on the run's validation batches (those of the baseline and `tessera demo`).
//
//   build/bench/codec_study --spec examples/tiny.toml --windows 30 --miners 2
//       --presets dense,int2-k32,fp16-k32,sign-k32,sign-k8   (one line)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gradients/merge.h"
#include "aggregator/outer.h"
#include "core/run_spec.h"
#include "dataset/token_dataset.h"
#include "gradients/error_feedback.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "model/runtime.h"
#include "trainer/baseline.h"
#include "trainer/inner_loop.h"
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
  std::string dense_outer = "nesterov:0.7:0.9";  // DiLoCo's outer step for the dense runs
  std::vector<std::string> presets = {"dense", "dense-sgd", "int2-k32", "int2-k32-dct", "fp16-k32", "sign-k32", "sign-k8"};
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// "nesterov:0.7:0.9" → OuterSpec.
Result<OuterSpec> parse_outer(const std::string& text) {
  const auto a = text.find(':'), b = text.rfind(':');
  if (a == std::string::npos || a == b) return InvalidArgument("--dense-outer '" + text + "' must be kind:lr:momentum");
  try {
    return OuterSpec{text.substr(0, a), std::stod(text.substr(a + 1, b - a - 1)), std::stod(text.substr(b + 1))};
  } catch (const std::exception&) {
    return InvalidArgument("--dense-outer '" + text + "' has a bad number");
  }
}

struct Outcome {
  double final_val_loss = 0.0;
  double bytes_per_submission = 0.0;
  std::vector<double> val_curve;
  double seconds = 0.0;
};

Result<Outcome> run_config(const RunSpec& spec, const model::ModelConfig& config, const Options& opt,
                           const std::string& preset, const dataset::TokenDataset& train,
                           const std::vector<std::pair<torch::Tensor, torch::Tensor>>& val_batches) {
  const auto t0 = std::chrono::steady_clock::now();
  if (preset == "centralized") {
    // `tessera train` on the same total tokens (miners × windows × H steps of the
    // miners' batch, in steps of the baseline's batch), its cosine schedule over that
    // length; measured on the run's validation batches, like every run of the study.
    trainer::BaselineOptions bo;
    const long sequences = static_cast<long>(opt.miners) * opt.windows * spec.train.inner_steps * spec.train.batch_size;
    if (sequences % spec.train.centralized_batch() != 0) {
      return InvalidArgument("the miners' " + std::to_string(sequences) + " sequences are not a whole number of baseline batches of " +
                             std::to_string(spec.train.centralized_batch()));
    }
    bo.steps = sequences / spec.train.centralized_batch();
    bo.threads = opt.threads;
    RunSpec quiet = spec;
    quiet.train.eval_every = 0;
    TESSERA_ASSIGN_OR_RETURN(auto r, trainer::train_baseline(quiet, bo));
    Outcome outcome;
    outcome.final_val_loss = r.final_val_loss;
    outcome.val_curve = {r.final_val_loss};
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "  %-14s %ld steps  val loss %.4f\n", preset.c_str(), bo.steps, r.final_val_loss);
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
  } else if (preset == "dense-sgd") {
    outer_spec = OuterSpec{"sgd", 1.0, 0.0};
  } else {
    TESSERA_ASSIGN_OR_RETURN(settings, gradients::CodecSettings::from_preset(preset));
  }
  auto global = model::make_gpt(config, spec.seed);
  std::vector<torch::Tensor> theta = model::snapshot_parameters(global);
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& t : theta) shapes.emplace_back(t.sizes().begin(), t.sizes().end());
  TESSERA_ASSIGN_OR_RETURN(auto outer, aggregator::OuterOptimizer::from_spec(outer_spec));

  struct Miner {
    model::GPT model{nullptr};
    std::unique_ptr<torch::optim::AdamW> optimizer;
    gradients::ErrorFeedback ef{0.0};
  };
  std::vector<Miner> miners(static_cast<std::size_t>(opt.miners));
  for (auto& m : miners) {
    m.model = model::make_gpt(config, spec.seed);
    m.optimizer = trainer::make_adamw(m.model, spec.train);
    m.ef = gradients::ErrorFeedback(spec.codec.ef_beta);
  }
  trainer::InnerLoop loop{&spec, static_cast<long>(opt.windows) * spec.train.inner_steps};
  const auto num_pages = train.num_pages(static_cast<std::uint64_t>(spec.data.page_tokens));
  Outcome outcome;
  double bytes = 0.0;
  for (int w = 0; w < opt.windows; ++w) {
    std::vector<gradients::DecodedDelta> decoded;
    for (std::size_t uid = 0; uid < miners.size(); ++uid) {
      auto& m = miners[uid];
      TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, static_cast<std::uint64_t>(w), uid,
                                                                static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                                num_pages));
      TESSERA_ASSIGN_OR_RETURN(auto inner, loop.run(m.model, *m.optimizer, theta, train, pages,
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
      std::vector<gradients::IndexedTensor> indexed;
      for (std::size_t i = 0; i < inner.delta.size(); ++i) indexed.push_back({static_cast<std::uint32_t>(i), inner.delta[i]});
      TESSERA_ASSIGN_OR_RETURN(auto encoded, m.ef.step(indexed, settings));
      // What the aggregator sees: the bytes, decoded strictly.
      TESSERA_ASSIGN_OR_RETURN(auto d, gradients::decode_delta(encoded.bytes, shapes, settings));
      bytes += static_cast<double>(encoded.bytes.size());
      decoded.push_back(std::move(d));
    }
    std::vector<const gradients::DecodedDelta*> ptrs;
    for (const auto& d : decoded) ptrs.push_back(&d);
    TESSERA_ASSIGN_OR_RETURN(auto merged, gradients::merge_deltas(ptrs, shapes));
    TESSERA_RETURN_IF_ERROR(outer.step(theta, merged));
    if ((w + 1) % 5 == 0 || w + 1 == opt.windows) {
      TESSERA_RETURN_IF_ERROR(model::load_parameters(global, theta));
      const double val = trainer::evaluate_loss(global, val_batches);
      outcome.val_curve.push_back(val);
      std::fprintf(stderr, "  %-14s window %3d/%d  val loss %.4f\n", preset.c_str(), w + 1, opt.windows, val);
    }
  }
  outcome.final_val_loss = outcome.val_curve.back();
  outcome.bytes_per_submission = bytes / (static_cast<double>(opt.windows) * opt.miners);
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return outcome;
}

Status run(const Options& opt) {
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(opt.spec));
  if (opt.ef_beta >= 0.0) spec.codec.ef_beta = opt.ef_beta;
  if (opt.outer_lr > 0.0) spec.outer.lr = opt.outer_lr;
  if (opt.outer_momentum >= 0.0) spec.outer.momentum = opt.outer_momentum;
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(spec.data.dir, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(spec.data.dir, "val"));
  model::configure_cpu_threads(opt.threads);
  // The run's validation batches (those of `tessera train` and `tessera demo`), whatever
  // the presets, so that every study run is comparable with every baseline.
  const auto val_batches = trainer::validation_batches(spec, val);
  nlohmann::json results = nlohmann::json::array();
  double dense_loss = 0.0;
  for (const auto& preset : opt.presets) {
    TESSERA_ASSIGN_OR_RETURN(auto o, run_config(spec, config, opt, preset, train, val_batches));
    nlohmann::json r = {
        {"preset", preset},
        {"outer", preset == "dense"         ? opt.dense_outer
                  : preset == "dense-sgd"   ? "sgd:1:0"
                  : preset == "centralized" ? "none"
                                            : "spec"},
        {"final_val_loss", o.final_val_loss},
        {"val_loss_every_5_windows", o.val_curve},
        {"bytes_per_submission", o.bytes_per_submission},
        {"ratio_vs_fp32", o.bytes_per_submission > 0 ? nlohmann::json(static_cast<double>(config.parameter_count()) * 4.0 /
                                                                       o.bytes_per_submission)
                                                      : nlohmann::json()},
        {"seconds", o.seconds},
    };
    results.push_back(r);
  }
  // Ratios against the best dense run (the stricter of the two baselines).
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
  nlohmann::json out = {
      {"bench", "codec_study"},
      {"model", config.describe()},
      {"spec", opt.spec},
      {"windows", opt.windows},
      {"miners", opt.miners},
      {"inner_steps", spec.train.inner_steps},
      {"tokens_per_miner_window", static_cast<long>(spec.train.inner_steps) * spec.train.batch_size * spec.train.seq_len},
      {"outer", spec.outer.optimizer + " lr " + std::to_string(spec.outer.lr) + " momentum " +
                    std::to_string(spec.outer.momentum)},
      {"ef_beta", spec.codec.ef_beta},
      {"results", results},
  };
  std::printf("%s\n", out.dump(2).c_str());
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--spec") opt.spec = value();
    else if (a == "--windows") opt.windows = std::stoi(value());
    else if (a == "--miners") opt.miners = std::stoi(value());
    else if (a == "--threads") opt.threads = std::stoi(value());
    else if (a == "--ef-beta") opt.ef_beta = std::stod(value());
    else if (a == "--outer-lr") opt.outer_lr = std::stod(value());
    else if (a == "--outer-momentum") opt.outer_momentum = std::stod(value());
    else if (a == "--dense-outer") opt.dense_outer = value();
    else if (a == "--presets") opt.presets = split_commas(value());
    else {
      std::fprintf(stderr, "usage: codec_study [--spec F] [--windows W] [--miners M] [--threads N] [--presets a,b]\n"
                   "       [--ef-beta B] [--outer-lr L] [--outer-momentum M] [--dense-outer kind:lr:mu]\n");
      return 2;
    }
  }
  if (opt.windows <= 0 || opt.miners <= 0 || opt.presets.empty()) {
    std::fprintf(stderr, "error: --windows and --miners must be positive and --presets non-empty\n");
    return 2;
  }
  Status st = run(opt);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
