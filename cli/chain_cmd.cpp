// `tessera chain …`: the embedded ledger node and its tools.
//   chain yuma-check --vectors FILE [--json]   evaluate Yuma Consensus test vectors
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "chain-bridge/client.h"
#include "chain-bridge/node.h"
#include "chain-bridge/replay.h"
#include "chain-bridge/yuma_vectors.h"
#include "chain-bridge/substrate/ss58.h"
#include "cli/commands.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/run_spec.h"

namespace tessera::cli {

namespace {
Status run_yuma_check(const std::string& path, bool json, int* failed) {
  TESSERA_ASSIGN_OR_RETURN(auto results, chain::evaluate_yuma_vectors_file(path));
  std::size_t passed = 0;
  double worst = 0.0;
  for (const auto& r : results) {
    passed += r.pass ? 1 : 0;
    worst = std::max(worst, r.max_abs_error);
    if (json) {
      std::printf("%s\n", r.to_json().dump().c_str());
    } else {
      std::printf("%-4s %-60s max_abs_error %.3g\n", r.pass ? "ok" : "FAIL", r.name.c_str(), r.max_abs_error);
      for (const auto& f : r.failures) std::printf("       %s\n", f.c_str());
    }
  }
  const nlohmann::json summary = {{"summary", true},   {"vectors", results.size()}, {"passed", passed},
                                  {"failed", results.size() - passed}, {"max_abs_error", worst}};
  if (json) {
    std::printf("%s\n", summary.dump().c_str());
  } else {
    std::printf("%zu of %zu vectors pass\n", passed, results.size());
  }
  *failed = static_cast<int>(results.size() - passed);
  return Status::Ok();
}
// --fund NAME=TAO: the wallet's coldkey (creating the wallet if needed) gets TAO at genesis.
Status add_funding(const std::filesystem::path& home, const std::string& item, chain::Genesis* genesis) {
  const auto eq = item.find('=');
  if (eq == std::string::npos || eq == 0) return InvalidArgument("--fund '" + item + "' must be NAME=TAO");
  const std::string name = item.substr(0, eq);
  TESSERA_ASSIGN_OR_RETURN(std::uint64_t rao, chain::parse_tao(item.substr(eq + 1)));
  auto wallet = load_wallet(home, name);
  if (!wallet.ok() && wallet.status().code() == StatusCode::kNotFound) wallet = create_wallet(home, name);
  if (!wallet.ok()) return wallet.status();
  genesis->balances.push_back({chain::key_of(wallet->coldkey.public_key()), rao});
  return Status::Ok();
}

Status run_chain_start(const GlobalOptions& global, const std::string& listen, const std::string& data_dir,
                       int block_time_ms, std::uint64_t snapshot_every, const std::vector<std::string>& fund,
                       const std::string& genesis_file, const std::string& metrics_listen) {
  const auto home = home_path(global);
  TESSERA_ASSIGN_OR_RETURN(auto metrics, serve_metrics(metrics_listen));
  chain::NodeOptions opt;
  opt.listen = listen;
  opt.data_dir = data_dir.empty() ? home / "chain" : std::filesystem::path(data_dir);
  opt.block_time_ms = block_time_ms;
  opt.snapshot_every = snapshot_every;
  if (!genesis_file.empty()) {
    TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(genesis_file));
    TESSERA_ASSIGN_OR_RETURN(opt.genesis, chain::Genesis::from_json(text));
  }
  for (const auto& f : fund) TESSERA_RETURN_IF_ERROR(add_funding(home, f, &opt.genesis));
  install_interrupt_handler();
  TESSERA_ASSIGN_OR_RETURN(auto node, chain::ChainNode::open(opt));
  return node->run();
}

Result<std::unique_ptr<chain::ChainClient>> connect(const std::string& address) {
  return chain::connect_chain(address.empty() ? chain::default_chain_address() : address);
}

Status run_subnet_create(const GlobalOptions& global, const std::string& address, const std::string& spec_path,
                         const std::string& wallet_name) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(spec_path));
  TESSERA_RETURN_IF_ERROR(parse_run_spec(text, spec_path).status());
  TESSERA_ASSIGN_OR_RETURN(Wallet w, load_wallet(home_path(global), wallet_name));
  TESSERA_ASSIGN_OR_RETURN(auto client, connect(address));
  TESSERA_ASSIGN_OR_RETURN(std::uint32_t netuid, client->create_subnet(w.coldkey, text));
  std::printf("created subnet %u (owner %s, spec %s)\n", netuid, w.name.c_str(), spec_path.c_str());
  std::printf("run spec hash %s\n", to_hex(blake2b_256(text)).c_str());
  std::printf("netuid %u\n", netuid);
  return Status::Ok();
}

Status run_subnet_show(const std::string& address, std::uint32_t netuid, bool json) {
  TESSERA_ASSIGN_OR_RETURN(auto client, connect(address));
  TESSERA_ASSIGN_OR_RETURN(chain::Subnet s, client->subnet(netuid));
  if (json) {
    nlohmann::json j = {{"netuid", s.netuid}, {"owner", to_hex(s.owner)}, {"block", s.block},
                        {"spec_hash", to_hex(s.spec_hash)}, {"locked_rao", s.locked},
                        {"pending_emission_rao", s.pending_emission}, {"last_epoch_block", s.last_epoch_block},
                        {"tempo", s.params.tempo()}, {"max_uids", s.params.max_uids()},
                        {"commit_reveal", s.params.commit_reveal()}, {"neurons", nlohmann::json::array()}};
    for (const auto& n : s.neurons) {
      j["neurons"].push_back({{"uid", n.uid}, {"hotkey", to_hex(n.hotkey)}, {"coldkey", to_hex(n.coldkey)},
                              {"stake_rao", n.stake}, {"address", n.address},
                              {"consensus", n.consensus_u16 / 65535.0}, {"incentive", n.incentive_u16 / 65535.0},
                              {"dividends", n.dividends_u16 / 65535.0},
                              {"validator_trust", n.validator_trust_u16 / 65535.0},
                              {"validator_permit", n.validator_permit}, {"last_emission_rao", n.last_emission},
                              {"total_earned_rao", n.total_earned}, {"last_update", n.last_update},
                              {"registration_block", n.registration_block}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return Status::Ok();
  }
  std::printf("subnet %u at block %llu — owner %s…, tempo %u, %d/%u uids, commit-reveal %s, pending %s\n",
              s.netuid, static_cast<unsigned long long>(s.block), to_hex(s.owner).substr(0, 8).c_str(),
              s.params.tempo(), static_cast<int>(s.neurons.size()), s.params.max_uids(), s.params.commit_reveal() ? "on" : "off",
              chain::format_tao_short(s.pending_emission).c_str());
  std::printf("%4s %-10s %12s %6s %9s %9s %9s %4s %12s %7s  %s\n", "uid", "hotkey", "stake TAO", "cons", "incentive",
              "dividends", "trust", "vp", "earned TAO", "updated", "endpoint");
  for (const auto& n : s.neurons) {
    std::printf("%4u %-10s %12s %6.3f %9.4f %9.4f %9.4f %4s %12s %7llu  %s\n", n.uid, to_hex(n.hotkey).substr(0, 8).c_str(),
                chain::format_tao_short(n.stake, false).c_str(), n.consensus_u16 / 65535.0, n.incentive_u16 / 65535.0,
                n.dividends_u16 / 65535.0, n.validator_trust_u16 / 65535.0, n.validator_permit ? "yes" : "-",
                chain::format_tao_short(n.total_earned, false).c_str(), static_cast<unsigned long long>(n.last_update),
                n.address.empty() ? "-" : n.address.c_str());
  }
  return Status::Ok();
}

Status run_subnet_register(const GlobalOptions& global, const std::string& address, std::uint32_t netuid,
                           const std::string& wallet_name, const std::string& sudo_wallet) {
  TESSERA_ASSIGN_OR_RETURN(Wallet w, load_wallet(home_path(global), wallet_name));
  TESSERA_ASSIGN_OR_RETURN(auto client, connect(address));
  std::uint32_t uid = 0;
  if (sudo_wallet.empty()) {
    TESSERA_ASSIGN_OR_RETURN(uid, client->register_hotkey(w.coldkey, w.hotkey.public_key(), netuid));
  } else {
    TESSERA_ASSIGN_OR_RETURN(Wallet sudo, load_wallet(home_path(global), sudo_wallet));
    TESSERA_ASSIGN_OR_RETURN(uid, client->register_by_sudo(sudo.coldkey, w.coldkey.public_key(), w.hotkey.public_key(), netuid));
  }
  std::printf("registered hotkey %s… of wallet %s on subnet %u as uid %u\n", w.hotkey.public_hex().substr(0, 8).c_str(),
              w.name.c_str(), netuid, uid);
  return Status::Ok();
}

Status run_stake_add(const GlobalOptions& global, const std::string& address, std::uint32_t netuid,
                     const std::string& wallet_name, const std::string& amount) {
  TESSERA_ASSIGN_OR_RETURN(std::uint64_t rao, chain::parse_tao(amount));
  TESSERA_ASSIGN_OR_RETURN(Wallet w, load_wallet(home_path(global), wallet_name));
  TESSERA_ASSIGN_OR_RETURN(auto client, connect(address));
  TESSERA_ASSIGN_OR_RETURN(auto inc, client->add_stake(w.coldkey, w.hotkey.public_key(), netuid, rao));
  std::printf("staked %s to %s… on subnet %u (block %llu)\n", chain::format_tao(rao).c_str(),
              w.hotkey.public_hex().substr(0, 8).c_str(), netuid, static_cast<unsigned long long>(inc.block));
  return Status::Ok();
}

Status run_balance(const GlobalOptions& global, const std::string& address, const std::string& wallet_name, bool json) {
  TESSERA_ASSIGN_OR_RETURN(Wallet w, load_wallet(home_path(global), wallet_name));
  TESSERA_ASSIGN_OR_RETURN(auto client, connect(address));
  TESSERA_ASSIGN_OR_RETURN(auto cold, client->account(w.coldkey.public_key()));
  TESSERA_ASSIGN_OR_RETURN(auto hot, client->account(w.hotkey.public_key()));
  if (json) {
    std::printf("%s\n", nlohmann::json{{"wallet", w.name}, {"block", cold.block}, {"coldkey_rao", cold.balance},
                                        {"hotkey_rao", hot.balance}}.dump().c_str());
  } else {
    std::printf("wallet %s at block %llu\n  coldkey %s…  %s\n  hotkey  %s…  %s\n", w.name.c_str(),
                static_cast<unsigned long long>(cold.block), w.coldkey.public_hex().substr(0, 8).c_str(),
                chain::format_tao(cold.balance).c_str(), w.hotkey.public_hex().substr(0, 8).c_str(),
                chain::format_tao(hot.balance).c_str());
  }
  return Status::Ok();
}

Status run_transfer(const GlobalOptions& global, const std::string& address, const std::string& wallet_name,
                    const std::string& to, const std::string& amount) {
  TESSERA_ASSIGN_OR_RETURN(std::uint64_t rao, chain::parse_tao(amount));
  TESSERA_ASSIGN_OR_RETURN(Wallet w, load_wallet(home_path(global), wallet_name));
  PublicKey dest;
  if (auto named = load_wallet(home_path(global), to); named.ok()) {
    dest = named->coldkey.public_key();
  } else {
    auto key = substrate::parse_public_key(to);
    if (!key.ok()) return InvalidArgument("--to " + to + ": not a wallet name, and " + key.status().message());
    dest = *key;
  }
  TESSERA_ASSIGN_OR_RETURN(auto client, connect(address));
  TESSERA_ASSIGN_OR_RETURN(auto inc, client->transfer(w.coldkey, dest, rao));
  std::printf("sent %s to %s (block %llu)\n", chain::format_tao(rao).c_str(), to.c_str(),
              static_cast<unsigned long long>(inc.block));
  return Status::Ok();
}

Status run_chain_check(const std::string& data_dir, bool json, int* exit_code) {
  TESSERA_ASSIGN_OR_RETURN(chain::ReplayReport r, chain::check_data_dir(data_dir));
  if (json) {
    nlohmann::json j = {{"data_dir", data_dir},       {"blocks", r.blocks},         {"verified", r.verified},
                        {"log_bytes", r.log_bytes},   {"valid_bytes", r.valid_bytes}, {"log_problem", r.log_problem},
                        {"snapshot_problem", r.snapshot_problem}, {"ok", r.ok()}};
    if (r.diverged_at) {
      j["diverged_at"] = *r.diverged_at;
      j["divergence"] = r.divergence;
      j["extrinsics"] = r.extrinsics;
    }
    if (r.snapshot_height) j["snapshot_height"] = *r.snapshot_height;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s: %s\n", data_dir.c_str(), r.to_text().c_str());
  }
  *exit_code = r.ok() ? 0 : 1;
  return Status::Ok();
}

// Keeps blocks 1..height (which must replay) and moves everything after them, and a
// snapshot beyond them, into <data-dir>/set-aside-<unix time>/. Never runs implicitly.
Status run_chain_recover(const std::string& data_dir, std::uint64_t height) {
  const std::filesystem::path dir(data_dir);
  TESSERA_ASSIGN_OR_RETURN(chain::ReplayReport r, chain::check_data_dir(dir));
  if (height > r.verified) {
    return FailedPrecondition("--to-height " + std::to_string(height) + ": only blocks 1.." + std::to_string(r.verified) +
                              " replay to their recorded state; recover to at most " + std::to_string(r.verified));
  }
  TESSERA_ASSIGN_OR_RETURN(chain::LogContents log, chain::read_block_log(dir / "blocks.log"));
  const std::uint64_t keep_bytes = height == 0 ? 0 : log.ends[height - 1];
  const auto aside = dir / ("set-aside-" + std::to_string(std::time(nullptr)));
  std::error_code ec;
  std::filesystem::create_directories(aside, ec);
  if (ec) return IoError("cannot create " + aside.string() + ": " + ec.message());
  TESSERA_ASSIGN_OR_RETURN(std::string bytes, read_file(dir / "blocks.log"));
  TESSERA_RETURN_IF_ERROR(write_file_atomic(aside / "blocks.log", bytes, 0600));
  std::string note = "set aside by `tessera chain recover --to-height " + std::to_string(height) + "`: blocks.log is the " +
                     "whole log as it was (" + std::to_string(r.blocks) + " blocks, " + std::to_string(bytes.size()) +
                     " bytes); the data folder keeps its first " + std::to_string(keep_bytes) + " bytes.\n";
  if (r.snapshot_height && *r.snapshot_height > height) {
    std::filesystem::rename(dir / "snapshot.bin", aside / "snapshot.bin", ec);
    if (ec) return IoError("moving the snapshot aside: " + ec.message());
    note += "snapshot.bin (height " + std::to_string(*r.snapshot_height) + ") was beyond the kept blocks.\n";
  }
  TESSERA_RETURN_IF_ERROR(write_file_atomic(aside / "README.txt", note, 0600));
  TESSERA_RETURN_IF_ERROR(chain::BlockLog::truncate(dir / "blocks.log", keep_bytes));
  std::printf("kept blocks 1..%llu (%llu bytes) in %s; %llu later block(s) and the original log are in %s\n",
              static_cast<unsigned long long>(height), static_cast<unsigned long long>(keep_bytes), data_dir.c_str(),
              static_cast<unsigned long long>(r.blocks - height), aside.string().c_str());
  return Status::Ok();
}

}  // namespace

void add_chain_commands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* chain = app.add_subcommand("chain", "The embedded ledger node and consensus tools");
  chain->require_subcommand(1);

  auto* check = chain->add_subcommand("yuma-check", "Evaluate Yuma Consensus test vectors (../shared/yuma format)");
  static std::string vectors;
  static bool json = false;
  check->add_option("--vectors", vectors, "Vectors file (format yuma-epoch-vectors/1)")->required();
  check->add_flag("--json", json, "One JSON object per vector, then a summary object");
  check->callback([exit_code] {
    int failed = 0;
    *exit_code = report(run_yuma_check(vectors, json, &failed));
    if (*exit_code == 0 && failed > 0) *exit_code = 1;
  });

  auto* verify_dir = chain->add_subcommand(
      "check", "Replay a node's data folder from genesis and name the first block that does not replay");
  static std::string check_dir;
  static bool check_json = false;
  verify_dir->add_option("--data-dir", check_dir, "The node's data folder (it is not modified)")->required();
  verify_dir->add_flag("--json", check_json, "Print the report as JSON");
  verify_dir->callback([exit_code] {
    int code = 0;
    Status s = run_chain_check(check_dir, check_json, &code);
    *exit_code = s.ok() ? code : report(s);
  });
  auto* recover = chain->add_subcommand(
      "recover", "Keep the blocks of a data folder up to a height that replays; set the rest aside");
  static std::string recover_dir;
  static std::uint64_t recover_height = 0;
  recover->add_option("--data-dir", recover_dir, "The node's data folder")->required();
  recover->add_option("--to-height", recover_height, "The last block to keep (see `tessera chain check`)")->required();
  recover->callback([exit_code] { *exit_code = report(run_chain_recover(recover_dir, recover_height)); });

  static std::string chain_address;  // shared by the client commands
  auto* start = chain->add_subcommand("start", "Run the embedded ledger node (blocks, gRPC ChainService)");
  static std::string listen = "127.0.0.1:7700", data_dir, genesis_file;
  static int block_time_ms = 12000;
  static std::uint64_t snapshot_every = 100;
  static std::vector<std::string> fund;
  start->add_option("--listen", listen, "gRPC address");
  start->add_option("--data-dir", data_dir, "Block log and snapshots (default <home>/chain)");
  start->add_option("--block-time-ms", block_time_ms, "Block interval in milliseconds")->check(CLI::Range(10, 3600000));
  start->add_option("--snapshot-every", snapshot_every, "Blocks between state snapshots")->check(CLI::Range(1, 1000000));
  start->add_option("--fund", fund, "NAME=TAO: fund wallet NAME's coldkey at genesis (creates the wallet if missing)");
  start->add_option("--genesis", genesis_file, "Genesis JSON (chain_name, subnet_lock_cost_rao, balances)");
  static std::string chain_metrics;
  add_metrics_option(start, &chain_metrics);
  start->callback([&global, exit_code] {
    *exit_code =
        report(run_chain_start(global, listen, data_dir, block_time_ms, snapshot_every, fund, genesis_file, chain_metrics));
  });

  auto* subnet = app.add_subcommand("subnet", "Create and inspect subnets on the chain");
  subnet->require_subcommand(1);
  subnet->add_option("--chain", chain_address, "Chain node address (default $TESSERA_CHAIN or 127.0.0.1:7700)");
  subnet->fallthrough();  // `subnet create ... --chain ADDR` works too
  auto* create = subnet->add_subcommand("create", "Create a subnet from a run spec (locks the subnet cost)");
  static std::string spec_path, owner;
  create->add_option("--spec", spec_path, "Run spec TOML")->required();
  create->add_option("--wallet", owner, "Owner wallet (its coldkey pays the lock)")->required();
  create->callback([&global, exit_code] { *exit_code = report(run_subnet_create(global, chain_address, spec_path, owner)); });
  auto* spec_hash = subnet->add_subcommand(
      "spec-hash", "Print a run spec's BLAKE2b-256: what roles on a chain that keeps no spec (subtensor) check with --spec-hash");
  static std::string hash_path;
  spec_hash->add_option("--spec", hash_path, "Run spec TOML")->required();
  spec_hash->callback([exit_code] {
    auto text = read_file(hash_path);
    Status s = text.status();
    if (s.ok()) s = parse_run_spec(*text, hash_path).status();
    if (s.ok()) std::printf("%s\n", to_hex(blake2b_256(*text)).c_str());
    *exit_code = report(s);
  });
  auto* show = subnet->add_subcommand("show", "Print a subnet's metagraph");
  static std::uint32_t netuid = 0;
  static bool show_json = false;
  show->add_option("--netuid", netuid, "Subnet id")->required();
  show->add_flag("--json", show_json, "JSON output");
  show->callback([exit_code] { *exit_code = report(run_subnet_show(chain_address, netuid, show_json)); });
  auto* reg = subnet->add_subcommand("register", "Burned registration of a wallet's hotkey");
  static std::string reg_wallet, reg_sudo;
  reg->add_option("--netuid", netuid, "Subnet id")->required();
  reg->add_option("--wallet", reg_wallet, "Wallet (coldkey pays, hotkey is registered)")->required();
  reg->add_option("--sudo", reg_sudo,
                  "Register through the chain's sudo key held by this wallet's coldkey (localnets whose genesis "
                  "disables burned registration; subtensor's sudo_register)");
  reg->callback([&global, exit_code] {
    *exit_code = report(run_subnet_register(global, chain_address, netuid, reg_wallet, reg_sudo));
  });

  auto* stake = app.add_subcommand("stake", "Stake TAO to a hotkey");
  stake->require_subcommand(1);
  auto* add = stake->add_subcommand("add", "Move TAO from a wallet's coldkey to its hotkey's stake on a subnet");
  static std::string stake_wallet, stake_amount;
  add->add_option("--chain", chain_address, "Chain node address");
  add->add_option("--netuid", netuid, "Subnet id")->required();
  add->add_option("--wallet", stake_wallet, "Wallet")->required();
  add->add_option("--amount", stake_amount, "TAO")->required();
  add->callback([&global, exit_code] {
    *exit_code = report(run_stake_add(global, chain_address, netuid, stake_wallet, stake_amount));
  });

  CLI::App* wallet = app.get_subcommand("wallet");
  auto* balance = wallet->add_subcommand("balance", "Balances of a wallet's coldkey and hotkey, read from the chain");
  static std::string balance_name;
  static bool balance_json = false;
  balance->add_option("--name", balance_name, "Wallet name")->required();
  balance->add_option("--chain", chain_address, "Chain node: HOST:PORT (embedded) or ws://HOST:PORT (subtensor)");
  balance->add_flag("--json", balance_json, "JSON output");
  balance->callback([&global, exit_code] {
    *exit_code = report(run_balance(global, chain_address, balance_name, balance_json));
  });
  auto* transfer = wallet->add_subcommand("transfer", "Send TAO from a wallet's coldkey");
  static std::string from, to, amount;
  transfer->add_option("--name", from, "Sending wallet")->required();
  transfer->add_option("--to", to, "Receiving wallet name, hex public key or SS58 address")->required();
  transfer->add_option("--amount", amount, "TAO")->required();
  transfer->add_option("--chain", chain_address, "Chain node: HOST:PORT (embedded) or ws://HOST:PORT (subtensor)");
  transfer->callback([&global, exit_code] { *exit_code = report(run_transfer(global, chain_address, from, to, amount)); });
}

}  // namespace tessera::cli
