#include <cstdio>

#include <nlohmann/json.hpp>

#include "chain-bridge/substrate/ss58.h"
#include "cli/commands.h"
#include "core/identity.h"

namespace tessera::cli {

namespace {
// Keys in hex and as SS58 addresses (Bittensor's prefix 42), the form substrate tools and
// block explorers show.
void print_wallet(const Wallet& wallet, const std::filesystem::path& home, bool json) {
  const std::string cold_ss58 = substrate::ss58_encode(wallet.coldkey.public_key());
  const std::string hot_ss58 = substrate::ss58_encode(wallet.hotkey.public_key());
  if (json) {
    std::printf("%s\n", nlohmann::json{{"wallet", wallet.name},
                                       {"folder", wallet_dir(home, wallet.name).string()},
                                       {"coldkey", wallet.coldkey.public_hex()},
                                       {"coldkey_ss58", cold_ss58},
                                       {"hotkey", wallet.hotkey.public_hex()},
                                       {"hotkey_ss58", hot_ss58}}
                             .dump()
                             .c_str());
    return;
  }
  std::printf("wallet   %s\n", wallet.name.c_str());
  std::printf("folder   %s\n", wallet_dir(home, wallet.name).c_str());
  std::printf("coldkey  %s  %s\n", wallet.coldkey.public_hex().c_str(), cold_ss58.c_str());
  std::printf("hotkey   %s  %s\n", wallet.hotkey.public_hex().c_str(), hot_ss58.c_str());
}
}  // namespace

void add_wallet_commands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* wallet = app.add_subcommand("wallet", "Create and inspect ed25519 wallets (coldkey + hotkey)");
  wallet->require_subcommand(1);

  static std::string create_name, show_name;
  static bool show_json = false;
  auto* create = wallet->add_subcommand("create", "Create a new wallet with fresh keys (files mode 0600)");
  create->add_option("--name", create_name, "Wallet name")->required();
  create->callback([&global, exit_code] {
    const auto home = home_path(global);
    auto w = create_wallet(home, create_name);
    if (!w.ok()) {
      *exit_code = report(w.status());
      return;
    }
    std::printf("created wallet '%s'\n", create_name.c_str());
    print_wallet(*w, home, false);
    *exit_code = 0;
  });

  auto* show = wallet->add_subcommand("show", "Show a wallet's public keys");
  show->add_option("--name", show_name, "Wallet name")->required();
  show->add_flag("--json", show_json, "JSON output (keys in hex and SS58)");
  show->callback([&global, exit_code] {
    const auto home = home_path(global);
    auto w = load_wallet(home, show_name);
    if (!w.ok()) {
      *exit_code = report(w.status());
      return;
    }
    print_wallet(*w, home, show_json);
    *exit_code = 0;
  });
}

}  // namespace tessera::cli
