// A trained model the size of the run's preset (gpt2-124m by default) the whole way
// through the checkpoint path, as the processes do it: C_0 from the run's initialisation
// is published by an aggregator's store; M miners each train one window of the real inner
// loop on their assigned pages and encode their pseudo-gradient with error feedback; the
// payloads are stored as blobs and merged into C_1 with its merged update; a follower with
// nothing of its own pulls C_0 from the CheckpointService and catches up to C_1 by the
// update; `checkpoint verify`'s path fetches the payloads from the server and recomputes
// C_1 bit for bit. The test suite runs the same path with synthetic weights
// (tests/aggregator/scale_test.cpp); this is the trained run, too slow for CI.
//
// Prints one JSON object: sizes, the miners' losses, C_0 → C_1 held-out loss, and the time
// of each step beside its baseline in the same run — the pull against a durable copy of
// the same model file on the same disk (what a pull, which must be durable, is bound by).
//
//   build/bench/checkpoint_scale --spec examples/gpt2-124m.toml --miners 2 --inner-steps 2
//       [--topk 128 --quant int8]   (payloads over 4 MiB)
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "aggregator/window.h"
#include "checkpoints/follower.h"
#include "checkpoints/service.h"
#include "checkpoints/update.h"
#include "core/hash.h"
#include "core/run_spec.h"
#include "dataset/token_dataset.h"
#include "gradients/codec.h"
#include "gradients/error_feedback.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "model/runtime.h"
#include "trainer/baseline.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string spec = "examples/gpt2-124m.toml";
  int miners = 2;
  int inner_steps = 0;   // 0: the spec's
  int eval_batches = 2;  // held-out batches for the C_0 → C_1 loss
  int threads = 0;
  int topk = 0;       // codec overrides (0 / "": the spec's)
  std::string quant;
  std::string dir;  // working folder (default: a fresh one under the temp dir)
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::uint64_t peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) / 1024;
  }
  return 0;
}

// The baseline of a pull: the same bytes copied to a file on the same disk and fsynced.
Result<double> durable_copy_seconds(const fs::path& from, const fs::path& to) {
  const auto t0 = std::chrono::steady_clock::now();
  const int in = ::open(from.c_str(), O_RDONLY);
  if (in < 0) return IoError("cannot open " + from.string());
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) {
    ::close(in);
    return IoError("cannot create " + to.string());
  }
  std::vector<char> buffer(8u << 20);
  bool ok = true;
  for (ssize_t n; (n = ::read(in, buffer.data(), buffer.size())) > 0;) {
    if (::write(out, buffer.data(), static_cast<std::size_t>(n)) != n) ok = false;
  }
  ok = ok && ::fsync(out) == 0;
  ::close(in);
  ::close(out);
  if (!ok) return IoError("copying " + from.string() + " failed");
  return seconds_since(t0);
}

Status run(const Options& opt) {
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(opt.spec));
  if (opt.inner_steps > 0) spec.train.inner_steps = opt.inner_steps;
  if (opt.topk > 0) spec.codec.topk = opt.topk;
  if (!opt.quant.empty()) spec.codec.quant = opt.quant;
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(spec.data.dir, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(spec.data.dir, "val"));
  model::configure_cpu_threads(opt.threads);
  const fs::path dir = opt.dir.empty() ? fs::temp_directory_path() / ("tessera-checkpoint-scale-" + std::to_string(::getpid()))
                                       : fs::path(opt.dir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  nlohmann::json out = {{"spec", opt.spec}, {"preset", spec.model.preset}, {"miners", opt.miners},
                        {"inner_steps", spec.train.inner_steps}, {"batch_size", spec.train.batch_size},
                        {"seq_len", spec.train.seq_len}, {"codec", spec.codec.quant + "-k" + std::to_string(spec.codec.topk)}};

  // C_0, published.
  const Keypair aggregator = Keypair::generate();
  TESSERA_ASSIGN_OR_RETURN(auto store, checkpoints::CheckpointStore::open(dir / "store"));
  TESSERA_ASSIGN_OR_RETURN(auto init, aggregator::initial_checkpoint(spec, 0));
  checkpoints::Checkpoint parent{init.manifest, init.tensors, ""};
  TESSERA_ASSIGN_OR_RETURN(parent.hash, store.put(parent.tensors, parent.manifest, aggregator));
  // The model's parameters lead the checkpoint's tensors (outer momentum buffers follow).
  const std::size_t n_params = model::snapshot_parameters(model::make_gpt(config, spec.seed)).size();
  std::int64_t params = 0;
  std::vector<torch::Tensor> theta;
  std::vector<std::vector<std::int64_t>> shapes;
  for (std::size_t i = 0; i < n_params && i < parent.tensors.size(); ++i) {
    const torch::Tensor& t = parent.tensors[i].second;
    params += t.numel();
    theta.push_back(t);
    shapes.push_back(t.sizes().vec());
  }
  out["parameters"] = params;
  const fs::path model_file = dir / "store" / "objects" / parent.hash / "model.safetensors";
  out["model_bytes"] = fs::file_size(model_file);
  std::fprintf(stderr, "C_0 %s…: %lld parameters, %.0f MB\n", parent.hash.substr(0, 16).c_str(),
               static_cast<long long>(params), static_cast<double>(fs::file_size(model_file)) / 1e6);

  // One window of each miner: the real inner loop, error feedback, the run's codec.
  TESSERA_ASSIGN_OR_RETURN(auto codec, gradients::CodecSettings::from_spec(spec.codec));
  trainer::InnerLoop loop{&spec, spec.train.inner_steps};
  const auto num_pages = train.num_pages(static_cast<std::uint64_t>(spec.data.page_tokens));
  std::vector<std::string> payloads;
  std::vector<checkpoints::AcceptedEntry> accepted;
  nlohmann::json miners = nlohmann::json::array();
  for (int uid = 0; uid < opt.miners; ++uid) {
    auto model = model::make_gpt(config, spec.seed);
    auto optimizer = trainer::make_adamw(model, spec.train);
    gradients::ErrorFeedback ef(spec.codec.ef_beta);
    TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, 0, static_cast<std::uint64_t>(uid),
                                                              static_cast<std::uint64_t>(spec.data.pages_per_window), num_pages));
    const auto t0 = std::chrono::steady_clock::now();
    TESSERA_ASSIGN_OR_RETURN(auto inner, loop.run(model, *optimizer, theta, train, pages, 0, static_cast<std::uint64_t>(uid)));
    const double train_s = seconds_since(t0);
    std::vector<gradients::IndexedTensor> indexed;
    for (std::size_t i = 0; i < inner.delta.size(); ++i) indexed.push_back({static_cast<std::uint32_t>(i), inner.delta[i]});
    const auto e0 = std::chrono::steady_clock::now();
    TESSERA_ASSIGN_OR_RETURN(auto encoded, ef.step(indexed, codec));
    const double encode_s = seconds_since(e0);
    const std::string hash = to_hex(blake2b_256(encoded.bytes));
    TESSERA_RETURN_IF_ERROR(store.put_blob(hash, encoded.bytes));
    accepted.push_back({static_cast<std::uint32_t>(uid), Keypair::generate().public_hex(), hash, 1.0});
    miners.push_back({{"uid", uid}, {"first_loss", inner.first_loss}, {"last_loss", inner.last_loss}, {"train_s", train_s},
                      {"encode_s", encode_s}, {"payload_bytes", encoded.bytes.size()}});
    std::fprintf(stderr, "miner %d: loss %.4f → %.4f in %.1f s, payload %.1f MB\n", uid, inner.first_loss, inner.last_loss,
                 train_s, static_cast<double>(encoded.bytes.size()) / 1e6);
    payloads.push_back(std::move(encoded.bytes));
  }
  out["miner_windows"] = miners;

  // C_1: the merge and the outer step, as the aggregator stores them.
  std::vector<gradients::DecodedDelta> decoded;
  for (const auto& p : payloads) {
    TESSERA_ASSIGN_OR_RETURN(auto d, gradients::decode_delta(p, shapes, codec));
    decoded.push_back(std::move(d));
  }
  std::vector<const gradients::DecodedDelta*> deltas;
  for (const auto& d : decoded) deltas.push_back(&d);
  auto m0 = std::chrono::steady_clock::now();
  TESSERA_ASSIGN_OR_RETURN(auto next, aggregator::next_checkpoint(spec, parent, 1, accepted, deltas));
  TESSERA_ASSIGN_OR_RETURN(const std::string child_hash, store.put(next.tensors, next.manifest, aggregator));
  TESSERA_ASSIGN_OR_RETURN(const std::string update, checkpoints::make_update(parent, next.tensors, child_hash));
  TESSERA_RETURN_IF_ERROR(store.put_update(child_hash, update));
  out["merge_and_store_s"] = seconds_since(m0);
  out["update_bytes"] = update.size();
  decoded.clear();

  // Held-out loss of C_0 and C_1 on the run's validation batches.
  {
    auto batches = trainer::validation_batches(spec, val);
    if (batches.size() > static_cast<std::size_t>(opt.eval_batches)) batches.resize(static_cast<std::size_t>(opt.eval_batches));
    auto model = model::make_gpt(config, spec.seed);
    TESSERA_RETURN_IF_ERROR(model::load_parameters(model, theta));
    out["val_loss_c0"] = trainer::evaluate_loss(model, batches);
    std::vector<torch::Tensor> next_theta;
    for (std::size_t i = 0; i < theta.size(); ++i) next_theta.push_back(next.tensors[i].second);
    TESSERA_RETURN_IF_ERROR(model::load_parameters(model, next_theta));
    out["val_loss_c1"] = trainer::evaluate_loss(model, batches);
    out["val_batches"] = batches.size();
  }
  next.tensors.clear();

  // A follower with nothing of its own: C_0 by a full pull, C_1 by the merged update.
  TESSERA_ASSIGN_OR_RETURN(auto server, checkpoints::CheckpointServer::start(&store, "127.0.0.1:0"));
  const std::string announcer(reinterpret_cast<const char*>(aggregator.public_key().data()), 32);
  checkpoints::CheckpointFollower follower(nullptr, 1, dir / "follower");
  auto p0 = std::chrono::steady_clock::now();
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* c0,
                           follower.load({0, *from_hex(parent.hash), server->address(), 1, announcer}));
  out["pull_s"] = seconds_since(p0);
  out["pull_bytes"] = follower.stats().bytes_pulled;
  if (c0->hash != parent.hash) return Internal("the follower loaded another C_0");
  TESSERA_ASSIGN_OR_RETURN(out["durable_copy_s"], durable_copy_seconds(model_file, dir / "copy.safetensors"));
  fs::remove(dir / "copy.safetensors");
  auto u0 = std::chrono::steady_clock::now();
  TESSERA_ASSIGN_OR_RETURN(const checkpoints::Checkpoint* c1,
                           follower.load({1, *from_hex(child_hash), server->address(), 2, announcer}));
  out["follow_update_s"] = seconds_since(u0);
  out["follow_by_update"] = follower.stats().updates == 1;
  if (c1->hash != child_hash) return Internal("the follower loaded another C_1");

  // `checkpoint verify`: the payloads from the server, the transition recomputed.
  auto v0 = std::chrono::steady_clock::now();
  std::vector<std::string> fetched;
  for (const auto& a : c1->manifest.accepted) {
    TESSERA_ASSIGN_OR_RETURN(auto blob, checkpoints::fetch_blob(server->address(), a.payload_hash,
                                                                static_cast<std::uint64_t>(spec.validator.max_payload_bytes)));
    fetched.push_back(std::move(blob));
  }
  TESSERA_ASSIGN_OR_RETURN(auto parent_again, store.get(parent.hash));
  const Status verified = aggregator::verify_transition(spec, parent_again, *c1, fetched);
  out["verify_s"] = seconds_since(v0);
  out["verified"] = verified.ok();
  if (!verified.ok()) out["verify_error"] = verified.message();
  out["peak_rss_mb"] = peak_rss_mb();
  server->stop();
  fs::remove_all(dir);
  std::printf("%s\n", out.dump(2).c_str());
  return verified;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--spec") opt.spec = value();
    else if (a == "--miners") opt.miners = std::stoi(value());
    else if (a == "--inner-steps") opt.inner_steps = std::stoi(value());
    else if (a == "--eval-batches") opt.eval_batches = std::stoi(value());
    else if (a == "--threads") opt.threads = std::stoi(value());
    else if (a == "--dir") opt.dir = value();
    else if (a == "--topk") opt.topk = std::stoi(value());
    else if (a == "--quant") opt.quant = value();
    else {
      std::fprintf(stderr, "usage: checkpoint_scale [--spec FILE] [--miners M] [--inner-steps H] [--eval-batches N] "
                           "[--threads T] [--topk K] [--quant Q] [--dir DIR]\n");
      return 2;
    }
  }
  const Status s = run(opt);
  if (!s.ok()) {
    std::fprintf(stderr, "checkpoint_scale: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}
