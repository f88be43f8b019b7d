// The network roles:
//   tessera miner --netuid N --wallet W [--chain ADDR] [--data DIR] [--workers K] [--windows K] [--json]
//   tessera validator --netuid N --wallet W [--chain ADDR] [--listen ADDR] [--aggregate] [--stake TAO] …
//   tessera subnet set-aggregator --netuid N --wallet OWNER --hotkey-of W   (owner names the aggregator)
#include <cstdio>

#include <nlohmann/json.hpp>

#include "chain-bridge/client.h"
#include "net/submission.h"
#include "cli/commands.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "model/device.h"
#include "node/checkpoint_aggregator.h"
#include "trainer/miner.h"
#include "verification/validator.h"

namespace tessera::cli {

namespace {

struct RoleFlags {
  std::string chain, wallet, data, device = "cpu";
  std::uint32_t netuid = 0;
  int threads = 0;
  std::uint64_t windows = 0;
  bool json = false;
  std::vector<std::string> checkpoint_mirrors;
  double checkpoint_deadline_s = 0;
  std::string metrics_listen;
  std::string spec_file, spec_hash, aggregator;
};

void add_role_flags(CLI::App* cmd, RoleFlags& f) {
  cmd->add_option("--netuid", f.netuid, "Subnet id")->required();
  cmd->add_option("--wallet", f.wallet, "Wallet (its coldkey pays the registration, its hotkey signs)")->required();
  cmd->add_option("--chain", f.chain, "Chain node address (default $TESSERA_CHAIN or 127.0.0.1:7700)");
  cmd->add_option("--data", f.data, "Data folder (default: the run spec's data.dir)");
  cmd->add_option("--device", f.device, "cpu | cuda | cuda:N (docs/devices.md)");
  cmd->add_option("--threads", f.threads, "CPU threads (default: all cores)");
  cmd->add_option("--windows", f.windows, "Stop after this many windows (default: run until Ctrl-C)");
  cmd->add_flag("--json", f.json, "Print one JSON status object per window on stdout");
  cmd->add_option("--checkpoint-mirror", f.checkpoint_mirrors,
                  "Another CheckpointService of this run, tried when the announced one fails or is too slow (repeatable)");
  cmd->add_option("--checkpoint-deadline", f.checkpoint_deadline_s,
                  "Seconds a checkpoint pull may take, every source included (default: one window of the run)");
  add_metrics_option(cmd, &f.metrics_listen);
  cmd->add_option("--spec", f.spec_file,
                  "The run spec as a file, for a chain that keeps none (subtensor); checked against --spec-hash");
  cmd->add_option("--spec-hash", f.spec_hash, "BLAKE2b-256 (hex) of the run spec the subnet's owner published");
  cmd->add_option("--aggregator", f.aggregator,
                  "On subtensor: the checkpoint aggregator's hotkey (SS58 or hex) the subnet's owner designated");
}

subnet::JoinOptions join_options(const GlobalOptions& global, const RoleFlags& f) {
  subnet::JoinOptions j;
  j.chain_address = f.chain;
  j.netuid = f.netuid;
  j.home = home_path(global);
  j.wallet = f.wallet;
  j.data_dir = f.data;
  j.checkpoint_mirrors = f.checkpoint_mirrors;
  j.checkpoint_deadline_s = f.checkpoint_deadline_s;
  j.spec_file = f.spec_file;
  j.spec_hash = f.spec_hash;
  j.aggregator = f.aggregator;
  return j;
}

void print_json_line(const std::string& json) {
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
}

Status run_set_aggregator(const GlobalOptions& global, const std::string& chain_address, std::uint32_t netuid,
                          const std::string& owner, const std::string& aggregator) {
  const auto home = home_path(global);
  TESSERA_ASSIGN_OR_RETURN(Wallet o, load_wallet(home, owner));
  TESSERA_ASSIGN_OR_RETURN(Wallet a, load_wallet(home, aggregator));
  TESSERA_ASSIGN_OR_RETURN(auto chain, chain::connect_chain(chain_address.empty() ? chain::default_chain_address()
                                                                                          : chain_address));
  proto::SubnetParams params;
  params.set_aggregator_hotkey(raw_bytes(a.hotkey.public_key()));
  TESSERA_ASSIGN_OR_RETURN(auto inc, chain->set_subnet_params(o.coldkey, netuid, params));
  std::printf("subnet %u: aggregator is now %s's hotkey %s (block %llu)\n", netuid, aggregator.c_str(),
              a.hotkey.public_hex().c_str(), static_cast<unsigned long long>(inc.block));
  return Status::Ok();
}

// An audit: fetch validator `uid`'s signed verdict of `window` from its submission
// endpoint (as published on chain), check the signature and that the validator signed it.
Status run_verdict(const std::string& chain_address, std::uint32_t netuid, std::uint32_t uid, std::uint64_t window) {
  TESSERA_ASSIGN_OR_RETURN(auto chain, chain::connect_chain(chain_address.empty() ? chain::default_chain_address()
                                                                                          : chain_address));
  TESSERA_ASSIGN_OR_RETURN(chain::Subnet subnet, chain->subnet(netuid));
  const chain::Neuron* neuron = nullptr;
  for (const auto& n : subnet.neurons) {
    if (n.uid == uid) neuron = &n;
  }
  if (neuron == nullptr) return NotFound("subnet " + std::to_string(netuid) + " has no uid " + std::to_string(uid));
  TESSERA_ASSIGN_OR_RETURN(proto::Verdict v, verification::fetch_verdict(*neuron, netuid, window));
  nlohmann::json j = {{"netuid", v.netuid()},
                      {"window", v.window()},
                      {"validator_uid", uid},
                      {"validator_hotkey", to_hex(v.validator_hotkey())},
                      {"base_checkpoint", to_hex(v.base_checkpoint())},
                      {"eval_seed", to_hex(v.eval_seed())},
                      {"signature", "verified"},
                      {"accepted", nlohmann::json::array()}};
  for (const auto& e : v.accepted()) {
    j["accepted"].push_back(
        {{"uid", e.uid()}, {"hotkey", to_hex(e.hotkey())}, {"payload_hash", to_hex(e.payload_hash())}, {"score", e.score()}});
  }
  j["heldout_loss"] = v.heldout_loss();
  j["judged"] = nlohmann::json::array();
  for (const auto& e : v.judged()) {
    j["judged"].push_back({{"uid", e.uid()}, {"outcome", e.outcome()}, {"reason", e.reason()}, {"score", e.score()},
                           {"payload_bytes", e.payload_bytes()}});
  }
  std::printf("%s\n", j.dump(2).c_str());
  return Status::Ok();
}

}  // namespace

void add_role_commands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* verdict = app.add_subcommand("verdict", "Audit a validator: fetch and check its signed verdict of a window");
  static std::string verdict_chain;
  static std::uint32_t verdict_netuid = 0, verdict_uid = 0;
  static std::uint64_t verdict_window = 0;
  verdict->add_option("--netuid", verdict_netuid, "Subnet id")->required();
  verdict->add_option("--uid", verdict_uid, "The validator's uid")->required();
  verdict->add_option("--window", verdict_window, "Window")->required();
  verdict->add_option("--chain", verdict_chain, "Chain node address");
  verdict->callback([exit_code] {
    *exit_code = report(run_verdict(verdict_chain, verdict_netuid, verdict_uid, verdict_window));
  });

  static RoleFlags miner_flags;
  auto* miner = app.add_subcommand("miner", "Join a training run as a miner: train assigned pages, submit compressed deltas");
  add_role_flags(miner, miner_flags);
  static int workers = 1;
  miner->add_option("--workers", workers,
                    "Local data-parallel processes (Gloo on CPUs, NCCL on GPUs: one GPU each); must divide train.batch_size")
      ->check(CLI::Range(1, 64));
  static bool no_overlap = false;
  miner->add_flag("--no-overlap", no_overlap,
                  "Wait for each window's checkpoint before training it (default: train window w+1 from C_w while w is "
                  "merged, then rebase onto C_{w+1}; docs/architecture.md)");
  static double start_margin = trainer::MinerOptions{}.start_margin;
  miner->add_option("--start-margin", start_margin,
                    "Start window w+1 ahead of its checkpoint no earlier than this many times the last window's training "
                    "time before its deadline (larger: earlier, more stale steps, more room for uneven step times; "
                    "docs/architecture.md)")
      ->check(CLI::Range(1.0, 1e6));
  static bool no_early_end = false;
  miner->add_flag("--no-early-end", no_early_end,
                  "Drop a window whose steps run late (default: end it before its deadline with the steps taken, when "
                  "they are at least half of H, and send those)");
  miner->callback([&global, exit_code] {
    (void)init_logging("miner " + miner_flags.wallet, global.log_level);
    install_interrupt_handler();
    auto device = model::resolve_device(miner_flags.device);
    Status s = device.status();
    auto metrics = serve_metrics(miner_flags.metrics_listen);
    if (s.ok()) s = metrics.status();
    if (s.ok()) {
      trainer::MinerOptions o;
      o.device = *device;
      o.join = join_options(global, miner_flags);
      o.threads = miner_flags.threads;
      o.windows = miner_flags.windows;
      o.workers = workers;
      o.overlap = !no_overlap;
      o.start_margin = start_margin;
      o.end_at_deadline = !no_early_end;
      if (miner_flags.json) o.on_window = print_json_line;
      s = trainer::run_miner(o);
    }
    *exit_code = report(s);
  });

  static RoleFlags val_flags;
  static std::string listen = "tcp://127.0.0.1:0", checkpoint_listen = "127.0.0.1:0", stake;
  static bool aggregate = false;
  static std::size_t keep_checkpoints = 32;
  static int checkpoint_data_port = 0;
  auto* validator = app.add_subcommand("validator", "Run a validator: evaluate submissions, score miners, set weights");
  add_role_flags(validator, val_flags);
  validator->add_option("--listen", listen, "ZeroMQ bind address for submissions (port 0: any free port)");
  validator->add_option("--checkpoint-listen", checkpoint_listen,
                        "CheckpointService address: the aggregator's store with --aggregate, else the checkpoints this "
                        "validator holds, re-served as a fallback source (\"\": serve none)");
  validator->add_option("--checkpoint-data-port", checkpoint_data_port,
                        "With --aggregate: TCP port of the checkpoint data plane (0: any free port)")
      ->check(CLI::Range(0, 65535));
  validator->add_flag("--aggregate", aggregate, "Also merge accepted deltas into checkpoints and announce them");
  validator->add_option("--keep-checkpoints", keep_checkpoints, "With --aggregate: checkpoints kept in the store")
      ->check(CLI::Range(2, 100000));
  validator->add_option("--stake", stake, "Stake the hotkey up to this many TAO at start (validator permit, dividends)");
  static int max_connections = 320;
  validator->add_option("--max-connections", max_connections,
                        "Peers connected to the submission endpoint at once; more are refused at the handshake "
                        "(bounds memory, docs/protocol.md)")
      ->check(CLI::Range(1, 100000));
  static bool no_prejudge = false;
  validator->add_flag("--no-prejudge", no_prejudge,
                      "Judge every submission after its window closes instead of as it arrives (the comparison)");
  static std::uint64_t reveal_late = 0;
  validator->add_option("--reveal-late", reveal_late,
                        "Testing: reveal committed weights this many blocks after the reveal window (the chain refuses them)")
      ->group("");
  validator->callback([&global, exit_code] {
    (void)init_logging("validator " + val_flags.wallet, global.log_level);
    install_interrupt_handler();
    auto device = model::resolve_device(val_flags.device);
    Status s = device.status();
    auto metrics = serve_metrics(val_flags.metrics_listen);
    if (s.ok()) s = metrics.status();
    verification::ValidatorOptions o;
    if (s.ok()) o.device = *device;
    if (s.ok() && !stake.empty()) {
      auto rao = chain::parse_tao(stake);
      if (rao.ok()) o.stake_rao = *rao;
      else s = rao.status().with_context("--stake");
    }
    if (s.ok()) {
      o.join = join_options(global, val_flags);
      o.listen = listen;
      o.checkpoint_listen = checkpoint_listen;
      o.reveal_late_blocks = reveal_late;
      o.max_connections = max_connections;
      o.threads = val_flags.threads;
      o.windows = val_flags.windows;
      o.prejudge = !no_prejudge;
      if (val_flags.json) o.on_window = print_json_line;
      std::optional<node::CheckpointAggregator> aggregator;
      if (aggregate) {
        aggregator.emplace(node::AggregatorOptions{checkpoint_listen, checkpoint_data_port, keep_checkpoints});
        o.aggregator = &*aggregator;
      }
      s = verification::run_validator(o);
    }
    *exit_code = report(s);
  });

  static trainer::WorkerOptions worker;
  static std::string worker_store, worker_spec, worker_data;
  auto* w = app.add_subcommand("miner-worker", "");  // started by `tessera miner --workers K`; hidden
  w->group("");
  w->add_option("--rank", worker.rank)->required();
  w->add_option("--world", worker.world)->required();
  w->add_option("--store", worker_store)->required();
  w->add_option("--spec", worker_spec)->required();
  w->add_option("--data", worker_data)->required();
  w->add_option("--threads", worker.threads);
  static std::string worker_device = "cpu";
  w->add_option("--device", worker_device);
  w->callback([&global, exit_code] {
    (void)init_logging("miner-worker " + std::to_string(worker.rank), global.log_level);
    worker.store = worker_store;
    worker.spec = worker_spec;
    worker.data = worker_data;
    auto device = model::resolve_device(worker_device);
    if (!device.ok()) {
      *exit_code = report(device.status());
      return;
    }
    worker.device = *device;
    *exit_code = report(trainer::run_miner_worker(worker));
  });

  CLI::App* subnet = app.get_subcommand("subnet");
  auto* set_agg = subnet->add_subcommand("set-aggregator", "Name the validator whose hotkey may announce checkpoints");
  static std::uint32_t netuid = 0;
  static std::string owner, aggregator_wallet, chain_address;
  set_agg->add_option("--netuid", netuid, "Subnet id")->required();
  set_agg->add_option("--wallet", owner, "Owner wallet")->required();
  set_agg->add_option("--aggregator", aggregator_wallet, "Wallet whose hotkey aggregates")->required();
  set_agg->add_option("--chain", chain_address, "Chain node address");
  set_agg->callback([&global, exit_code] {
    *exit_code = report(run_set_aggregator(global, chain_address, netuid, owner, aggregator_wallet));
  });
}

}  // namespace tessera::cli
