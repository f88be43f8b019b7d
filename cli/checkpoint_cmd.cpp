// `tessera checkpoint …`: serve a checkpoint store, pull a checkpoint with verification.
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <unistd.h>

#include "aggregator/window.h"
#include "chain-bridge/client.h"
#include "checkpoints/export.h"
#include "checkpoints/parameters.h"
#include "checkpoints/service.h"
#include "cli/checkpoint_use.h"
#include "cli/commands.h"
#include "subnet/join.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/run_spec.h"

namespace tessera::cli {

namespace {
using Clock = std::chrono::steady_clock;

// One line, rewritten in place: bar, bytes, rate, ETA. Only on a terminal: a log file or
// a pipe gets no carriage-return noise.
class ProgressBar {
 public:
  void update(std::uint64_t done, std::uint64_t total) {
    if (!tty_) return;
    const double s = std::chrono::duration<double>(Clock::now() - start_).count();
    if (done < total && s - last_ < 0.1) return;
    last_ = s;
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const int width = 30, filled = static_cast<int>(frac * width);
    const double rate = s > 0 ? static_cast<double>(done) / s : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
    std::fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %.1f / %.1f MB  %.1f MB/s  ETA %.0fs ", filled,
                 "==============================", width - filled, "", frac * 100, done / 1e6, total / 1e6, rate / 1e6, eta);
    if (done >= total) std::fprintf(stderr, "\n");
  }

 private:
  bool tty_ = ::isatty(STDERR_FILENO) != 0;
  Clock::time_point start_ = Clock::now();
  double last_ = -1;
};

Status run_serve(const std::string& store_dir, const std::string& listen, int data_port, const std::string& metrics_listen) {
  TESSERA_ASSIGN_OR_RETURN(auto metrics, serve_metrics(metrics_listen));
  TESSERA_ASSIGN_OR_RETURN(auto store, checkpoints::CheckpointStore::open_read_only(store_dir));
  TESSERA_ASSIGN_OR_RETURN(auto server, checkpoints::CheckpointServer::start(&store, listen, data_port));
  std::printf("serving checkpoints of %s on port %d (gRPC), data plane on port %d\n", store_dir.c_str(), server->port(),
              server->data_port());
  std::fflush(stdout);
  install_interrupt_handler();
  while (!interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server->stop();
  return Status::Ok();
}

// The extra file(s) a --format asks for, beside the checkpoint's own safetensors.
Status write_export(const checkpoints::Checkpoint& checkpoint, const std::string& format, const std::filesystem::path& out) {
  if (format == "safetensors") return Status::Ok();
  TESSERA_ASSIGN_OR_RETURN(int heads, checkpoints::heads_from_description(checkpoint.manifest.model));
  const checkpoints::NamedTensors model = checkpoints::model_named_parameters(checkpoint);
  if (format == "llmc") {
    TESSERA_ASSIGN_OR_RETURN(std::string bytes, checkpoints::encode_llmc(model, heads));
    const auto path = out / "model.llmc.bin";
    TESSERA_RETURN_IF_ERROR(write_file_atomic(path, bytes));
    std::printf("llm.c GPT-2 checkpoint (header version 3, fp32) -> %s (%.1f MB)\n", path.c_str(), bytes.size() / 1e6);
    return Status::Ok();
  }
  const auto dir = out / "hf";
  TESSERA_RETURN_IF_ERROR(checkpoints::write_hf_gpt2(dir, model, heads));
  std::printf("Hugging Face GPT2LMHeadModel -> %s (config.json, model.safetensors); tokens are bytes (ids 0-255),\n"
              "load with: GPT2LMHeadModel.from_pretrained(\"%s\")  (docs/checkpoints.md)\n",
              dir.c_str(), dir.c_str());
  return Status::Ok();
}

Status check_format(const std::string& format, bool allow_plain) {
  if (format == "llmc" || format == "hf" || (allow_plain && format == "safetensors")) return Status::Ok();
  return InvalidArgument("--format " + format + ": use " + (allow_plain ? "safetensors, " : "") + "llmc or hf");
}

}  // namespace

Result<checkpoints::PullResult> pull_with_flags(const PullFlags& f, bool show_progress) {
  if (!(f.deadline_s > 0)) return InvalidArgument("--deadline must be positive seconds");
  checkpoints::PullOptions o;
  if (!f.from.empty()) {
    o.address = f.from.front();
    o.mirrors.assign(f.from.begin() + 1, f.from.end());
  }
  o.expected_hash = f.hash;
  o.out = f.out;
  o.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(f.deadline_s * 1000));
  o.min_bytes_per_second = static_cast<std::uint64_t>(f.min_rate_kib * 1024);
  if (f.netuid != 0) {
    // The chain's announcement says which hash to expect and where it is served.
    TESSERA_ASSIGN_OR_RETURN(auto client, chain::connect_chain(f.chain.empty() ? chain::default_chain_address() : f.chain));
    TESSERA_RETURN_IF_ERROR(subnet::designate_aggregator(*client, f.netuid, f.aggregator));
    std::optional<std::uint64_t> w;
    if (f.window >= 0) w = static_cast<std::uint64_t>(f.window);
    TESSERA_ASSIGN_OR_RETURN(auto announced, client->checkpoint(f.netuid, w));
    if (!announced) return NotFound("subnet " + std::to_string(f.netuid) + " has no announced checkpoint" + (w ? " for that window" : ""));
    const std::string announced_hash = to_hex(std::string_view(announced->hash));
    if (!o.expected_hash.empty() && o.expected_hash != announced_hash) {
      return InvalidArgument("--hash " + o.expected_hash.substr(0, 16) + "… is not the checkpoint subnet " +
                             std::to_string(f.netuid) + " announced (" + announced_hash.substr(0, 16) + "…)");
    }
    o.expected_hash = announced_hash;
    o.expected_signer = to_hex(std::string_view(announced->announcer));
    // The announced server first; the --from addresses serve as mirrors after it.
    if (!announced->address.empty()) {
      if (!o.address.empty()) o.mirrors.insert(o.mirrors.begin(), o.address);
      o.address = announced->address;
    }
  }
  if (o.address.empty()) return InvalidArgument("give --from ADDR or --netuid N (the chain announces the address)");
  ProgressBar bar;
  if (!show_progress) return checkpoints::pull_checkpoint(o);
  return checkpoints::pull_checkpoint(o, [&](auto done, auto total) { bar.update(done, total); });
}

Result<checkpoints::Checkpoint> checkpoint_for_use(const GlobalOptions& global, const std::string& folder,
                                                   std::uint32_t netuid, const std::string& chain) {
  if (!folder.empty() && netuid != 0) return InvalidArgument("give either --checkpoint DIR or --netuid N, not both");
  if (!folder.empty()) {
    TESSERA_ASSIGN_OR_RETURN(auto checkpoint, checkpoints::read_checkpoint_folder(folder));
    std::fprintf(stderr, "checkpoint %s… (window %llu) from %s, checked against its own manifest only\n",
                 checkpoint.hash.substr(0, 16).c_str(), static_cast<unsigned long long>(checkpoint.manifest.window),
                 folder.c_str());
    return checkpoint;
  }
  if (netuid == 0) return InvalidArgument("give --checkpoint DIR or --netuid N");
  PullFlags f;
  f.netuid = netuid;
  f.chain = chain;
  f.out = (home_path(global) / "pulled" / ("subnet-" + std::to_string(netuid))).string();
  TESSERA_ASSIGN_OR_RETURN(auto r, pull_with_flags(f, true));
  std::fprintf(stderr, "checkpoint %s… (window %llu) of subnet %u pulled from %s; verified against %s\n",
               r.hash.substr(0, 16).c_str(), static_cast<unsigned long long>(r.checkpoint.manifest.window), netuid,
               r.source.c_str(), r.verified.c_str());
  return std::move(r.checkpoint);
}

namespace {

Status run_pull(const PullFlags& f) {
  TESSERA_RETURN_IF_ERROR(check_format(f.format, true));
  TESSERA_ASSIGN_OR_RETURN(auto r, pull_with_flags(f, true));
  std::printf("checkpoint %s pulled from %s: %.1f MB in %.2fs over %s%s -> %s/model.safetensors\n", r.hash.c_str(),
              r.source.c_str(), r.bytes / 1e6, r.seconds, r.transport.c_str(),
              r.resumed_from ? (" (resumed at byte " + std::to_string(r.resumed_from) + ")").c_str() : "", f.out.c_str());
  std::printf("verified: every tensor against the manifest; the manifest against %s\n", r.verified.c_str());
  return write_export(r.checkpoint, f.format, f.out);
}

Status run_export(const std::string& folder, const std::string& format, const std::string& out) {
  TESSERA_RETURN_IF_ERROR(check_format(format, false));
  TESSERA_ASSIGN_OR_RETURN(auto checkpoint, checkpoints::read_checkpoint_folder(folder));
  std::printf("checkpoint %s (window %llu, %s): checked against its own manifest only\n", checkpoint.hash.c_str(),
              static_cast<unsigned long long>(checkpoint.manifest.window), checkpoint.manifest.model.c_str());
  return write_export(checkpoint, format, out);
}
// Recomputes the checkpoint that followed window W's and compares it with the chain.
// On a chain that keeps no spec or aggregator (subtensor), `run` gives them (--spec,
// --spec-hash, --aggregator) as the roles take them.
Status run_verify(std::uint32_t netuid, std::uint64_t window, const std::string& chain_address, const std::string& work,
                  const subnet::JoinOptions& run) {
  TESSERA_ASSIGN_OR_RETURN(auto client, chain::connect_chain(chain_address.empty() ? chain::default_chain_address()
                                                                                           : chain_address));
  TESSERA_RETURN_IF_ERROR(subnet::designate_aggregator(*client, netuid, run.aggregator));
  TESSERA_ASSIGN_OR_RETURN(auto subnet, client->subnet(netuid));
  subnet::JoinOptions spec_source = run;
  spec_source.netuid = netuid;
  TESSERA_ASSIGN_OR_RETURN(const std::string spec_toml, subnet::resolve_spec(spec_source, subnet.spec_toml, subnet.spec_hash));
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, parse_run_spec(spec_toml, "subnet " + std::to_string(netuid) + " run spec"));
  TESSERA_ASSIGN_OR_RETURN(auto parent_info, client->checkpoint(netuid, window));
  if (!parent_info) return NotFound("subnet " + std::to_string(netuid) + " announced no checkpoint for window " + std::to_string(window));
  std::optional<chain::CheckpointInfo> child_info;
  for (std::uint64_t w = window + 1; w <= window + 64 && !child_info; ++w) {
    TESSERA_ASSIGN_OR_RETURN(child_info, client->checkpoint(netuid, w));
  }
  if (!child_info) return NotFound("no checkpoint was announced after window " + std::to_string(window) + " (yet)");
  const std::filesystem::path dir = work.empty() ? std::filesystem::temp_directory_path() /
                                                       ("tessera-verify-" + std::to_string(::getpid()))
                                                 : std::filesystem::path(work);
  auto pull = [&](const chain::CheckpointInfo& info, const std::string& name) -> Result<checkpoints::Checkpoint> {
    checkpoints::PullOptions o;
    o.address = info.address;
    o.expected_hash = to_hex(std::string_view(info.hash));
    o.expected_signer = to_hex(std::string_view(info.announcer));
    o.out = dir / name;
    TESSERA_ASSIGN_OR_RETURN(auto r, checkpoints::pull_checkpoint(o));
    return std::move(r.checkpoint);
  };
  TESSERA_ASSIGN_OR_RETURN(auto parent, pull(*parent_info, "parent"));
  TESSERA_ASSIGN_OR_RETURN(auto child, pull(*child_info, "child"));
  std::vector<std::string> payloads;
  for (const auto& a : child.manifest.accepted) {
    auto blob = checkpoints::fetch_blob(child_info->address, a.payload_hash,
                                       static_cast<std::uint64_t>(spec.validator.max_payload_bytes));
    if (!blob.ok()) return blob.status().with_context("payload of uid " + std::to_string(a.uid));
    payloads.push_back(std::move(*blob));
  }
  Status verified = aggregator::verify_transition(spec, parent, child, payloads);
  if (work.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TESSERA_RETURN_IF_ERROR(verified);
  std::printf("window %llu: recomputed checkpoint %s (window %llu) from %s and %zu accepted payloads — matches the chain\n",
              static_cast<unsigned long long>(window), child.hash.c_str(),
              static_cast<unsigned long long>(child.manifest.window), parent.hash.substr(0, 16).c_str(), payloads.size());
  return Status::Ok();
}
}  // namespace

void add_checkpoint_commands(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto* cp = app.add_subcommand("checkpoint", "Serve and pull verified checkpoints");
  cp->require_subcommand(1);
  auto* serve = cp->add_subcommand("serve", "Serve a checkpoint store over gRPC (CheckpointService)");
  static std::string store_dir, listen = "127.0.0.1:7800";
  serve->add_option("--store", store_dir, "Checkpoint store folder")->required();
  static int data_port = 0;
  serve->add_option("--listen", listen, "gRPC address");
  serve->add_option("--data-port", data_port, "TCP port of the raw data plane on the same host (0: any free port)")
      ->check(CLI::Range(0, 65535));
  static std::string serve_metrics_listen;
  add_metrics_option(serve, &serve_metrics_listen);
  serve->callback([exit_code] { *exit_code = report(run_serve(store_dir, listen, data_port, serve_metrics_listen)); });

  auto* pull = cp->add_subcommand("pull", "Download a checkpoint, resume if interrupted, verify every tensor");
  static PullFlags pf;
  pull->add_option("--from", pf.from,
                   "CheckpointService address; repeat to give mirrors, tried in order (with --netuid: after the announced one)");
  pull->add_option("--hash", pf.hash, "Expected checkpoint hash (hex)");
  pull->add_option("--netuid", pf.netuid, "Take the expected hash, signer and address from this subnet's announcement");
  pull->add_option("--window", pf.window, "Announced window (default: the latest)");
  pull->add_option("--chain", pf.chain, "Chain node address");
  pull->add_option("--aggregator", pf.aggregator,
                   "On subtensor: the aggregator's hotkey (SS58 or hex) the subnet's owner designated; only its signed "
                   "announcements count");
  pull->add_option("--out", pf.out, "Output folder")->required();
  pull->add_option("--format", pf.format,
                   "safetensors; llmc: also write llm.c's GPT-2 checkpoint (model.llmc.bin); hf: also write a Hugging Face "
                   "GPT2LMHeadModel folder (hf/)");
  pull->add_option("--deadline", pf.deadline_s, "Give up after this many seconds, every source included (default 1800)");
  pull->add_option("--min-rate", pf.min_rate_kib,
                   "KiB/s a source must average after its first 10 s, or the next source is tried (default 256; 0: none)");
  pull->callback([exit_code] { *exit_code = report(run_pull(pf)); });

  auto* exp = cp->add_subcommand("export", "Write a local checkpoint in another tool's format (Hugging Face, llm.c)");
  static std::string export_from, export_format = "hf", export_out;
  exp->add_option("--checkpoint", export_from, "A folder `checkpoint pull` wrote, or a checkpoint store (its latest)")->required();
  exp->add_option("--format", export_format, "hf: config.json + model.safetensors for GPT2LMHeadModel (in OUT/hf); llmc")
      ->capture_default_str();
  exp->add_option("--out", export_out, "Output folder")->required();
  exp->callback([exit_code] { *exit_code = report(run_export(export_from, export_format, export_out)); });

  auto* verify = cp->add_subcommand("verify", "Recompute the checkpoint after window W from C_W and the accepted payloads");
  static std::uint64_t verify_window = 0;
  static std::uint32_t verify_netuid = 0;
  static std::string work, verify_chain;
  verify->add_option("--netuid", verify_netuid, "Subnet id")->required();
  verify->add_option("--window", verify_window, "Window of the parent checkpoint C_W")->required();
  verify->add_option("--chain", verify_chain, "Chain node address");
  verify->add_option("--work-dir", work, "Where to keep the pulled checkpoints (default: a temporary folder)");
  static subnet::JoinOptions verify_run;
  verify->add_option("--spec", verify_run.spec_file, "On subtensor: the run spec file (checked against --spec-hash)");
  verify->add_option("--spec-hash", verify_run.spec_hash, "On subtensor: the run spec hash the owner published");
  verify->add_option("--aggregator", verify_run.aggregator, "On subtensor: the designated aggregator's hotkey");
  verify->callback(
      [exit_code] { *exit_code = report(run_verify(verify_netuid, verify_window, verify_chain, work, verify_run)); });
}

}  // namespace tessera::cli
