// `tessera bench miner` and `tessera bench validator`: one role's per-window work on the
// spec's model and corpus, with the machine's own baseline from the same run.
//   miner:     H inner steps (compute) vs error feedback + encode and the signed CURVE
//              submission over loopback (protocol overhead as a fraction of compute).
//              With a sharded spec (or --shards-per-miner) also the whole-model miner
//              in a child process: peak RSS, training state and step time side by side.
//   validator: 64 submissions received through a real submission server and evaluated,
//              against plain libtorch forward passes on the same batch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/process.h"
#include "core/rng.h"
#include "core/run_spec.h"
#include "dataset/token_dataset.h"
#include "gradients/error_feedback.h"
#include "model/device.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "model/runtime.h"
#include "net/submission.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"
#include "trainer/shard_assignment.h"
#include "verification/evaluator.h"

namespace tessera::cli {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double rss_mb(const char* field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::string(field).size())) / 1024.0;
  }
  return 0.0;
}

// A submission server on loopback that accepts every key in `uids` (hotkey → uid) at block 0.
struct LocalValidator {
  Keypair identity = Keypair::generate();
  net::CurveKeys curve;
  std::unique_ptr<net::SubmissionServer> server;
  std::map<std::string, std::uint32_t> uids;

  Status start(std::size_t queue, std::size_t max_payload) {
    TESSERA_ASSIGN_OR_RETURN(curve, net::CurveKeys::generate());
    net::ServerOptions o;
    o.netuid = 1;
    o.queue_capacity = queue;
    o.max_per_hotkey_per_window = 1000;
    o.max_payload_bytes = max_payload;
    o.uid_of = [this](const std::string& k) -> std::optional<std::uint32_t> {
      auto it = uids.find(k);
      if (it == uids.end()) return std::nullopt;
      return it->second;
    };
    o.current_block = [] { return std::uint64_t{0}; };
    TESSERA_ASSIGN_OR_RETURN(server, net::SubmissionServer::start(o, identity, curve));
    return Status::Ok();
  }
};

struct RunData {
  RunSpec spec;
  model::ModelConfig config;
  std::optional<dataset::TokenDataset> train, val;
};

Result<RunData> load_run(const std::string& spec_path, bool need_val) {
  RunData r;
  TESSERA_ASSIGN_OR_RETURN(r.spec, load_run_spec(spec_path));
  TESSERA_ASSIGN_OR_RETURN(r.config, model::resolve_config(r.spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(r.spec.data.dir, "train"));
  r.train.emplace(std::move(train));
  if (need_val) {
    TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(r.spec.data.dir, "val"));
    r.val.emplace(std::move(val));
  }
  return r;
}

// The miner bench on the whole model, in a child process of its own (peak RSS is per
// process): what a sharded run's figures are compared against. Returns its JSON.
Result<nlohmann::json> whole_model_miner_bench(const std::string& spec_path, int windows, const std::string& device,
                                               int shards) {
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / ("tessera-bench-miner-" + std::to_string(::getpid()) + ".json");
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  Subprocess child({exe, "bench", "miner", "--spec", spec_path, "--windows", std::to_string(windows), "--device", device,
                    "--shards", std::to_string(shards), "--whole-model", "--json"},
                   out, out.string() + ".log");
  int code = -1;
  if (!child.wait(std::chrono::hours(2), &code) || code != 0) {
    return Internal("the whole-model miner bench failed (exit " + std::to_string(code) + "; see " + out.string() + ".log)");
  }
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(out));
  std::error_code ec;
  std::filesystem::remove(out, ec);
  std::filesystem::remove(out.string() + ".log", ec);
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Internal(std::string("the whole-model miner bench printed no JSON: ") + e.what());
  }
}

// `bench miner --utilization`: miner compute utilization (time in training steps over the
// wall time of the windows, and the share of the cores' time the steps used: the two
// differ when the miners share cores) measured on a real subnet — `tessera demo`'s processes: the
// chain, two validators that judge and merge, four miners — twice in one run: with
// overlapped windows in a window sized to this machine, and as before them (miners wait
// for each checkpoint, the spec's window). Same spec, H, batch and threads in both.
Status run_miner_utilization_bench(const std::string& spec_path, int windows, bool json) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  const auto dir = std::filesystem::temp_directory_path() / ("tessera-bench-utilization-" + std::to_string(::getpid()));
  std::error_code made;
  std::filesystem::create_directories(dir, made);
  if (made) return IoError("cannot create " + dir.string() + ": " + made.message());
  nlohmann::json runs = nlohmann::json::object();
  for (const bool overlap : {true, false}) {
    const std::string name = overlap ? "overlapped" : "waiting";
    std::vector<std::string> argv = {exe, "demo", "--spec", spec_path, "--windows", std::to_string(windows), "--no-baseline",
                                     "--out", (dir / name).string()};
    if (!overlap) argv.insert(argv.end(), {"--no-overlap", "--window-blocks", "spec"});
    std::fprintf(stderr, "bench miner --utilization: %d windows, %s…\n", windows,
                 overlap ? "overlapped windows, window sized to this machine" : "miners wait for each checkpoint, the spec's window");
    Subprocess child(argv, dir / (name + ".log"));
    int code = -1;
    if (!child.wait(std::chrono::hours(1), &code) || code != 0) {
      return Internal("the " + name + " subnet run failed (exit " + std::to_string(code) + "; see " + (dir / (name + ".log")).string() + ")");
    }
    TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(dir / name / "summary.json"));
    nlohmann::json summary;
    try {
      summary = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      return Corrupted(std::string("summary.json of the ") + name + " run: " + e.what());
    }
    std::vector<double> u;
    for (const auto& m : summary["miners"]) u.push_back(m["compute_utilization"].get<double>());
    if (u.empty()) return Internal("the " + name + " run reported no miners");
    double mean = 0;
    for (double x : u) mean += x / static_cast<double>(u.size());
    runs[name] = {{"utilization_mean", mean},
                  {"utilization_min", *std::min_element(u.begin(), u.end())},
                  {"utilization_max", *std::max_element(u.begin(), u.end())},
                  {"miners_cpu_share_of_machine", summary.value("miners_cpu_share_of_machine", 0.0)},
                  {"miner_wall_time_shares", summary.value("miner_wall_time_shares", nlohmann::json())},
                  {"utilization_own_windows", summary.value("miner_utilization_own_windows", nlohmann::json())},
                  {"window_seconds", summary["window_seconds"]},
                  {"window_sizing", summary["window_sizing"]},
                  {"val_loss_end", summary["val_loss_end"]},
                  {"honest_acceptance_rate", summary["honest_acceptance_rate"]},
                  {"wall_seconds", summary.value("wall_seconds", nlohmann::json())}};
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  nlohmann::json out = {{"bench", "miner-utilization"}, {"spec", spec_path}, {"windows", windows}, {"runs", runs}};
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& [name, r] : runs.items()) {
      std::printf("%-10s utilization %.0f%% (%.0f–%.0f%% over the miners; their steps used %.0f%% of the cores' time) in "
                  "%.2f-s windows; validation loss %.4f\n",
                  name.c_str(), 100 * r["utilization_mean"].get<double>(), 100 * r["utilization_min"].get<double>(),
                  100 * r["utilization_max"].get<double>(), 100 * r["miners_cpu_share_of_machine"].get<double>(),
                  r["window_seconds"].get<double>(), r["val_loss_end"].get<double>());
      if (const auto& parts = r["miner_wall_time_shares"]; parts.is_object()) {
        std::printf("%-10s the rest of the miners' wall time: waiting %.0f%%, encoding, sending and pulling %.0f%%, "
                    "start-up and windows given up %.0f%%\n",
                    "", 100 * parts["waiting"].get<double>(), 100 * parts["exchange"].get<double>(),
                    100 * parts["rest"].get<double>());
      }
      if (const auto& own = r["utilization_own_windows"]; own.is_number()) {
        std::printf("%-10s over the windows each miner submitted to (not the whole run): %.0f%% in steps\n", "",
                    100 * own.get<double>());
      }
    }
  }
  return Status::Ok();
}

Status run_miner_bench(const std::string& spec_path, int windows, const std::string& device_name, bool json,
                       bool whole_model, int shards, int shards_per_miner, std::uint32_t uid) {
  TESSERA_ASSIGN_OR_RETURN(const torch::Device device, model::resolve_device(device_name));
  TESSERA_ASSIGN_OR_RETURN(RunData run, load_run(spec_path, false));
  if (shards > 0) run.spec.model.shards = shards;
  if (shards_per_miner >= 0) run.spec.model.shards_per_miner = shards_per_miner;
  if (whole_model) run.spec.model.shards_per_miner = 0;
  TESSERA_RETURN_IF_ERROR(model::resolve_config(run.spec.model).status());
  const RunSpec& spec = run.spec;
  const int threads = model::configure_cpu_threads(0);
  model::GPT gpt = model::make_gpt(run.config, spec.seed);
  gpt->to(device);
  auto optimizer = trainer::make_adamw(gpt, spec.train);
  gradients::ErrorFeedback ef(spec.codec.ef_beta);
  TESSERA_ASSIGN_OR_RETURN(auto codec, gradients::CodecSettings::from_spec(spec.codec));
  const Keypair miner = Keypair::generate();
  LocalValidator v;
  v.uids[raw_bytes(miner.public_key())] = uid;
  TESSERA_RETURN_IF_ERROR(v.start(16, static_cast<std::size_t>(spec.validator.max_payload_bytes)));
  TESSERA_ASSIGN_OR_RETURN(auto client, net::SubmissionClient::connect(v.server->endpoint(), v.curve.public_key));
  std::vector<torch::Tensor> start;
  for (const auto& t : model::snapshot_parameters(gpt)) start.push_back(t.to(torch::kCPU));
  trainer::InnerLoop inner{&spec};
  trainer::ShardAssignment assignment;
  nlohmann::json rows = nlohmann::json::array();
  double compute_sum = 0, encode_sum = 0, send_sum = 0;
  trainer::TrainingStateBytes state;
  for (int w = 0; w < windows; ++w) {
    TESSERA_RETURN_IF_ERROR(assignment.update(gpt, optimizer.get(), &ef, spec, static_cast<std::uint64_t>(w), uid).status());
    // uid 0's pages whatever --uid says: the whole-model baseline trains on the same tokens.
    TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, static_cast<std::uint64_t>(w), 0,
                                                               static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                               run.train->num_pages(spec.data.page_tokens)));
    const auto t0 = Clock::now();
    TESSERA_ASSIGN_OR_RETURN(auto trained, inner.run(gpt, *optimizer, start, *run.train, pages, static_cast<std::uint64_t>(w), 0));
    const double compute_s = since(t0);
    const auto t1 = Clock::now();
    std::vector<gradients::IndexedTensor> delta;
    std::int64_t dense = 0;
    for (std::uint32_t i : assignment.trained()) {
      delta.push_back({i, trained.delta[i]});
      dense += trained.delta[i].numel() * 4;
    }
    TESSERA_ASSIGN_OR_RETURN(auto encoded, ef.step(delta, codec));
    const double encode_s = since(t1);
    state = trainer::training_state_bytes(gpt, *optimizer, &ef);
    proto::SubmissionHeader h;
    h.set_netuid(1);
    h.set_window(0);
    h.set_uid(uid);
    h.set_hotkey(raw_bytes(miner.public_key()));
    h.set_validator(raw_bytes(v.identity.public_key()));
    h.set_base_checkpoint(std::string(32, 'c'));
    h.set_data_digest(std::string(32, 'd'));
    h.set_codec(codec.name());
    for (int shard : assignment.shards()) h.add_shards(static_cast<std::uint32_t>(shard));
    h.set_nonce(static_cast<std::uint64_t>(w) + 1);
    const auto t2 = Clock::now();
    TESSERA_ASSIGN_OR_RETURN(auto reply, client->submit(h, encoded.bytes, miner));
    const double send_s = since(t2);
    if (!reply.accepted()) return Internal("the local validator rejected the submission: " + reply.reason());
    v.server->pop(std::chrono::seconds(1));
    compute_sum += compute_s;
    encode_sum += encode_s;
    send_sum += send_s;
    rows.push_back({{"window", w}, {"compute_s", compute_s}, {"encode_s", encode_s}, {"send_s", send_s},
                    {"bytes_sent", encoded.bytes.size()}, {"dense_bytes", dense},
                    {"overhead_fraction", (encode_s + send_s) / compute_s}});
  }
  const auto& last = rows.back();
  nlohmann::json out = {{"bench", "miner"},
                        {"model", run.config.describe()},
                        {"device", device.str()},
                        {"threads", threads},
                        {"inner_steps", spec.train.inner_steps},
                        {"tokens_per_window", spec.train.inner_steps * spec.train.batch_size * spec.train.seq_len},
                        {"compute_s", last["compute_s"]},
                        {"encode_s", last["encode_s"]},
                        {"send_s", last["send_s"]},
                        {"bytes_sent", last["bytes_sent"]},
                        {"dense_bytes", last["dense_bytes"]},
                        {"overhead_fraction", last["overhead_fraction"]},
                        {"mean_overhead_fraction", (encode_sum + send_sum) / compute_sum},
                        {"peak_rss_mb", rss_mb("VmHWM:")},
                        {"shards", assignment.shards()},
                        {"shard_fraction", assignment.fraction()},
                        {"training_state_mb", {{"gradients", state.gradients / 1e6},
                                               {"optimizer", state.optimizer / 1e6},
                                               {"error_feedback", state.error_feedback / 1e6},
                                               {"total", state.total() / 1e6}}},
                        {"windows", rows}};
  if (spec.model.sharded()) {
    // The same bench on the whole model, same spec otherwise, in its own process.
    TESSERA_ASSIGN_OR_RETURN(const nlohmann::json full, whole_model_miner_bench(spec_path, windows, device_name, spec.model.shards));
    out["full_model_peak_rss_mb"] = full["peak_rss_mb"];
    out["full_model_compute_s"] = full["compute_s"];
    out["full_model_training_state_mb"] = full["training_state_mb"];
    out["peak_rss_vs_full_model"] = out["peak_rss_mb"].get<double>() / full["peak_rss_mb"].get<double>();
    out["compute_vs_full_model"] = out["compute_s"].get<double>() / full["compute_s"].get<double>();
    out["training_state_vs_full_model"] =
        out["training_state_mb"]["total"].get<double>() / full["training_state_mb"]["total"].get<double>();
  }
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& r : rows) {
      std::printf("window %d: compute %.3fs  encode %.4fs  send %.4fs  %lld B of %lld dense  overhead %.2f%%\n",
                  r["window"].get<int>(), r["compute_s"].get<double>(), r["encode_s"].get<double>(),
                  r["send_s"].get<double>(), r["bytes_sent"].get<long long>(), r["dense_bytes"].get<long long>(),
                  100 * r["overhead_fraction"].get<double>());
    }
    std::printf("peak RSS %.0f MB, training state %.1f MB (%.1f%% of the parameters trained)\n",
                out["peak_rss_mb"].get<double>(), out["training_state_mb"]["total"].get<double>(),
                100 * assignment.fraction());
    if (out.contains("full_model_peak_rss_mb")) {
      std::printf("whole model: peak RSS %.0f MB, training state %.1f MB, compute %.3fs\n",
                  out["full_model_peak_rss_mb"].get<double>(), out["full_model_training_state_mb"]["total"].get<double>(),
                  out["full_model_compute_s"].get<double>());
    }
  }
  return Status::Ok();
}

Status run_validator_bench(const std::string& spec_path, int count, const std::string& device_name, bool json) {
  TESSERA_ASSIGN_OR_RETURN(const torch::Device device, model::resolve_device(device_name));
  TESSERA_ASSIGN_OR_RETURN(RunData run, load_run(spec_path, true));
  const RunSpec& spec = run.spec;
  const int threads = model::configure_cpu_threads(0);
  model::GPT gpt = model::make_gpt(run.config, spec.seed);
  gpt->to(device);
  gpt->eval();
  TESSERA_ASSIGN_OR_RETURN(auto codec, gradients::CodecSettings::from_spec(spec.codec));
  const std::uint64_t num_pages = run.train->num_pages(spec.data.page_tokens);
  const std::string base = std::string(64, 'a');

  // `count` distinct submissions (random deltas of a training-like scale, each its own
  // uid and key) received through a real submission server: the queue holds their
  // compressed bytes only.
  LocalValidator v;
  std::vector<Keypair> keys;
  for (int i = 0; i < count; ++i) {
    keys.push_back(Keypair::generate());
    v.uids[raw_bytes(keys.back().public_key())] = static_cast<std::uint32_t>(i);
  }
  TESSERA_RETURN_IF_ERROR(v.start(static_cast<std::size_t>(count) + 1, static_cast<std::size_t>(spec.validator.max_payload_bytes)));
  TESSERA_ASSIGN_OR_RETURN(auto client, net::SubmissionClient::connect(v.server->endpoint(), v.curve.public_key));
  const double rss_before = rss_mb("VmRSS:");
  std::size_t queued_bytes = 0;
  const auto named = gpt->named_params();
  for (int i = 0; i < count; ++i) {
    torch::manual_seed(static_cast<std::uint64_t>(i) + 1);
    std::vector<gradients::IndexedTensor> delta;
    for (std::uint32_t j = 0; j < named.size(); ++j) delta.push_back({j, torch::randn(named[j].second.sizes()) * 1e-3});
    TESSERA_ASSIGN_OR_RETURN(auto encoded, gradients::encode_delta(delta, codec));
    TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, 0, static_cast<std::uint64_t>(i),
                                                               static_cast<std::uint64_t>(spec.data.pages_per_window), num_pages));
    proto::SubmissionHeader h;
    h.set_netuid(1);
    h.set_window(0);
    h.set_uid(static_cast<std::uint32_t>(i));
    h.set_hotkey(raw_bytes(keys[i].public_key()));
    h.set_validator(raw_bytes(v.identity.public_key()));
    h.set_base_checkpoint(*from_hex(base));
    h.set_data_digest(*from_hex(dataset::pages_digest(pages)));
    h.set_codec(codec.name());
    h.set_nonce(1);
    TESSERA_ASSIGN_OR_RETURN(auto reply, client->submit(h, encoded.bytes, keys[i]));
    if (!reply.accepted()) return Internal("submission " + std::to_string(i) + " rejected: " + reply.reason());
    queued_bytes += encoded.bytes.size();
  }
  const double rss_queued = rss_mb("VmRSS:");
  std::vector<net::Submission> subs;
  while (auto s = v.server->pop(std::chrono::milliseconds(100))) subs.push_back(std::move(*s));
  if (static_cast<int>(subs.size()) != count) return Internal("queued " + std::to_string(subs.size()) + " submissions");

  verification::WindowContext ctx;
  ctx.spec = &spec;
  ctx.window = 0;
  ctx.base_hash = base;
  ctx.model = gpt;
  ctx.train = &*run.train;
  ctx.val = &*run.val;
  ctx.eval_seed = 7;
  ctx.codec = codec;
  TESSERA_ASSIGN_OR_RETURN(auto report, verification::evaluate_window(ctx, subs));
  const double sps = count / report.seconds;

  // The machine's baseline: plain libtorch forward passes (loss) on a batch of the same shape.
  auto batch = run.val->sample_batch(1, spec.validator.eval_batch_size, spec.train.seq_len);
  const torch::Tensor x = batch.first.to(device), y = batch.second.to(device);
  torch::NoGradGuard no_grad;
  (void)gpt->loss(x, y);
  const int reps = 30;
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) (void)gpt->loss(x, y).item<double>();
  const double fps = reps / since(t0);
  nlohmann::json out = {{"bench", "validator"},
                        {"model", run.config.describe()},
                        {"device", device.str()},
                        {"threads", threads},
                        {"submissions", count},
                        {"evaluated", report.loss_evaluated},
                        {"eval_seconds", report.seconds},
                        {"forward_passes_used", report.forward_passes},
                        {"submissions_per_second", sps},
                        {"forward_passes_per_second", fps},
                        {"forward_equivalents_per_submission", fps / sps},
                        {"queued_payload_bytes", queued_bytes},
                        {"rss_before_queue_mb", rss_before},
                        {"rss_with_queue_mb", rss_queued},
                        {"peak_rss_mb", rss_mb("VmHWM:")}};
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%d submissions in %.2fs: %.1f/s; forward passes %.1f/s; %.2f forward equivalents per submission; "
                "peak RSS %.0f MB (%.1f MB of payloads queued)\n",
                count, report.seconds, sps, fps, fps / sps, out["peak_rss_mb"].get<double>(), queued_bytes / 1e6);
  }
  return Status::Ok();
}

}  // namespace

void add_role_bench_commands(CLI::App* bench, int* exit_code) {
  static std::string spec_path = "examples/tiny.toml", device = "cpu";
  static int windows = 3, count = 64;
  static bool json = false, whole_model = false;
  static int shards = 0, shards_per_miner = -1;
  static std::uint32_t uid = 0;
  auto* miner = bench->add_subcommand("miner", "One miner window: compute vs encode + send, peak memory");
  miner->add_option("--spec", spec_path, "Run spec");
  miner->add_option("--windows", windows, "Windows to run (the last is reported; all are listed)")->check(CLI::Range(1, 1000));
  miner->add_option("--device", device, "cpu | cuda | cuda:N");
  miner->add_flag("--json", json, "Print JSON");
  miner->add_flag("--whole-model", whole_model,
                  "Train every parameter even when the spec shards the model (a sharded spec runs this too, in a child "
                  "process, as its baseline)");
  miner->add_option("--uid", uid, "The miner's uid: which shards it is assigned (default 0)");
  miner->add_option("--shards", shards, "Override model.shards (S)")->check(CLI::Range(1, 1024));
  miner->add_option("--shards-per-miner", shards_per_miner, "Override model.shards_per_miner (k < S: train k shards)")
      ->check(CLI::Range(0, 1024));
  static bool utilization = false;
  miner->add_flag("--utilization", utilization,
                  "Compute utilization over --windows windows of a real subnet (tessera demo's processes), with and without "
                  "overlapped windows");
  miner->callback([exit_code] {
    *exit_code = report(utilization ? run_miner_utilization_bench(spec_path, windows, json)
                                    : run_miner_bench(spec_path, windows, device, json, whole_model, shards, shards_per_miner, uid));
  });
  auto* validator = bench->add_subcommand("validator", "Evaluation cost per submission in forward-pass equivalents");
  validator->add_option("--spec", spec_path, "Run spec");
  validator->add_option("--submissions", count, "Submissions queued and evaluated")->check(CLI::Range(1, 100000));
  validator->add_option("--device", device, "cpu | cuda | cuda:N");
  validator->add_flag("--json", json, "Print JSON");
  validator->callback([exit_code] { *exit_code = report(run_validator_bench(spec_path, count, device, json)); });
}

}  // namespace tessera::cli
