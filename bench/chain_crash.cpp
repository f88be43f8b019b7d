// chain_crash: kills the chain node again and again while clients use it, and checks
// every restart (docs/chain.md, "Crash testing").
//
//   chain_crash --tessera PATH [--kills N] [--faults] [--powercut LIB] [--roles DATA] [--seed S]
//               [--json]
//
// The node (`tessera chain start`, 100 ms blocks, a snapshot every 10 blocks) serves a
// subnet with commit–reveal on. A client thread keeps it busy: transfers to a sink
// account, registrations of new hotkeys, stake, commits and reveals of weights by a staked
// validator hotkey (every third reveal deliberately late) and checkpoint announcements.
// Every extrinsic the node acknowledges is recorded with its block.
//
// Each round runs the node for a random 0.5–2.5 s and kills it with SIGKILL; with
// --faults, rounds also arm a fault point instead (core/fault.h: inside a snapshot write,
// between a log append and its fsync, after the fsync before any reply, during an epoch),
// because random kills almost never land there. With --powercut the node runs under the
// LD_PRELOAD shim (bench/crash/powercut.c) that drops every write not yet synced, so a
// kill is a power cut. After each death the harness checks the data folder
// (chain::check_data_dir: every block replays, the snapshot is on the log), restarts the
// node on the same folder and checks that it starts, that its height is not below the last
// block any client was told was durable, and that no acknowledged extrinsic is missing:
// the sink holds at least every acknowledged transfer (and at most one more, the one in
// flight), every acknowledged registration holds its uid, every acknowledged stake is
// there. With --roles DATA an aggregating validator and two miners (real processes, the
// corpus in DATA) run against the node through every kill.
//
// Prints one line per round and a JSON summary; exits 1 on the first failed check.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "chain-bridge/client.h"
#include "chain-bridge/replay.h"
#include "core/identity.h"
#include "core/process.h"
#include "core/rng.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string tessera, powercut, roles_data;
  int kills = 20;
  bool faults = false, json = false;
  std::uint64_t seed = 1;
};

const char* kFaults[] = {"file:written", "file:renamed", "log:written", "log:synced", "epoch"};

Keypair key(std::uint64_t i) {
  std::array<std::uint8_t, 32> seed{};
  for (int b = 0; b < 8; ++b) seed[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
  seed[30] = 0xc7;
  return Keypair::from_seed(seed);
}

// What clients were told is durable.
struct Acknowledged {
  std::mutex mu;
  std::uint64_t transfers_rao = 0, transfers = 0, in_flight_rao = 0;
  std::uint64_t highest_block = 0;
  std::map<std::string, std::uint32_t> registered;  // raw hotkey → uid
  std::uint64_t staked_rao = 0;
  std::uint64_t reveals_accepted = 0, reveals_refused_late = 0, commits = 0, announcements = 0;
  void block(std::uint64_t b) { highest_block = std::max(highest_block, b); }
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Waits for "chain node ready on HOST:PORT" in the log; the port, or 0.
int wait_ready(Subprocess& node, const fs::path& log, std::size_t from, std::chrono::seconds timeout) {
  const std::regex ready("chain node ready on 127\\.0\\.0\\.1:([0-9]+)");
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline && node.running()) {
    const std::string text = read_text(log);
    std::smatch m;
    if (text.size() > from) {
      const std::string fresh = text.substr(from);
      if (std::regex_search(fresh, m, ready)) return std::stoi(m[1].str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

class Harness {
 public:
  explicit Harness(Args a) : args_(std::move(a)), rng_(args_.seed) {}
  int run();

 private:
  std::unique_ptr<Subprocess> start_node(const std::string& fault);
  void client_loop();
  Status check_folder(int round);
  Status check_restart(int round);
  void start_roles();

  Args args_;
  Rng rng_;
  fs::path dir_;
  std::string address_;
  int port_ = 0;
  Acknowledged ack_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<chain::ChainClient> setup_client_;
  Keypair owner_ = key(1), payer_ = key(2), validator_cold_ = key(3), validator_hot_ = key(4), sink_ = key(5);
  std::vector<std::unique_ptr<Subprocess>> roles_;
  nlohmann::json rounds_ = nlohmann::json::array();
};

std::unique_ptr<Subprocess> Harness::start_node(const std::string& fault) {
  std::vector<std::string> env;
  if (!fault.empty()) env.push_back("TESSERA_FAULT=" + fault);
  if (!args_.powercut.empty()) {
    env.push_back("LD_PRELOAD=" + args_.powercut);
    env.push_back("TESSERA_POWERCUT_DIR=" + (dir_ / "chain").string());
  }
  std::vector<std::string> argv = {args_.tessera, "--home", (dir_ / "home").string(), "chain", "start", "--listen",
                                   "127.0.0.1:" + std::to_string(port_), "--data-dir", (dir_ / "chain").string(),
                                   "--block-time-ms", "100", "--snapshot-every", "10", "--genesis",
                                   (dir_ / "genesis.json").string()};
  return std::make_unique<Subprocess>(argv, dir_ / "node.log", fs::path(), env);
}

// One client, sequential, as fast as the node answers; every acknowledged effect recorded.
void Harness::client_loop() {
  std::unique_ptr<chain::ChainClient> chain;
  std::uint64_t next_hotkey = 1000, n = 0, window = 0;
  std::optional<std::pair<std::string, std::uint64_t>> pending_commit;  // salt, commit block
  while (!stop_) {
    if (!chain) {
      auto c = chain::connect_embedded_chain(address_, std::chrono::milliseconds(300));
      if (!c.ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      chain = std::move(*c);
    }
    ++n;
    Result<chain::Included> r = Status::Ok();
    const int kind = static_cast<int>(n % 6);
    if (kind <= 2) {  // transfers
      const std::uint64_t amount = 1 + n % 997;
      {
        std::lock_guard lock(ack_.mu);
        ack_.in_flight_rao = amount;
      }
      r = chain->transfer(payer_, sink_.public_key(), amount);
      std::lock_guard lock(ack_.mu);
      ack_.in_flight_rao = 0;
      if (r.ok()) {
        ack_.transfers_rao += amount;
        ++ack_.transfers;
        ack_.block(r->block);
      }
    } else if (kind == 3) {  // a registration
      const Keypair hot = key(next_hotkey++);
      auto uid = chain->register_hotkey(payer_, hot.public_key(), 1);
      if (uid.ok()) {
        std::lock_guard lock(ack_.mu);
        ack_.registered[raw_bytes(hot.public_key())] = *uid;
      }
      r = uid.ok() ? Result<chain::Included>(chain::Included{}) : Result<chain::Included>(uid.status());
    } else if (kind == 4) {  // weights through commit–reveal; every third reveal late on purpose
      auto head = chain->head();
      if (!head.ok()) {
        chain.reset();
        continue;
      }
      if (!pending_commit) {
        const std::string salt = "salt-" + std::to_string(n);
        const std::string hash =
            chain::weights_commit_hash(raw_bytes(validator_hot_.public_key()), 1, {0}, {1000}, salt, 0);
        auto c = chain->commit_weights(validator_hot_, 1, hash);
        if (c.ok()) {
          pending_commit = {salt, c->block};
          std::lock_guard lock(ack_.mu);
          ++ack_.commits;
          ack_.block(c->block);
        }
        r = c;
      } else {
        const bool late = ack_.commits % 3 == 0;
        // reveal_delay 3, reveal_window 4 (the genesis subnet's parameters)
        const std::uint64_t open = pending_commit->second + 3, close = open + 4;
        if ((!late && head->height >= open && head->height < close) || (late && head->height > close + 1)) {
          auto rv = chain->reveal_weights(validator_hot_, 1, {0}, {1000}, pending_commit->first);
          std::lock_guard lock(ack_.mu);
          if (rv.ok()) {
            ++ack_.reveals_accepted;
            ack_.block(rv->block);
          } else if (rv.status().message().find("too late") != std::string::npos) {
            ++ack_.reveals_refused_late;
          }
          pending_commit.reset();
        } else if (!late && head->height >= close) {
          pending_commit.reset();  // the node was down through the window
        }
        r = Result<chain::Included>(chain::Included{});
      }
    } else {  // an announcement
      ++window;
      auto a = chain->announce_checkpoint(owner_, 1, window, std::string(32, static_cast<char>(window)), "127.0.0.1:1");
      if (a.ok()) {
        std::lock_guard lock(ack_.mu);
        ++ack_.announcements;
        ack_.block(a->block);
      }
      r = a;
    }
    if (!r.ok() && (r.status().code() == StatusCode::kUnavailable || r.status().code() == StatusCode::kDeadlineExceeded ||
                    r.status().message().find("connect") != std::string::npos ||
                    r.status().message().find("Socket") != std::string::npos)) {
      chain.reset();  // the node went away: reconnect
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  }
}

Status Harness::check_folder(int round) {
  TESSERA_ASSIGN_OR_RETURN(chain::ReplayReport r, chain::check_data_dir(dir_ / "chain"));
  const bool torn_only = r.log_problem.empty() || r.log_problem.rfind("a torn last record", 0) == 0;
  if (r.diverged_at || !r.snapshot_problem.empty() || !torn_only) {
    return Internal("round " + std::to_string(round) + ": the data folder does not check: " + r.to_text());
  }
  std::lock_guard lock(ack_.mu);
  if (r.verified < ack_.highest_block) {
    return Internal("round " + std::to_string(round) + ": the log ends at block " + std::to_string(r.verified) +
                    ", below block " + std::to_string(ack_.highest_block) + " that a client was told was durable");
  }
  return Status::Ok();
}

Status Harness::check_restart(int round) {
  // The client goes on while the restarted node is read: what it had been told before the
  // reads must show in them, and what it is told while they run may (a block or a transfer
  // acknowledged after the head was read is not a loss).
  std::uint64_t acked_height = 0, acked_rao = 0;
  std::map<std::string, std::uint32_t> acked_registered;
  {
    std::lock_guard lock(ack_.mu);
    acked_height = ack_.highest_block;
    acked_rao = ack_.transfers_rao;
    acked_registered = ack_.registered;
  }
  TESSERA_ASSIGN_OR_RETURN(auto chain, chain::connect_embedded_chain(address_, std::chrono::seconds(10)));
  TESSERA_ASSIGN_OR_RETURN(chain::HeadInfo head, chain->head());
  TESSERA_ASSIGN_OR_RETURN(chain::AccountInfo sink, chain->account(sink_.public_key()));
  TESSERA_ASSIGN_OR_RETURN(chain::Subnet subnet, chain->subnet(1));
  std::uint64_t acked_rao_after = 0;
  {
    std::lock_guard lock(ack_.mu);
    acked_rao_after = ack_.transfers_rao;
  }
  const std::string at = "round " + std::to_string(round) + ": ";
  if (head.height < acked_height) {
    return Internal(at + "restarted at height " + std::to_string(head.height) + ", below acknowledged block " +
                    std::to_string(acked_height));
  }
  // At most one transfer (of at most 997 rao) is in flight at a time: included, not yet acknowledged.
  if (sink.balance < acked_rao || sink.balance > acked_rao_after + 997) {
    return Internal(at + "the sink holds " + std::to_string(sink.balance) + " rao; acknowledged transfers total " +
                    std::to_string(acked_rao) + " before the read and " + std::to_string(acked_rao_after) + " after it");
  }
  for (const auto& [hotkey, uid] : acked_registered) {
    PublicKey pk;
    std::copy(hotkey.begin(), hotkey.end(), pk.begin());
    const auto found = chain::find_uid(subnet, pk);
    // A registration can be replaced later by another one once it is no longer immune.
    if (!found && static_cast<int>(subnet.neurons.size()) < static_cast<int>(subnet.params.max_uids())) {
      return Internal(at + "an acknowledged registration (uid " + std::to_string(uid) + ") is missing");
    }
  }
  return Status::Ok();
}

void Harness::start_roles() {
  const std::string data = args_.roles_data;
  auto role = [&](const std::vector<std::string>& extra, const std::string& name) {
    std::vector<std::string> argv = {args_.tessera, "--home", (dir_ / "home").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--chain", address_, "--data", data, "--threads", "1"});
    roles_.push_back(std::make_unique<Subprocess>(argv, dir_ / (name + ".log")));
  };
  role({"validator", "--netuid", "2", "--wallet", "agg", "--aggregate", "--stake", "20"}, "validator");
  role({"validator", "--netuid", "2", "--wallet", "late", "--stake", "10", "--reveal-late", "5"}, "validator-late");
  role({"miner", "--netuid", "2", "--wallet", "m1"}, "miner-1");
  role({"miner", "--netuid", "2", "--wallet", "m2"}, "miner-2");
}

int Harness::run() {
  dir_ = fs::temp_directory_path() / ("tessera-chain-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir_);
  fs::create_directories(dir_ / "home");
  // Genesis: the client's accounts, and the roles' wallets when they run.
  chain::Genesis genesis;
  for (const Keypair* k : {&owner_, &payer_, &validator_cold_}) {
    genesis.balances.push_back({chain::key_of(k->public_key()), 100000 * chain::kRaoPerTao});
  }
  std::vector<std::string> role_wallets;
  if (!args_.roles_data.empty()) role_wallets = {"agg", "late", "m1", "m2"};
  for (const auto& name : role_wallets) {
    auto w = create_wallet(dir_ / "home", name);
    if (!w.ok()) {
      std::fprintf(stderr, "error: %s\n", w.status().message().c_str());
      return 1;
    }
    genesis.balances.push_back({chain::key_of(w->coldkey.public_key()), 1000 * chain::kRaoPerTao});
  }
  {
    std::ofstream g(dir_ / "genesis.json");
    g << genesis.to_json();
  }
  // A first node run on an OS-picked port fixes the port for every restart.
  auto node = start_node("");
  port_ = wait_ready(*node, dir_ / "node.log", 0, std::chrono::seconds(20));
  if (port_ == 0) {
    std::fprintf(stderr, "error: the node did not start:\n%s\n", read_text(dir_ / "node.log").c_str());
    return 1;
  }
  node->stop();
  node = start_node("");
  std::size_t log_at = 0;
  if (wait_ready(*node, dir_ / "node.log", log_at, std::chrono::seconds(20)) != port_) {
    std::fprintf(stderr, "error: the node did not restart on port %d\n", port_);
    return 1;
  }
  address_ = "127.0.0.1:" + std::to_string(port_);
  auto setup = chain::connect_embedded_chain(address_, std::chrono::seconds(10));
  if (!setup.ok()) return 1;
  auto& c = **setup;
  const std::string spec = "[run]\nname = \"crash\"\nseed = 3\n[model]\npreset = \"nano\"\n[data]\npage_tokens = 1024\n"
                           "pages_per_window = 2\n[schedule]\nblocks_per_window = 10\ntempo = 9\nblock_time_ms = 100\n"
                           "[train]\ninner_steps = 2\nbatch_size = 4\nseq_len = 32\n"
                           "[validator]\ncommit_reveal = true\nreveal_delay = 3\nreveal_window = 4\nwindows_per_weights = 1\n";
  proto::SubnetParams params;
  params.set_weights_rate_limit(1);
  params.set_max_uids(64);
  params.set_immunity_period(1000000);
  auto created = c.create_subnet(owner_, spec, params);
  auto uid = created.ok() ? c.register_hotkey(validator_cold_, validator_hot_.public_key(), 1) : Result<std::uint32_t>(created.status());
  auto staked = uid.ok() ? c.add_stake(validator_cold_, validator_hot_.public_key(), 1, 50 * chain::kRaoPerTao)
                         : Result<chain::Included>(uid.status());
  if (!staked.ok()) {
    std::fprintf(stderr, "error: setting up the subnet: %s\n", staked.status().message().c_str());
    return 1;
  }
  if (!args_.roles_data.empty()) {
    auto roles_subnet = c.create_subnet(owner_, spec, params);
    auto agg = load_wallet(dir_ / "home", "agg");
    proto::SubnetParams set;
    if (roles_subnet.ok() && agg.ok()) set.set_aggregator_hotkey(raw_bytes(agg->hotkey.public_key()));
    if (!roles_subnet.ok() || !agg.ok() || !c.set_subnet_params(owner_, 2, set).ok()) {
      std::fprintf(stderr, "error: setting up the roles' subnet\n");
      return 1;
    }
    start_roles();
  }
  std::thread client([this] { client_loop(); });
  int failed = 0;
  std::map<std::string, int> by_cause;
  for (int round = 1; round <= args_.kills && failed == 0; ++round) {
    std::string cause = "random";
    const double run_s = 0.5 + 2.0 * rng_.uniform_double();
    if (args_.faults && round % 2 == 0) {
      cause = kFaults[(round / 2 - 1) % (sizeof kFaults / sizeof *kFaults)];
      node->stop();  // restart armed: it kills itself at the point's second hit
      log_at = fs::file_size(dir_ / "node.log");
      node = start_node(cause + ":2");
      wait_ready(*node, dir_ / "node.log", log_at, std::chrono::seconds(20));
      int code = 0;
      if (!node->wait(std::chrono::seconds(30), &code)) {
        node->signal(SIGKILL);
        node->wait(std::chrono::seconds(5));
        cause += " (not reached; killed)";
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(run_s * 1000)));
      node->signal(SIGKILL);
      node->wait(std::chrono::seconds(5));
    }
    Status s = check_folder(round);
    log_at = fs::file_size(dir_ / "node.log");
    node = start_node("");
    const auto t0 = Clock::now();
    const int ready = wait_ready(*node, dir_ / "node.log", log_at, std::chrono::seconds(30));
    const double restart_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s.ok() && ready != port_) s = Internal("round " + std::to_string(round) + ": the node did not restart:\n" +
                                               read_text(dir_ / "node.log").substr(log_at));
    if (s.ok()) s = check_restart(round);
    std::uint64_t height = 0;
    {
      std::lock_guard lock(ack_.mu);
      height = ack_.highest_block;
    }
    by_cause[cause] += 1;
    rounds_.push_back({{"round", round}, {"cause", cause}, {"ok", s.ok()}, {"restart_s", restart_s},
                       {"acknowledged_height", height}});
    std::printf("round %2d  %-28s %s  restart %.2fs  acknowledged up to block %llu\n", round, cause.c_str(),
                s.ok() ? "ok    " : "FAILED", restart_s, static_cast<unsigned long long>(height));
    std::fflush(stdout);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      ++failed;
    }
  }
  stop_ = true;
  client.join();
  node->stop();
  roles_.clear();
  nlohmann::json summary;
  {
    std::lock_guard lock(ack_.mu);
    summary = {{"bench", "chain_crash"},
               {"kills", rounds_.size()},
               {"failed", failed},
               {"powercut", !args_.powercut.empty()},
               {"roles", !args_.roles_data.empty()},
               {"by_cause", by_cause},
               {"acknowledged", {{"transfers", ack_.transfers},
                                 {"registrations", ack_.registered.size()},
                                 {"commits", ack_.commits},
                                 {"reveals_accepted", ack_.reveals_accepted},
                                 {"reveals_refused_late", ack_.reveals_refused_late},
                                 {"announcements", ack_.announcements},
                                 {"highest_block", ack_.highest_block}}},
               {"rounds", rounds_},
               {"data_dir", dir_.string()}};
  }
  std::printf("%s\n", args_.json ? summary.dump(2).c_str() : summary.dump().c_str());
  if (failed == 0) fs::remove_all(dir_);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  tessera::Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", f.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (f == "--tessera") a.tessera = value();
    else if (f == "--kills") a.kills = std::stoi(value());
    else if (f == "--faults") a.faults = true;
    else if (f == "--powercut") a.powercut = value();
    else if (f == "--roles") a.roles_data = value();
    else if (f == "--seed") a.seed = std::stoull(value());
    else if (f == "--json") a.json = true;
    else {
      std::fprintf(stderr, "usage: chain_crash --tessera PATH [--kills N] [--faults] [--powercut LIB] [--roles DATA] "
                           "[--seed S] [--json]\n");
      return 2;
    }
  }
  if (a.tessera.empty()) {
    std::fprintf(stderr, "error: --tessera PATH is required\n");
    return 2;
  }
  return tessera::Harness(a).run();
}
