// device_check: the GPU path of the miner and the validator, measured on one device with
// the CPU as the reference in the same run (stage 2 of scripts/gpu-check.sh; see
// bench/README.md). It links only the layers those roles compute with — model, dataset,
// gradients, the inner loop, the evaluator — so it builds against a CUDA libtorch on a
// machine that has none of the network stack.
//
//   device_check --spec FILE --data DIR --device cuda[:N] [--windows 2] [--submissions 32]
//                [--agreement 8] [--reps 3] [--out FILE]
//
// Prints one JSON object (and writes it to --out):
//   miner      `windows` windows of the real inner loop on the device (through an NCCL
//              group of one rank where NCCL is built), error feedback and encoding on the
//              device; the CPU decoder must accept every payload and reproduce the device's
//              reconstruction; one more window with bf16 autocast.
//   codec      per preset: encode on the device and on the CPU of the same delta (the
//              bytes must be equal), host decode + apply on the device, against a
//              device-to-device copy of the dense delta.
//   validator  evaluate_window over `submissions` submissions on the device, against plain
//              forward passes on the device; the first `agreement` of them also on the CPU,
//              with the outcomes and the largest score difference.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "core/hash.h"
#include "core/rng.h"
#include "core/run_spec.h"
#include "dataset/token_dataset.h"
#include "gradients/apply.h"
#include "gradients/codec.h"
#include "gradients/dispatch.h"
#include "gradients/error_feedback.h"
#include "kernels/collective.h"
#include "kernels/device.h"
#include "model/device.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "model/runtime.h"
#include "trainer/data_parallel.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"
#include "verification/evaluator.h"

namespace tessera {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string spec, data, device = "cuda", out;
  int windows = 2, submissions = 32, agreement = 8, reps = 3;
};

Result<Args> parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return InvalidArgument("help");
    if (i + 1 >= argc) return InvalidArgument(flag + " needs a value");
    const std::string value = argv[++i];
    auto number = [&](int* out, int lo, int hi) -> Status {
      try {
        const int v = std::stoi(value);
        if (v < lo || v > hi) throw std::out_of_range(value);
        *out = v;
        return Status::Ok();
      } catch (const std::exception&) {
        return InvalidArgument(flag + " " + value + ": expected a whole number in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
      }
    };
    if (flag == "--spec") {
      a.spec = value;
    } else if (flag == "--data") {
      a.data = value;
    } else if (flag == "--device") {
      a.device = value;
    } else if (flag == "--out") {
      a.out = value;
    } else if (flag == "--windows") {
      TESSERA_RETURN_IF_ERROR(number(&a.windows, 1, 100));
    } else if (flag == "--submissions") {
      TESSERA_RETURN_IF_ERROR(number(&a.submissions, 1, 4096));
    } else if (flag == "--agreement") {
      TESSERA_RETURN_IF_ERROR(number(&a.agreement, 0, 4096));
    } else if (flag == "--reps") {
      TESSERA_RETURN_IF_ERROR(number(&a.reps, 1, 1000));
    } else {
      return InvalidArgument("unknown option " + flag);
    }
  }
  if (a.spec.empty()) return InvalidArgument("--spec is required");
  return a;
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

// Seconds of the best of `reps` runs of fn (device work waited for).
template <class Fn>
double best_seconds(int reps, const torch::Device& device, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    synchronize(device);
    const auto t0 = Clock::now();
    fn();
    synchronize(device);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

struct Run {
  RunSpec spec;
  model::ModelConfig config;
  std::optional<dataset::TokenDataset> train, val;
  torch::Device device = torch::kCPU;
};

std::vector<std::vector<std::int64_t>> shapes_of(const model::GPT& gpt) {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& [name, p] : gpt->named_params()) out.push_back(p.sizes().vec());
  return out;
}

// The miner's windows on the device; returns the last window's delta (on the device).
Result<std::vector<torch::Tensor>> check_miner(const Run& run, int windows, json* out) {
  const RunSpec& spec = run.spec;
  model::GPT gpt = model::make_gpt(run.config, spec.seed);
  gpt->to(run.device);
  auto optimizer = trainer::make_adamw(gpt, spec.train);
  gradients::ErrorFeedback ef(spec.codec.ef_beta);
  TESSERA_ASSIGN_OR_RETURN(auto codec, gradients::CodecSettings::from_spec(spec.codec));
  const auto start = model::snapshot_parameters(gpt);
  std::vector<torch::Tensor> start_host;
  for (const auto& t : start) start_host.push_back(t.to(torch::kCPU));
  const auto shapes = shapes_of(gpt);
  // One rank through the collective backend of the device: NCCL on a GPU.
  std::unique_ptr<trainer::DataParallelGroup> group;
  std::string group_backend = "none";
  if (run.device.is_cuda() && kernels::NcclComm::compiled()) {
    const auto store = std::filesystem::temp_directory_path() / ("device-check-" + std::to_string(::getpid()));
    std::filesystem::remove(store.string() + ".nccl-id");
    TESSERA_ASSIGN_OR_RETURN(group, trainer::DataParallelGroup::join(store, 0, 1, run.device));
    group_backend = group->backend();
  }
  json rows = json::array();
  std::vector<torch::Tensor> last_delta;
  for (int w = 0; w <= windows; ++w) {
    const bool bf16 = w == windows;  // the extra window: bf16 autocast
    RunSpec window_spec = spec;
    if (bf16) window_spec.train.autocast = "bf16";
    trainer::InnerLoop inner{&window_spec};
    inner.group = group.get();
    TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, static_cast<std::uint64_t>(w), 0,
                                                               static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                               run.train->num_pages(spec.data.page_tokens)));
    synchronize(run.device);
    const auto t0 = Clock::now();
    TESSERA_ASSIGN_OR_RETURN(auto trained, inner.run(gpt, *optimizer, start_host, *run.train, pages,
                                                     static_cast<std::uint64_t>(w), 0));
    synchronize(run.device);
    const double compute_s = std::chrono::duration<double>(Clock::now() - t0).count();
    json row = {{"window", w},
                {"autocast", bf16 ? (model::supports_bf16_autocast(run.device) ? "bf16" : "bf16 (unsupported: fp32)")
                                  : "none"},
                {"compute_s", compute_s},
                {"tokens_per_second", spec.train.inner_steps * spec.train.batch_size * spec.train.seq_len / compute_s},
                {"first_loss", trained.first_loss},
                {"last_loss", trained.last_loss}};
    if (!bf16) {
      std::vector<gradients::IndexedTensor> delta;
      for (std::uint32_t i = 0; i < trained.delta.size(); ++i) delta.push_back({i, trained.delta[i]});
      const auto t1 = Clock::now();
      TESSERA_ASSIGN_OR_RETURN(auto encoded, ef.step(delta, codec));
      const double encode_s = std::chrono::duration<double>(Clock::now() - t1).count();
      // The bytes are device-independent: the CPU decoder yields what the device kept.
      TESSERA_ASSIGN_OR_RETURN(auto decoded, gradients::decode_delta(encoded.bytes, shapes, codec));
      bool same = decoded.tensors.size() == encoded.reconstruction.tensors.size();
      for (std::size_t i = 0; same && i < decoded.tensors.size(); ++i) {
        const auto& shape = shapes[decoded.tensors[i].param_index];
        same = torch::equal(decoded.tensors[i].to_dense(shape),
                            gradients::to_host(encoded.reconstruction.tensors[i].to_dense(shape)));
      }
      const auto& kept = encoded.reconstruction.tensors.front();
      row.update(json{{"encode_s", encode_s},
                  {"bytes", encoded.bytes.size()},
                  {"error_feedback_device", ef.buffer(0).device().str()},
                  {"reconstruction_device", (kept.is_dense() ? kept.dense : kept.values).device().str()},
                  {"cpu_decode_matches_device_reconstruction", same}});
      last_delta = trained.delta;
    }
    rows.push_back(row);
  }
  *out = {{"collective", group_backend}, {"windows", rows}};
  return last_delta;
}

Status check_codec(const Run& run, const std::vector<torch::Tensor>& delta_on_device, int reps, json* out) {
  const torch::Device device = run.device;
  model::GPT gpt = model::make_gpt(run.config, run.spec.seed);
  gpt->to(device);
  const auto shapes = shapes_of(gpt);
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : gpt->named_params()) params.push_back(p.detach());
  std::vector<gradients::IndexedTensor> on_device, on_host;
  std::int64_t numel = 0;
  for (std::uint32_t i = 0; i < delta_on_device.size(); ++i) {
    on_device.push_back({i, delta_on_device[i].contiguous()});
    on_host.push_back({i, delta_on_device[i].to(torch::kCPU).contiguous()});
    numel += delta_on_device[i].numel();
  }
  const double dense_bytes = 4.0 * static_cast<double>(numel);
  // Baseline: a device-to-device copy of the dense delta's bytes.
  const torch::Tensor src = torch::ones({numel}, torch::TensorOptions().device(device));
  torch::Tensor dst = torch::empty_like(src);
  const double copy_s = best_seconds(std::max(reps, 5), device, [&] { dst.copy_(src); });
  json presets = json::array();
  for (const std::string name : {"int2-k32", "int8-k32", "sign-k8", "int2-k32-dct"}) {
    TESSERA_ASSIGN_OR_RETURN(auto settings, gradients::CodecSettings::from_preset(name));
    Status failed = Status::Ok();
    gradients::EncodedDelta device_encoded, host_encoded;
    const double device_s = best_seconds(reps, device, [&] {
      auto e = gradients::encode_delta(on_device, settings);
      if (e.ok()) device_encoded = std::move(*e); else failed = e.status();
    });
    const double host_s = best_seconds(reps, torch::kCPU, [&] {
      auto e = gradients::encode_delta(on_host, settings);
      if (e.ok()) host_encoded = std::move(*e); else failed = e.status();
    });
    TESSERA_RETURN_IF_ERROR(failed);
    gradients::UndoLog log;
    const double apply_s = best_seconds(reps, device, [&] {
      if (!failed.ok()) return;
      auto d = gradients::decode_delta(device_encoded.bytes, shapes, settings);
      if (!d.ok()) {
        failed = d.status();
        return;
      }
      auto applied = gradients::apply_delta(params, *d, 1.0f);
      if (!applied.ok()) {
        failed = applied.status();
        return;
      }
      failed = gradients::undo_delta(params, *applied);
    });
    TESSERA_RETURN_IF_ERROR(failed);
    presets.push_back({{"preset", name},
                       {"bytes", device_encoded.bytes.size()},
                       {"bytes_equal_cpu_encoder", device_encoded.bytes == host_encoded.bytes},
                       {"encode_device_gbps", dense_bytes / device_s / 1e9},
                       {"encode_cpu_gbps", dense_bytes / host_s / 1e9},
                       {"encode_device_vs_cpu", host_s / device_s},
                       {"decode_host_apply_undo_device_gbps", dense_bytes / apply_s / 1e9}});
  }
  *out = {{"dense_bytes", dense_bytes}, {"device_copy_gbps", 2.0 * dense_bytes / copy_s / 1e9}, {"presets", presets}};
  return Status::Ok();
}

// `count` submissions of random deltas at a training-like scale, each its own uid.
Result<std::vector<net::Submission>> make_submissions(const Run& run, const model::GPT& gpt, int count,
                                                      const std::string& base_hex) {
  TESSERA_ASSIGN_OR_RETURN(auto codec, gradients::CodecSettings::from_spec(run.spec.codec));
  const std::uint64_t num_pages = run.train->num_pages(run.spec.data.page_tokens);
  TESSERA_ASSIGN_OR_RETURN(const std::string base, from_hex(base_hex));
  std::vector<net::Submission> subs;
  const auto named = gpt->named_params();
  for (int i = 0; i < count; ++i) {
    torch::manual_seed(static_cast<std::uint64_t>(i) + 1);
    std::vector<gradients::IndexedTensor> delta;
    for (std::uint32_t j = 0; j < named.size(); ++j) {
      delta.push_back({j, torch::randn(named[j].second.sizes()) * 1e-3});
    }
    TESSERA_ASSIGN_OR_RETURN(auto encoded, gradients::encode_delta(delta, codec));
    TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(run.spec.seed, 0, static_cast<std::uint64_t>(i),
                                                               static_cast<std::uint64_t>(run.spec.data.pages_per_window),
                                                               num_pages));
    net::Submission s;
    s.header.set_netuid(1);
    s.header.set_window(0);
    s.header.set_uid(static_cast<std::uint32_t>(i));
    s.header.set_hotkey(std::string(32, static_cast<char>(i)));
    s.header.set_base_checkpoint(base);
    TESSERA_ASSIGN_OR_RETURN(std::string digest, from_hex(dataset::pages_digest(pages)));
    s.header.set_data_digest(digest);
    s.header.set_payload_hash(raw_bytes(blake2b_256(encoded.bytes)));
    s.header.set_codec(codec.name());
    s.payload = std::move(encoded.bytes);
    subs.push_back(std::move(s));
  }
  return subs;
}

Result<verification::WindowReport> evaluate_on(const Run& run, const torch::Device& device,
                                               const std::vector<net::Submission>& subs, const std::string& base) {
  model::GPT gpt = model::make_gpt(run.config, run.spec.seed);
  gpt->to(device);
  gpt->eval();
  verification::WindowContext ctx;
  ctx.spec = &run.spec;
  ctx.window = 0;
  ctx.base_hash = base;
  ctx.model = gpt;
  ctx.train = &*run.train;
  ctx.val = &*run.val;
  ctx.eval_seed = 7;
  TESSERA_ASSIGN_OR_RETURN(ctx.codec, gradients::CodecSettings::from_spec(run.spec.codec));
  return verification::evaluate_window(ctx, subs);
}

Status check_validator(const Run& run, int count, int agreement, json* out) {
  const std::string base(64, 'a');
  model::GPT gpt = model::make_gpt(run.config, run.spec.seed);
  TESSERA_ASSIGN_OR_RETURN(auto subs, make_submissions(run, gpt, count, base));
  TESSERA_ASSIGN_OR_RETURN(auto on_device, evaluate_on(run, run.device, subs, base));
  // Baseline: plain forward passes (the model's own loss) on the device, same batch shape.
  gpt->to(run.device);
  gpt->eval();
  auto batch = run.val->sample_batch(1, run.spec.validator.eval_batch_size, run.spec.train.seq_len);
  const torch::Tensor x = batch.first.to(run.device), y = batch.second.to(run.device);
  torch::NoGradGuard no_grad;
  (void)gpt->loss(x, y).item<double>();
  const int reps = 30;
  const double forward_s = best_seconds(1, run.device, [&] {
    for (int i = 0; i < reps; ++i) (void)gpt->loss(x, y).item<double>();
  });
  const double per_submission_s = on_device.seconds / count;
  json agreement_json = json::object();
  if (agreement > 0) {
    const std::vector<net::Submission> first(subs.begin(), subs.begin() + std::min<std::size_t>(agreement, subs.size()));
    TESSERA_ASSIGN_OR_RETURN(auto dev, evaluate_on(run, run.device, first, base));
    TESSERA_ASSIGN_OR_RETURN(auto cpu, evaluate_on(run, torch::kCPU, first, base));
    int same_outcome = 0;
    double max_score_diff = 0, max_gain_diff = 0;
    for (std::size_t i = 0; i < first.size(); ++i) {
      const auto& a = dev.evaluations[i];
      const auto& b = cpu.evaluations[i];
      same_outcome += a.outcome == b.outcome;
      max_score_diff = std::max(max_score_diff, std::abs(a.score - b.score));
      max_gain_diff = std::max({max_gain_diff, std::abs(a.gain_random - b.gain_random), std::abs(a.gain_own - b.gain_own)});
    }
    agreement_json = {{"submissions", first.size()},
                      {"same_outcome", same_outcome},
                      {"max_abs_score_difference", max_score_diff},
                      {"max_abs_gain_difference", max_gain_diff},
                      {"cpu_seconds", cpu.seconds},
                      {"device_seconds", dev.seconds}};
  }
  json outcomes = json::object();
  for (const auto& e : on_device.evaluations) outcomes[verification::outcome_name(e.outcome)] = outcomes.value(verification::outcome_name(e.outcome), 0) + 1;
  *out = {{"submissions", count},
          {"evaluated", on_device.loss_evaluated},
          {"outcomes", outcomes},
          {"eval_seconds", on_device.seconds},
          {"forward_passes_per_second", reps / forward_s},
          {"forward_equivalents_per_submission", per_submission_s * reps / forward_s},
          {"cpu_agreement", agreement_json}};
  return Status::Ok();
}

Status run(const Args& a) {
  Run r;
  TESSERA_ASSIGN_OR_RETURN(r.spec, load_run_spec(a.spec));
  if (!a.data.empty()) r.spec.data.dir = a.data;
  TESSERA_ASSIGN_OR_RETURN(r.config, model::resolve_config(r.spec.model));
  TESSERA_ASSIGN_OR_RETURN(r.device, model::resolve_device(a.device));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(r.spec.data.dir, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(r.spec.data.dir, "val"));
  r.train.emplace(std::move(train));
  r.val.emplace(std::move(val));
  const int threads = model::configure_cpu_threads(0);
  json out = {{"bench", "device_check"},
              {"spec", a.spec},
              {"model", r.config.describe()},
              {"device", r.device.str()},
              {"torch", model::describe_torch()},
              {"kernels", kernels::describe_devices()},
              {"compute_capability", kernels::cuda_compute_capability(r.device.has_index() ? r.device.index() : 0)},
              {"cpu_threads", threads}};
  const auto section = [&](const char* name, auto&& fn) -> Status {
    const auto t0 = Clock::now();
    json result;
    Status s = fn(&result);
    if (!s.ok()) result = {{"error", s.message()}};
    result["seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
    out[name] = result;
    std::fprintf(stderr, "device_check: %s %s in %.1fs\n", name, s.ok() ? "done" : "FAILED", result["seconds"].get<double>());
    return s;
  };
  std::vector<torch::Tensor> delta;
  Status miner = section("miner", [&](json* j) {
    auto d = check_miner(r, a.windows, j);
    if (d.ok()) delta = std::move(*d);
    return d.status();
  });
  Status codec = miner.ok() ? section("codec", [&](json* j) { return check_codec(r, delta, a.reps, j); })
                            : Status(FailedPrecondition("skipped: the miner check failed"));
  Status validator = section("validator", [&](json* j) { return check_validator(r, a.submissions, a.agreement, j); });
  out["ok"] = miner.ok() && codec.ok() && validator.ok();
  const std::string text = out.dump(2);
  std::printf("%s\n", text.c_str());
  if (!a.out.empty()) {
    std::ofstream f(a.out);
    f << text << "\n";
  }
  return out["ok"].get<bool>() ? Status::Ok() : Internal("a check failed (see the JSON)");
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  auto args = tessera::parse_args(argc, argv);
  if (!args.ok()) {
    if (args.status().message() != "help") std::fprintf(stderr, "error: %s\n", args.status().message().c_str());
    std::fprintf(stderr,
                 "usage: device_check --spec FILE [--data DIR] [--device cuda[:N]|cpu] [--windows 2] "
                 "[--submissions 32] [--agreement 8] [--reps 3] [--out FILE]\n");
    return args.status().message() == "help" ? 0 : 2;
  }
  const tessera::Status s = tessera::run(*args);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
