// `tessera demo`: a whole subnet on this machine, as separate processes on loopback —
// the embedded chain node, the subnet created by its owner from a run spec, validators
// (the first one aggregating) and miners — run for a number of windows with live
// progress, stopped cleanly (also on Ctrl-C), followed by the centralized baseline on
// the same token budget and a summary: report/summary.json and report/loss.svg.
// With --subtensor the chain is Bittensor's subtensor runtime on a localnet
// (scripts/subtensor-localnet.sh): the roles take the run spec as a file checked against
// its hash, the aggregator is designated off chain, and the miners are ranked by the
// runtime's own Yuma consensus, whose incentive the summary shows.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <iomanip>
#include <thread>

#include "chain-bridge/client.h"
#include "checkpoints/follower.h"
#include "cli/commands.h"
#include "core/chart.h"
#include "core/cpu_time.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/process.h"
#include "core/run_spec.h"
#include "model/gpt.h"
#include "model/runtime.h"
#include "aggregator/window.h"
#include "checkpoints/parameters.h"
#include "model/parameters.h"
#include "trainer/baseline.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"

namespace tessera::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kMinerNice = 10;  // the miners' nice value beside validators at 0

// What `--window-blocks auto` measured: one thread's seconds for each role's work of a window.
struct WindowSizing {
  double miner_s = 0, validator_s = 0, monitor_s = 0;
  unsigned cores = 1;
};

// The miners' wall time, summed over the miners, by what it went to (the JSON lines'
// compute_s, wait_s, and encode_s + send_s + pull_s of each submitted window).
struct WallTimeParts {
  double steps = 0, waiting = 0, exchange = 0;
  double own_windows_s = 0;  // the wall time of the windows each miner submitted to
  int windows_between_unsubmitted = 0;  // gaps between a miner's first and last submission
};

struct DemoOptions {
  int miners = 4;
  int validators = 2;
  int windows = 12;
  std::string spec = "examples/tiny.toml";
  std::string data;
  std::string out = "report";
  bool baseline = true;
  bool keep_state = false;
  std::string dashboard_listen = "127.0.0.1:0";
  bool subtensor = false;
  bool overlap = true;  // miners train window w+1 while w is merged (`tessera miner --no-overlap`)
  bool prejudge = true;  // validators judge each delta as it arrives (`tessera validator --no-prejudge`)
  std::string window_blocks = "auto";  // "auto": sized to this machine; "spec": the spec's; or a number
  std::string start_margin;  // the miners' `--start-margin` ("": theirs by default)
  bool early_end = true;  // miners end a late window at its deadline (`tessera miner --no-early-end`)
};

// scripts/subtensor-localnet.sh beside this build (build/tessera → scripts/), else under
// the working directory.
fs::path localnet_script(const fs::path& exe) {
  for (const fs::path& root : {exe.parent_path().parent_path(), fs::current_path()}) {
    const fs::path p = root / "scripts" / "subtensor-localnet.sh";
    if (fs::exists(p)) return p;
  }
  return {};
}

// The rest of the first line of `path` that starts with `prefix` (polled while `child`
// runs, up to `seconds`); empty if none appeared.
std::string wait_for_line(const fs::path& path, const std::string& prefix, Subprocess& child, int seconds) {
  for (int i = 0; i < seconds * 10 && !interrupted(); ++i) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    if (!child.running()) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return IoError("socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return IoError("cannot find a free loopback port");
  }
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::vector<json> json_lines(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() != '{') continue;
    try {
      out.push_back(json::parse(line));
    } catch (const std::exception&) {
      // a line being written right now
    }
  }
  return out;
}

std::string tail(const fs::path& path, std::size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "    " + all[i] + "\n";
  return out;
}

// `--window-blocks auto`: a window just long enough for one window's work of the whole
// demo on this machine's cores. Times, on one thread, a miner's H inner steps, one
// validator's forward passes of a window (the held-out batch once, then for each miner its
// own batch before and both batches after applying the delta) and the monitor's
// validation batches; the window is that CPU time for every miner, every validator and
// the monitor, plus what that timing leaves out (below), spread over the cores, rounded
// up to whole blocks. The validators and the monitor are a fifth of the timed work with
// the demo spec, and the miners' steps stretch by their share. Nothing more is added for
// spare: the miners start each window as late as its deadline allows
// (trainer::too_early_to_start), so spare time is idle time, and a miner whose steps
// overrun skips its next window rather than start it late (trainer::choose_window).
// A subnet's launcher sizes the window for its expected miners the same way; the demo's
// miners are this machine.
Result<int> calibrated_window_blocks(const RunSpec& spec, const fs::path& data, int miners, int validators, WindowSizing* out) {
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(data, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(data, "val"));
  model::configure_cpu_threads(1);
  const auto page_tokens = static_cast<std::uint64_t>(spec.data.page_tokens);
  const std::uint64_t num_pages = train.num_pages(page_tokens);
  const auto val_batches = trainer::validation_batches(spec, val);
  TESSERA_ASSIGN_OR_RETURN(auto eval_pages, dataset::assign_pages(spec.seed, 0, 0, static_cast<std::uint64_t>(spec.data.pages_per_window), num_pages));
  const auto held_out = train.sample_from_pages(eval_pages, page_tokens, 1, spec.validator.eval_batch_size, spec.train.seq_len);
  const auto own = train.sample_from_pages(
      eval_pages, page_tokens, 2,
      static_cast<std::int64_t>(std::min(spec.train.inner_steps, spec.validator.own_batches)) * spec.train.batch_size,
      spec.train.seq_len);
  model::GPT gpt = model::make_gpt(config, spec.seed);
  auto optimizer = trainer::make_adamw(gpt, spec.train);
  const auto start = model::snapshot_parameters(gpt);
  auto forward = [&](const std::pair<torch::Tensor, torch::Tensor>& batch) {
    torch::NoGradGuard no_grad;
    (void)gpt->forward(batch.first).sum().item<float>();
  };
  trainer::InnerLoop inner{&spec};
  // Round 0 is untimed; each figure is the least of the three timed rounds, the machine's
  // pace without the stray stalls that make single timings vary by a sixth.
  for (std::uint64_t w = 0; w < 4; ++w) {
    auto keep = [&](double* figure, double seconds) { *figure = w == 1 ? seconds : std::min(*figure, seconds); };
    TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, w, 0, static_cast<std::uint64_t>(spec.data.pages_per_window), num_pages));
    TESSERA_ASSIGN_OR_RETURN(auto r, inner.run(gpt, *optimizer, start, train, pages, w, 0));
    keep(&out->miner_s, r.seconds);
    auto t = Clock::now();
    forward(held_out);
    for (int m = 0; m < miners; ++m) {
      forward(own);
      forward(held_out);
      forward(own);
    }
    keep(&out->validator_s, std::chrono::duration<double>(Clock::now() - t).count());
    t = Clock::now();
    for (const auto& b : val_batches) forward(b);
    keep(&out->monitor_s, std::chrono::duration<double>(Clock::now() - t).count());
  }
  out->cores = std::max(1u, std::thread::hardware_concurrency());
  // The timed work leaves out the validators' decoding, screening, merging, checkpoint
  // writing and serving, the dashboard, the chain node and every process's polling. Over
  // seven demo runs on this machine (every process's CPU time over the run, "the cores'
  // time by role") that was 4–21% more than the timed work, 13% on the mean, so a quarter
  // is added. Without it the miners' steps overran the window, skipped one, and trained
  // the next wholly ahead of its checkpoint; a tenth (1.12) gave shorter windows but no
  // higher utilization and no lower loss (docs/results.md).
  constexpr double kUntimedWork = 1.25;
  const double busy_s = kUntimedWork * (miners * out->miner_s + validators * out->validator_s + out->monitor_s);
  // One miner never trains faster than alone, however many cores there are.
  const double window_s = std::max(out->miner_s, busy_s / out->cores);
  // Never under 8 blocks or 2 s: the chain, the grace blocks and the merge need some.
  const int floor_blocks = std::max(8, static_cast<int>(std::ceil(2000.0 / spec.schedule.block_time_ms)));
  return std::max(floor_blocks, static_cast<int>(std::ceil(window_s * 1000.0 / spec.schedule.block_time_ms)));
}

// The spec with [schedule] blocks_per_window set to `blocks` (the rest of the text as is).
Result<RunSpec> with_window_blocks(const RunSpec& spec, int blocks, const std::string& source) {
  std::istringstream in(spec.text);
  std::string text, section;
  bool replaced = false;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '[') section = line.substr(first, line.find(']') - first + 1);
    if (section == "[schedule]" && !replaced && first != std::string::npos && line.compare(first, 17, "blocks_per_window") == 0) {
      line = "blocks_per_window = " + std::to_string(blocks) + "  # set by tessera demo --window-blocks";
      replaced = true;
    }
    text += line + "\n";
  }
  if (!replaced) return InvalidArgument(source + ": no [schedule] blocks_per_window line to set");
  return parse_run_spec(text, source);
}

struct Role {
  std::string name;
  std::unique_ptr<Subprocess> process;
  fs::path out, log;
};

Status run_demo_in(const GlobalOptions& global, const DemoOptions& o, const fs::path& work) {
  if (o.miners < 1 || o.validators < 1 || o.windows < 1) return InvalidArgument("--miners, --validators and --windows must be >= 1");
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(o.spec));
  const fs::path data = fs::absolute(o.data.empty() ? spec.data.dir : o.data);
  bool have_data = false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data, ec)) have_data |= e.path().filename().string().rfind("train_", 0) == 0;
  if (!have_data) return FailedPrecondition("no corpus in " + data.string() + ": run `make corpus` (or pass --data DIR)");
  install_interrupt_handler();
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  const fs::path home = work / "home";
  fs::create_directories(work / "logs");
  // The window length: the spec's, or sized to this machine (calibrated_window_blocks).
  std::string spec_path = fs::absolute(o.spec).string();
  std::string window_note = "the spec's";
  // On the subtensor runtime the chain's tempo and blocks set the pace: `auto` keeps the
  // spec's window there (the runtime's epoch must fall inside the demo's windows).
  if (o.window_blocks != "spec" && !(o.subtensor && o.window_blocks == "auto")) {
    int blocks = 0;
    WindowSizing sized;
    if (o.window_blocks == "auto") {
      std::printf("tessera demo: sizing the window to this machine (timing a window's work of %s: %d inner steps, the "
                  "validators' and the monitor's forward passes)…\n", spec.model.preset.c_str(), spec.train.inner_steps);
      TESSERA_ASSIGN_OR_RETURN(blocks, calibrated_window_blocks(spec, data, o.miners, o.validators, &sized));
      char note[320];
      std::snprintf(note, sizeof note, "sized to this machine: on one core a miner's %d steps take %.2f s, a validator's "
                    "passes %.2f s, the monitor's %.2f s, a quarter more for the untimed work; %d miners and %d validators share %u cores",
                    spec.train.inner_steps, sized.miner_s, sized.validator_s, sized.monitor_s, o.miners, o.validators, sized.cores);
      window_note = note;
    } else {
      try {
        blocks = std::stoi(o.window_blocks);
      } catch (const std::exception&) {
        blocks = 0;
      }
      if (blocks < 1) return InvalidArgument("--window-blocks '" + o.window_blocks + "' must be auto, spec or a positive number");
      window_note = "--window-blocks";
    }
    TESSERA_ASSIGN_OR_RETURN(spec, with_window_blocks(spec, blocks, o.spec));
    spec_path = (work / "spec.toml").string();
    TESSERA_RETURN_IF_ERROR(write_file_atomic(spec_path, spec.text));
  }
  const fs::path out_dir = o.out;
  fs::create_directories(out_dir, ec);
  if (ec) return IoError("cannot create " + out_dir.string() + ": " + ec.message());
  TESSERA_ASSIGN_OR_RETURN(int port, free_port());
  std::string address = "127.0.0.1:" + std::to_string(port);
  const std::string block_ms = std::to_string(spec.schedule.block_time_ms);
  const double window_s = spec.schedule.blocks_per_window * spec.schedule.block_time_ms / 1000.0;
  std::printf("tessera demo: %d miners, %d validators, %d windows of %.2fs (%d blocks, %s); run spec %s; corpus %s\n"
              "  logs and state in %s\n",
              o.miners, o.validators, o.windows, window_s, spec.schedule.blocks_per_window, window_note.c_str(), o.spec.c_str(),
              data.c_str(), work.c_str());

  std::unique_ptr<Subprocess> chain_proc;
  std::unique_ptr<chain::ChainClient> chain;
  std::uint32_t netuid = 0;
  std::vector<std::string> role_flags;       // what every role is given about the chain
  std::vector<std::string> validator_flags;  // and every validator
  std::vector<std::string> dashboard_flags;  // and the dashboard
  const fs::path chain_log = work / "logs" / "chain.log";
  if (o.subtensor) {
    // The subtensor runtime under chopsticks: wallets funded, the owner as sudo key (this
    // genesis creates subnets and registers neurons through sudo), the subnet created
    // from the run spec, every role's hotkey registered.
    const fs::path script = localnet_script(exe);
    if (script.empty()) return FailedPrecondition("scripts/subtensor-localnet.sh not found beside the build or here");
    std::vector<std::string> argv = {"/bin/bash", script.string(), "--port", std::to_string(port), "--block-time-ms", block_ms,
                                      "--home", home.string(), "--fund", "owner=100000", "--sudo", "owner",
                                      "--subnet", spec_path};
    for (int i = 0; i < o.validators; ++i) {
      argv.insert(argv.end(), {"--fund", "validator-" + std::to_string(i) + "=10000", "--register", "validator-" + std::to_string(i)});
    }
    for (int i = 0; i < o.miners; ++i) {
      argv.insert(argv.end(), {"--fund", "miner-" + std::to_string(i) + "=100", "--register", "miner-" + std::to_string(i)});
    }
    chain_proc = std::make_unique<Subprocess>(argv, chain_log, fs::path{}, std::vector<std::string>{"TESSERA=" + exe.string()});
    const std::string url = wait_for_line(chain_log, "subtensor localnet on ", *chain_proc, 180);
    if (url.empty()) {
      if (interrupted()) return Status::Ok();
      return Internal("the subtensor localnet did not come up:\n" + tail(chain_log, 12));
    }
    address = url.substr(0, url.find(' '));
    const std::string spec_hash = wait_for_line(chain_log, "run spec hash ", *chain_proc, 1);
    netuid = static_cast<std::uint32_t>(std::stoul(wait_for_line(chain_log, "netuid ", *chain_proc, 1)));
    TESSERA_ASSIGN_OR_RETURN(chain, chain::connect_chain(address));
    TESSERA_ASSIGN_OR_RETURN(Wallet aggregator, load_wallet(home, "validator-0"));
    TESSERA_RETURN_IF_ERROR(chain->designate_aggregator(netuid, aggregator.hotkey.public_key()));
    role_flags = {"--spec", spec_path, "--spec-hash", spec_hash, "--aggregator",
                  aggregator.hotkey.public_hex()};
    dashboard_flags = {"--aggregator", aggregator.hotkey.public_hex()};
    // The runtime refuses 127.0.0.1 in an axon; any other loopback address serves.
    validator_flags = {"--listen", "tcp://127.0.0.2:0", "--checkpoint-listen", "127.0.0.2:0"};
    std::printf("  subtensor localnet at %s (chopsticks); subnet %u created through sudo; aggregator validator-0 "
                "(designated off chain); run spec hash %s…\n",
                address.c_str(), netuid, spec_hash.substr(0, 16).c_str());
  } else {
    // The chain, with every wallet funded at genesis.
    std::vector<std::string> chain_argv = {exe.string(), "--home", home.string(), "--log-level", global.log_level,
                                           "chain", "start", "--listen", address,
                                           "--block-time-ms", block_ms, "--fund", "owner=1000"};
    for (int i = 0; i < o.validators; ++i) chain_argv.insert(chain_argv.end(), {"--fund", "validator-" + std::to_string(i) + "=200"});
    for (int i = 0; i < o.miners; ++i) chain_argv.insert(chain_argv.end(), {"--fund", "miner-" + std::to_string(i) + "=10"});
    chain_proc = std::make_unique<Subprocess>(chain_argv, chain_log);
    for (int i = 0; i < 100 && !chain; ++i) {
      if (interrupted()) {
        std::printf("  interrupted while the chain node started: nothing ran\n");
        return Status::Ok();  // chain_proc's destructor stops the node
      }
      auto c = chain::connect_embedded_chain(address, std::chrono::milliseconds(500));
      if (c.ok()) chain = std::move(*c);
      if (!chain_proc->running()) return Internal("the chain node exited:\n" + tail(chain_log, 10));
    }
    if (!chain) return Internal("the chain node did not come up:\n" + tail(chain_log, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // wallets are written before the node listens
    TESSERA_ASSIGN_OR_RETURN(Wallet owner, load_wallet(home, "owner"));
    TESSERA_ASSIGN_OR_RETURN(Wallet aggregator, load_wallet(home, "validator-0"));
    TESSERA_ASSIGN_OR_RETURN(netuid, chain->create_subnet(owner.coldkey, spec.text));
    proto::SubnetParams params;
    params.set_aggregator_hotkey(raw_bytes(aggregator.hotkey.public_key()));
    TESSERA_RETURN_IF_ERROR(chain->set_subnet_params(owner.coldkey, netuid, params).status());
    std::printf("  chain at %s; subnet %u created by owner; aggregator validator-0\n", address.c_str(), netuid);
  }

  // Validators, then miners.
  std::vector<Role> validators, miners;
  auto spawn = [&](std::vector<Role>& into, const std::string& name, std::vector<std::string> extra) {
    Role r;
    r.name = name;
    r.out = work / "logs" / (name + ".json");
    r.log = work / "logs" / (name + ".log");
    std::vector<std::string> argv = {exe.string(), "--home", home.string(), "--log-level", global.log_level, extra[0],
                                     "--netuid", std::to_string(netuid),
                                     "--wallet", name, "--chain", address, "--data", data.string(), "--threads", "1", "--json"};
    argv.insert(argv.end(), extra.begin() + 1, extra.end());
    argv.insert(argv.end(), role_flags.begin(), role_flags.end());
    if (extra[0] == "validator") argv.insert(argv.end(), validator_flags.begin(), validator_flags.end());
    r.process = std::make_unique<Subprocess>(argv, r.out, r.log);
    // All roles share this machine's cores here, where a real subnet gives validators
    // their own: miners, which train without pause (overlapped windows), run at a lower
    // CPU priority so that judging and merging a window is not slowed by them — the
    // sooner C_{w+1} is out, the fewer steps a miner takes from a stale base.
    if (extra[0] == "miner" && ::setpriority(PRIO_PROCESS, static_cast<id_t>(r.process->pid()), kMinerNice) != 0) {
      std::fprintf(stderr, "  (could not lower %s's CPU priority; it competes with the validators)\n", name.c_str());
    }
    into.push_back(std::move(r));
  };
  for (int i = 0; i < o.validators; ++i) {
    std::vector<std::string> extra = {"validator", "--stake", i == 0 ? "100" : "50", "--metrics-listen", "127.0.0.1:0"};
    if (i == 0) extra.push_back("--aggregate");
    if (!o.prejudge) extra.push_back("--no-prejudge");
    spawn(validators, "validator-" + std::to_string(i), extra);
  }
  // The first "http://…" line a child writes to its log (its metrics or page address),
  // waited for up to 10 s; empty if none came.
  auto url_in_log = [&](const fs::path& log, Subprocess& child) -> std::string {
    for (int i = 0; i < 100 && !interrupted() && child.running(); ++i) {
      const auto text = read_file(log);
      const auto at = text.ok() ? text->find("http://") : std::string::npos;
      if (at != std::string::npos && text->find('\n', at) != std::string::npos) return text->substr(at, text->find('\n', at) - at);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return {};
  };
  // The live page of the run (`tessera dashboard`), with the validators' receipt counters.
  const fs::path dashboard_log = work / "logs" / "dashboard.log";
  std::vector<std::string> dashboard_argv = {exe.string(), "--home", home.string(), "--log-level", global.log_level,
                                             "dashboard", "--chain", address, "--netuid", std::to_string(netuid),
                                             "--listen", o.dashboard_listen};
  for (auto& v : validators) {
    const std::string url = url_in_log(v.log, *v.process);
    if (!url.empty()) dashboard_argv.insert(dashboard_argv.end(), {"--validator-metrics", url});
  }
  dashboard_argv.insert(dashboard_argv.end(), dashboard_flags.begin(), dashboard_flags.end());
  Subprocess dashboard(dashboard_argv, dashboard_log);
  if (const std::string url = url_in_log(dashboard_log, dashboard); !url.empty()) {
    std::printf("  dashboard: %s\n", url.c_str());
  } else {
    std::printf("  the dashboard did not start:\n%s", tail(dashboard_log, 4).c_str());
  }
  std::fflush(stdout);
  std::vector<std::string> miner_flags = {"miner"};
  if (!o.overlap) miner_flags.push_back("--no-overlap");
  if (!o.start_margin.empty()) miner_flags.insert(miner_flags.end(), {"--start-margin", o.start_margin});
  if (!o.early_end) miner_flags.push_back("--no-early-end");
  for (int i = 0; i < o.miners; ++i) spawn(miners, "miner-" + std::to_string(i), miner_flags);
  const auto t_start = Clock::now();
  // Every process's CPU time over the run, by role: where the cores' time went.
  auto cpu_by_role = [&] {
    std::vector<pid_t> groups = {chain_proc->pid(), dashboard.pid()};
    for (const auto* group : {&validators, &miners}) {
      for (const auto& r : *group) groups.push_back(r.process->pid());
    }
    const auto group_cpu = process_group_cpu_seconds(groups);
    std::map<std::string, double> cpu = {{"chain", group_cpu.at(chain_proc->pid())},
                                         {"dashboard", group_cpu.at(dashboard.pid())},
                                         {"monitor", process_cpu_seconds()}};
    for (const auto& r : validators) cpu["validators"] += group_cpu.at(r.process->pid());
    for (const auto& r : miners) cpu["miners"] += group_cpu.at(r.process->pid());
    return cpu;
  };
  const auto cpu_at_start = cpu_by_role();

  // Follow the shared checkpoint: validation loss on the run's fixed validation batches.
  model::configure_cpu_threads(1);
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(data, "val"));
  const auto val_batches = trainer::validation_batches(spec, val);
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  model::GPT gpt = model::make_gpt(config, spec.seed);
  checkpoints::CheckpointFollower follower(chain.get(), netuid, work / "monitor");
  const double tokens_per_submission =
      static_cast<double>(spec.train.inner_steps) * spec.train.batch_size * spec.train.seq_len;
  struct Point {
    std::uint64_t window;
    double val_loss, tokens, seconds;
    std::size_t merged;
  };
  std::vector<Point> curve;
  double tokens = 0;
  int trained_windows = 0;
  std::string last_hash;
  std::string failure;
  const double time_limit = 60 + 4.0 * window_s * (o.windows + 2);
  while (!interrupted() && trained_windows < o.windows) {
    if (seconds_since(t_start) > time_limit) {
      failure = "the subnet did not complete " + std::to_string(o.windows) + " windows within " +
                std::to_string(static_cast<int>(time_limit)) + " s";
      break;
    }
    // Any child that dies stops the demo at once, naming it with the end of its log.
    if (!chain_proc->running()) failure = "the chain node exited early:\n" + tail(chain_log, 12);
    for (auto* group : {&validators, &miners}) {
      for (auto& r : *group) {
        if (!r.process->running() && failure.empty()) failure = r.name + " exited early:\n" + tail(r.log, 12);
      }
    }
    if (!failure.empty()) break;
    auto ann = follower.announced();
    if (ann.ok() && ann->has_value() && to_hex((*ann)->hash) != last_hash) {
      auto ck = follower.load(**ann);
      if (ck.ok()) {
        last_hash = (*ck)->hash;
        TESSERA_RETURN_IF_ERROR(model::load_parameters(gpt, checkpoints::model_parameters(**ck)));
        const double loss = trainer::evaluate_loss(gpt, val_batches);
        const std::size_t merged = (*ck)->manifest.accepted.size();
        tokens += merged * tokens_per_submission;
        if (merged > 0) ++trained_windows;
        curve.push_back({(*ann)->window, loss, tokens, seconds_since(t_start), merged});
        std::uint64_t paid = 0;
        double incentive = 0;
        if (auto s = chain->subnet(netuid); s.ok()) {
          for (const auto& n : s->neurons) {
            if (!n.address.empty()) continue;  // miners serve no endpoint
            paid += n.total_earned;
            incentive += n.incentive_u16 / 65535.0;
          }
        }
        // This subtensor genesis pays no emission to a new subnet: the runtime's incentive
        // is what ranks the miners there.
        const std::string pay = o.subtensor ? "miners' runtime incentive " + std::to_string(incentive).substr(0, 5)
                                            : "miners paid " + chain::format_tao_short(paid);
        std::printf("  window %4llu | val loss %.4f | merged %zu/%d | %s | %5.0fs\n",
                    static_cast<unsigned long long>((*ann)->window), loss, merged, o.miners, pay.c_str(),
                    seconds_since(t_start));
        std::fflush(stdout);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double subnet_wall = seconds_since(t_start);
  auto cpu_used = cpu_by_role();
  // A process that exited takes its time with it (only live ones are read): never below 0.
  for (auto& [role, seconds] : cpu_used) seconds = std::max(0.0, seconds - cpu_at_start.at(role));
  if (!failure.empty()) {
    std::printf("  stopping: %s\n", failure.substr(0, failure.find('\n')).c_str());
  } else if (interrupted()) {
    std::printf("  interrupted: stopping every process\n");
  }
  std::fflush(stdout);

  // Stop miners and validators cleanly (SIGINT, like Ctrl-C), read the final chain state.
  for (auto* group : {&miners, &validators}) {
    for (auto& r : *group) r.process->signal(SIGINT);
  }
  for (auto* group : {&miners, &validators}) {
    for (auto& r : *group) {
      if (!r.process->wait(std::chrono::seconds(20))) r.process->stop();
    }
  }
  if (!failure.empty()) {
    chain_proc->stop();
    return Internal(failure + "\n  (logs in " + (work / "logs").string() + ")");
  }
  // The pay the summary shows is the chain's last epoch: wait (at most a tempo, and at most
  // a minute) for the epoch after the validators' last weights, so that the run's every
  // weight setting is paid. Without it, a run that ends between a weight setting and the
  // next epoch shows the pay for the weights before, which may be none.
  TESSERA_ASSIGN_OR_RETURN(auto subnet, chain->subnet(netuid));
  std::uint64_t last_weights = 0;
  for (const auto& n : subnet.neurons) {
    if (!n.address.empty() && n.last_update != n.registration_block) last_weights = std::max(last_weights, n.last_update);
  }
  if (last_weights > 0 && subnet.last_epoch_block <= last_weights && !interrupted()) {
    // Any tempo + 1 consecutive blocks hold an epoch: the wait is counted in blocks, so
    // that a chain slower than its block time (a loaded machine, the runtime under
    // chopsticks) still gets there. A tempo of up to 65,535 blocks is valid (4.5 h of the
    // demo's blocks): past a minute the demo says that the pay shown is for the weights
    // before.
    constexpr double kMaxEpochWaitS = 60;
    const std::uint64_t last_block = last_weights + subnet.params.tempo() + 3;
    std::printf("  waiting for the chain's epoch after the last weights (set in block %llu; until block %llu, at most "
                "%.0f s)\n",
                static_cast<unsigned long long>(last_weights), static_cast<unsigned long long>(last_block),
                kMaxEpochWaitS);
    std::fflush(stdout);
    const auto t_wait = Clock::now();
    // subnet.block: the head the read was made at.
    while (subnet.last_epoch_block <= last_weights && subnet.block <= last_block &&
           seconds_since(t_wait) < kMaxEpochWaitS && !interrupted()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (auto now = chain->subnet(netuid); now.ok()) subnet = std::move(*now);  // a failed read: the next one
    }
    if (subnet.last_epoch_block <= last_weights) {
      std::printf("  (no epoch followed by block %llu, %.0f s: the pay shown is for the weights before)\n",
                  static_cast<unsigned long long>(subnet.block), seconds_since(t_wait));
    }
  }
  chain_proc->signal(SIGINT);
  if (!chain_proc->wait(std::chrono::seconds(10))) chain_proc->stop();

  // The centralized baseline on the same token budget.
  std::vector<std::pair<double, double>> baseline_curve;
  json baseline_json;
  if (o.baseline && !interrupted() && tokens > 0) {
    trainer::BaselineOptions bo;
    const double tpb = static_cast<double>(spec.train.centralized_batch()) * spec.train.seq_len;
    bo.steps = std::max<long>(1, std::lround(tokens / tpb));
    bo.threads = 0;
    bo.data_dir = data.string();
    RunSpec bspec = spec;
    bspec.train.eval_every = static_cast<int>(std::max<long>(1, bo.steps / 12));
    std::printf("  centralized baseline: %ld steps on the same %.2fM tokens\n", bo.steps, tokens / 1e6);
    std::fflush(stdout);
    const bool tty = ::isatty(STDOUT_FILENO) != 0;  // progress on a terminal only: logs and pipes stay clean
    auto result = trainer::train_baseline(bspec, bo, [&](const trainer::BaselineProgress& p) {
      if (p.val_loss >= 0) baseline_curve.emplace_back(p.step * tpb, p.val_loss);
      if (tty && p.step > 0) {
        const double eta = p.elapsed_seconds * static_cast<double>(p.total_steps - p.step) / static_cast<double>(p.step);
        std::printf("\r  baseline step %ld/%ld  loss %.4f  ETA %.0fs   ", p.step, p.total_steps, p.loss, eta);
        if (p.step == p.total_steps) std::printf("\n");
        std::fflush(stdout);
      }
    });
    if (!result.ok()) return result.status().with_context("baseline");
    baseline_curve.insert(baseline_curve.begin(), {0.0, result->initial_val_loss});
    baseline_json = json::parse(result->to_json());
  }

  // Summary.
  json summary;
  summary["spec"] = o.spec;
  summary["window_blocks"] = spec.schedule.blocks_per_window;
  summary["window_seconds"] = window_s;
  summary["window_sizing"] = window_note;
  summary["overlapped_windows"] = o.overlap;
  summary["chain"] = o.subtensor ? "subtensor (testfinney runtime under chopsticks)" : "embedded";
  summary["windows"] = trained_windows;
  summary["wall_seconds"] = subnet_wall;
  summary["tokens"] = tokens;
  summary["val_loss_start"] = curve.empty() ? 0.0 : curve.front().val_loss;
  summary["val_loss_end"] = curve.empty() ? 0.0 : curve.back().val_loss;
  summary["checkpoint"] = follower.current() ? json(follower.current()->hash) : json(nullptr);
  if (!baseline_json.is_null()) summary["baseline"] = baseline_json;
  json curve_json = json::array();
  for (const auto& p : curve) {
    curve_json.push_back({{"window", p.window}, {"val_loss", p.val_loss}, {"tokens", p.tokens}, {"merged", p.merged},
                          {"seconds", p.seconds}});
  }
  summary["curve"] = curve_json;
  std::map<std::string, const chain::Neuron*> by_hotkey;
  for (const auto& n : subnet.neurons) by_hotkey[n.hotkey] = &n;
  const auto v0 = json_lines(validators[0].out);
  json scores = v0.empty() ? json::object() : v0.back().value("scores", json::object());
  // Honest acceptance: of validator-0's judgements of each miner, how many it scored
  // (every demo miner is honest; the rest were no-gain or not-own-data).
  std::map<std::uint32_t, std::pair<int, int>> judged;  // uid → (scored, judged)
  // Sharded runs: per shard, validator-0's judgements of deltas that trained it, and the
  // scores (raw, before the cohort normalisation) of those it scored.
  struct ShardTally {
    int judged = 0, scored = 0;
    double raw_score = 0;
  };
  std::map<int, ShardTally> per_shard;
  // What sets the miners' stale steps: how long validator-0 (the aggregator) judged after
  // each close (below: the step before which the miners rebased onto the next checkpoint).
  double close_seconds = 0;
  std::size_t measured_ahead = 0, evaluated = 0;
  for (const auto& w : v0) {
    close_seconds += w.value("eval_seconds", 0.0);
    measured_ahead += w.value("prejudged", std::size_t{0});
    evaluated += w.value("evaluated", std::size_t{0});
    for (const auto& sub : w.value("submissions", json::array())) {
      auto& [scored, total] = judged[sub["uid"].get<std::uint32_t>()];
      scored += sub["outcome"] == "scored" ? 1 : 0;
      total += 1;
      for (const auto& shard : sub.value("shards", json::array())) {
        ShardTally& t = per_shard[shard.get<int>()];
        t.judged += 1;
        if (sub["outcome"] == "scored") {
          t.scored += 1;
          t.raw_score += sub.value("raw_score", 0.0);
        }
      }
    }
  }
  std::printf("\nsummary: validation loss %.4f → %.4f over %d windows (%.0f s)", summary["val_loss_start"].get<double>(),
              summary["val_loss_end"].get<double>(), trained_windows, subnet_wall);
  if (!baseline_json.is_null()) std::printf("; centralized baseline %.4f", baseline_json["final_val_loss"].get<double>());
  std::printf("\n  %-9s %4s %8s %8s %12s %9s %9s %12s %12s %8s %7s\n", "miner", "uid", "windows", "scored", "score",
              "incentive", "TAO", "bytes sent", "dense bytes", "compute", "shards");
  int all_scored = 0, all_judged = 0;
  double rebase_steps = 0, all_compute_cpu = 0;
  int rebased = 0;
  int ended_early = 0, ended_early_steps = 0;  // windows a miner ended at their deadline, and their steps
  // Where the miners' wall time went, summed over the miners (the utilization's rest).
  WallTimeParts parts;
  json miners_json = json::array();
  for (const auto& m : miners) {
    const auto lines = json_lines(m.out);
    double compute = 0, compute_cpu = 0, sent = 0, dense = 0, trained_fraction = 0;
    int overlapped = 0;
    std::uint32_t uid = 0;
    std::set<int> shards_trained;
    std::set<std::uint64_t> windows_submitted;
    for (const auto& l : lines) {
      compute += l["compute_s"].get<double>();
      compute_cpu += l.value("compute_cpu_s", 0.0);
      parts.waiting += l.value("wait_s", 0.0);
      parts.exchange += l.value("encode_s", 0.0) + l.value("send_s", 0.0) + l.value("pull_s", 0.0);
      windows_submitted.insert(l["window"].get<std::uint64_t>());
      if (const int steps = l.value("steps", spec.train.inner_steps); steps < spec.train.inner_steps) {
        ended_early += 1;
        ended_early_steps += steps;
      }
      if (l.value("overlapped", false)) {
        overlapped += 1;
        rebased += 1;
        rebase_steps += l.value("rebased_at_step", 0);
      }
      sent += l["bytes_sent"].get<double>();
      dense += l["dense_bytes"].get<double>() * l["validators"].get<double>();
      uid = l["uid"].get<std::uint32_t>();
      trained_fraction += l.value("trained_fraction", 1.0) / static_cast<double>(lines.size());
      for (const auto& shard : l.value("shards", json::array())) shards_trained.insert(shard.get<int>());
    }
    std::string shard_text;
    for (int shard : shards_trained) shard_text += (shard_text.empty() ? "" : ",") + std::to_string(shard);
    if (shard_text.empty()) shard_text = "all";
    TESSERA_ASSIGN_OR_RETURN(Wallet w, load_wallet(home, m.name));
    const chain::Neuron* n = by_hotkey.count(raw_bytes(w.hotkey.public_key())) ? by_hotkey[raw_bytes(w.hotkey.public_key())] : nullptr;
    if (n) uid = n->uid;
    const double score = scores.value(std::to_string(uid), 0.0);
    const std::uint64_t earned = n ? n->total_earned : 0;
    const double utilization = subnet_wall > 0 ? compute / subnet_wall : 0;
    // The wording: wall time in steps over the wall time of the windows the miner
    // took part in (those it submitted to), which leaves out its start-up and the windows
    // it gave up; `utilization` above divides by the whole run instead.
    const double own_windows_s = static_cast<double>(windows_submitted.size()) * window_s;
    const double utilization_own = own_windows_s > 0 ? compute / own_windows_s : 0;
    parts.steps += compute;
    parts.own_windows_s += own_windows_s;
    if (!windows_submitted.empty()) {
      parts.windows_between_unsubmitted +=
          static_cast<int>(*windows_submitted.rbegin() - *windows_submitted.begin() + 1 - windows_submitted.size());
    }
    all_compute_cpu += compute_cpu;
    const auto [scored, total] = judged.count(uid) ? judged.at(uid) : std::pair<int, int>{0, 0};
    all_scored += scored;
    all_judged += total;
    const std::string scored_text = std::to_string(scored) + "/" + std::to_string(total);
    const double incentive = n ? n->incentive_u16 / 65535.0 : 0.0;  // the chain's own Yuma (subtensor's runtime with --subtensor)
    std::printf("  %-9s %4u %8zu %8s %12.6f %9.4f %9s %12.0f %12.0f %7.0f%% %7s\n", m.name.c_str(), uid, lines.size(),
                scored_text.c_str(), score, incentive, chain::format_tao_short(earned, false).c_str(), sent, dense,
                100 * utilization, shard_text.c_str());
    miners_json.push_back({{"name", m.name}, {"uid", uid}, {"windows", lines.size()}, {"score", score}, {"incentive", incentive},
                           {"scored", scored}, {"judged", total},
                           {"earned_rao", earned}, {"bytes_sent", sent}, {"dense_bytes", dense},
                           {"compute_seconds", compute}, {"compute_utilization", utilization},
                           {"compute_utilization_own_windows", utilization_own},
                           {"compute_cpu_seconds", compute_cpu},
                           {"overlapped_windows", overlapped},
                           {"shards", shards_trained}, {"trained_fraction", trained_fraction}});
  }
  summary["miners"] = miners_json;
  // "compute" above is wall time in steps, which grows when the steps share the cores;
  // the CPU time in them is the work done (docs/results.md).
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double cpu_share = subnet_wall > 0 ? all_compute_cpu / (subnet_wall * cores) : 0.0;
  std::printf("  the miners' training steps used %.0f%% of the %u cores' time (%.1f CPU-s in steps over %.0f s)\n",
              100 * cpu_share, cores, all_compute_cpu, subnet_wall);
  summary["miners_cpu_share_of_machine"] = cpu_share;
  if (!miners.empty() && subnet_wall > 0) {
    // The rest of each miner's wall time is its start-up (joining, the first checkpoint)
    // and the windows it gave up: skipped for want of time, or dropped after training.
    const double miner_wall = subnet_wall * static_cast<double>(miners.size());
    const double rest = std::max(0.0, miner_wall - parts.steps - parts.waiting - parts.exchange);
    std::printf("  the miners' wall time: in steps %.0f%%, waiting for a checkpoint or their latest start %.0f%%, "
                "encoding, sending and pulling %.0f%%, the rest %.0f%% (start-up, and %d windows given up between "
                "submissions)\n",
                100 * parts.steps / miner_wall, 100 * parts.waiting / miner_wall, 100 * parts.exchange / miner_wall,
                100 * rest / miner_wall, parts.windows_between_unsubmitted);
    summary["miner_wall_time_shares"] = {{"steps", parts.steps / miner_wall},
                                         {"waiting", parts.waiting / miner_wall},
                                         {"exchange", parts.exchange / miner_wall},
                                         {"rest", rest / miner_wall},
                                         {"windows_given_up_between_submissions", parts.windows_between_unsubmitted}};
    if (parts.own_windows_s > 0) {
      std::printf("  over the windows each miner submitted to (not the whole run), the miners were in steps %.0f%% of "
                  "the time\n", 100 * parts.steps / parts.own_windows_s);
      summary["miner_utilization_own_windows"] = parts.steps / parts.own_windows_s;
    }
  }
  // Every role's processes, the steps above included in the miners'. The monitor is this
  // process (the validation loss printed each window), which a real subnet does not run.
  json cpu_json = json::object();
  double cpu_all = 0;
  std::string cpu_text;
  for (const char* role : {"miners", "validators", "chain", "dashboard", "monitor"}) {
    const double share = subnet_wall > 0 ? cpu_used[role] / (subnet_wall * cores) : 0.0;
    cpu_json[role] = share;
    cpu_all += share;
    cpu_text += std::string(cpu_text.empty() ? "" : ", ") + role + " " + std::to_string(static_cast<int>(std::lround(100 * share))) + "%";
  }
  cpu_json["all"] = cpu_all;
  std::printf("  the cores' time by role: %s; all %.0f%%\n", cpu_text.c_str(), 100 * cpu_all);
  summary["cpu_share_by_role"] = cpu_json;
  if (!per_shard.empty()) {
    json shards_json = json::array();
    std::printf("  %-6s %8s %8s %14s\n", "shard", "judged", "scored", "mean raw score");
    for (const auto& [shard, t] : per_shard) {
      const double mean = t.scored > 0 ? t.raw_score / t.scored : 0.0;
      std::printf("  %-6d %8d %8d %14.6f\n", shard, t.judged, t.scored, mean);
      shards_json.push_back({{"shard", shard}, {"judged", t.judged}, {"scored", t.scored}, {"mean_raw_score", mean}});
    }
    summary["shards"] = shards_json;
  }
  summary["honest_acceptance_rate"] = all_judged > 0 ? json(static_cast<double>(all_scored) / all_judged) : json(nullptr);
  if (all_judged > 0) {
    std::printf("  honest acceptance: validator-0 scored %d of the miners' %d submissions (%.0f%%)\n", all_scored,
                all_judged, 100.0 * all_scored / all_judged);
  }
  if (!v0.empty()) {
    const double mean_close = close_seconds / static_cast<double>(v0.size());
    std::printf("  judging after each close: validator-0 %.2f s a window on average; %zu of %zu deltas measured as they "
                "arrived\n", mean_close, measured_ahead, evaluated);
    summary["judging_after_close_seconds"] = mean_close;
    summary["deltas_measured_ahead"] = measured_ahead;
  }
  if (rebased > 0) {
    const double mean_rebase = rebase_steps / rebased;
    std::printf("  stale steps: the miners rebased onto each new checkpoint before step %.1f of %d on average\n",
                mean_rebase, spec.train.inner_steps);
    summary["mean_rebase_step"] = mean_rebase;
  }
  summary["windows_ended_early"] = ended_early;
  if (ended_early > 0) {
    std::printf("  %d submitted windows ended early to meet their deadline, after %.1f of %d steps on average\n",
                ended_early, static_cast<double>(ended_early_steps) / ended_early, spec.train.inner_steps);
  }
  json validators_json = json::array();
  std::printf("  %-12s %4s %10s %9s %9s\n", "validator", "uid", "dividends", "TAO", "stake TAO");
  for (const auto& v : validators) {
    TESSERA_ASSIGN_OR_RETURN(Wallet w, load_wallet(home, v.name));
    const chain::Neuron* n = by_hotkey.count(raw_bytes(w.hotkey.public_key())) ? by_hotkey[raw_bytes(w.hotkey.public_key())] : nullptr;
    if (!n) continue;
    std::printf("  %-12s %4u %10.4f %9s %9s\n", v.name.c_str(), n->uid, n->dividends_u16 / 65535.0,
                chain::format_tao_short(n->total_earned, false).c_str(), chain::format_tao_short(n->stake, false).c_str());
    validators_json.push_back({{"name", v.name}, {"uid", n->uid}, {"dividends", n->dividends_u16 / 65535.0},
                               {"earned_rao", n->total_earned}, {"stake_rao", n->stake},
                               {"windows", json_lines(v.out).size()}});
  }
  summary["validators"] = validators_json;
  std::vector<std::pair<double, double>> subnet_curve;
  for (const auto& p : curve) subnet_curve.emplace_back(p.tokens, p.val_loss);
  TESSERA_RETURN_IF_ERROR(write_file_atomic(out_dir / "summary.json", summary.dump(2) + "\n"));
  TESSERA_RETURN_IF_ERROR(write_file_atomic(
      out_dir / "loss.svg",
      line_chart_svg({{"subnet (shared checkpoint)", chart_color(0), subnet_curve}, {"centralized baseline", chart_color(1), baseline_curve}},
                     "Validation loss: " + std::to_string(o.miners) + " miners vs centralized baseline")));
  std::printf("  wrote %s and %s\n", (out_dir / "summary.json").c_str(), (out_dir / "loss.svg").c_str());
  if (const auto* final_checkpoint = follower.current()) {
    // The shared model as it ended, for the user to try.
    TESSERA_RETURN_IF_ERROR(checkpoints::write_checkpoint_folder(out_dir / "checkpoint", *final_checkpoint));
    std::printf("  final checkpoint %s… (window %llu) -> %s\n  try: tessera generate --checkpoint %s --prompt \"The \"\n",
                final_checkpoint->hash.substr(0, 16).c_str(),
                static_cast<unsigned long long>(final_checkpoint->manifest.window), (out_dir / "checkpoint").c_str(),
                (out_dir / "checkpoint").c_str());
  }
  std::error_code rm;
  if (!interrupted()) fs::remove_all(work / "home" / "miners", rm);  // keep logs, drop caches
  return Status::Ok();
}

// The demo's state and logs: under --home when given (kept), else in a temporary folder
// removed at the end unless --keep-state; kept after a failure, whose message points at
// its logs.
Status run_demo(const GlobalOptions& global, const DemoOptions& o) {
  const bool temporary = global.home.empty();
  const fs::path work = temporary ? fs::temp_directory_path() / ("tessera-demo-" + std::to_string(::getpid()))
                                  : home_path(global) / ("demo-" + std::to_string(::getpid()));
  Status s = run_demo_in(global, o, work);
  if (s.ok() && temporary && !o.keep_state) {
    std::error_code ec;
    fs::remove_all(work, ec);
  } else if (s.ok()) {
    std::printf("  state and logs kept in %s\n", work.c_str());
  }
  return s;
}

}  // namespace

void add_demo_command(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  static DemoOptions o;
  static bool no_baseline = false;
  auto* cmd = app.add_subcommand("demo", "Run a whole subnet on this machine: chain, validators, miners, then a summary");
  cmd->add_option("--miners", o.miners, "Miner processes");
  cmd->add_option("--validators", o.validators, "Validator processes (the first one aggregates)");
  cmd->add_option("--windows", o.windows, "Training windows to run");
  cmd->add_option("--spec", o.spec, "Run spec");
  cmd->add_option("--data", o.data, "Corpus folder (default: the spec's data.dir)");
  cmd->add_option("--out", o.out, "Report folder (summary.json, loss.svg)");
  cmd->add_flag("--no-baseline", no_baseline, "Skip the centralized baseline");
  cmd->add_option("--window-blocks", o.window_blocks,
                  "Blocks per window: auto (sized to this machine's speed and cores; the spec's with --subtensor), spec (the run "
                  "spec's), or a number")
      ->capture_default_str();
  static bool no_overlap = false;
  cmd->add_flag("--no-overlap", no_overlap, "Miners wait for each window's checkpoint before training it (the comparison)");
  cmd->add_option("--start-margin", o.start_margin,
                  "The miners' --start-margin: how many times its last window's training time a miner starts a window "
                  "ahead of its deadline (default: the miner's)")
      ->check(CLI::Range(1.0, 1e6));  // the miner's own bounds, checked before anything starts
  static bool no_early_end = false;
  cmd->add_flag("--no-early-end", no_early_end, "Miners drop a window whose steps run late instead of ending it early (the comparison)");
  static bool no_prejudge = false;
  cmd->add_flag("--no-prejudge", no_prejudge,
                "Validators judge every delta after its window closes, not as it arrives (the comparison)");
  cmd->add_option("--dashboard-listen", o.dashboard_listen, "HOST:PORT of the live dashboard (0: any free port)")
      ->capture_default_str();
  cmd->add_flag("--subtensor", o.subtensor,
                "Run on Bittensor's subtensor runtime (a chopsticks localnet, scripts/subtensor-localnet.sh) instead of "
                "the embedded chain: the runtime's Yuma ranks the miners");
  cmd->add_flag("--keep-state", o.keep_state, "Keep the chain, wallets and logs (default: removed unless --home is given)");
  cmd->callback([&global, exit_code] {
    o.baseline = !no_baseline;
    o.overlap = !no_overlap;
    o.prejudge = !no_prejudge;
    o.early_end = !no_early_end;
    (void)init_logging("demo", global.log_level);
    *exit_code = report(run_demo(global, o));
  });
}

}  // namespace tessera::cli
