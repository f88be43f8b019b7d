#include <cstdio>

#include "cli/commands.h"
#include "core/identity.h"

namespace tessera::cli {

namespace {
void print_wallet(const Wallet& wallet, const std::filesystem::path& home) {
  std::printf("wallet   %s\n", wallet.name.c_str());
  std::printf("folder   %s\n", wallet_dir(home, wallet.name).c_str());
  std::printf("coldkey  %s\n", wallet.coldkey.public_hex().c_str());
  std::printf("hotkey   %s\n", wallet.hotkey.public_hex().c_str());
}
}  // namespace

void add_wallet_commands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* wallet = app.add_subcommand("wallet", "Create and inspect ed25519 wallets (coldkey + hotkey)");
  wallet->require_subcommand(1);

  static std::string create_name, show_name;
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
    print_wallet(*w, home);
    *exit_code = 0;
  });

  auto* show = wallet->add_subcommand("show", "Show a wallet's public keys");
  show->add_option("--name", show_name, "Wallet name")->required();
  show->callback([&global, exit_code] {
    const auto home = home_path(global);
    auto w = load_wallet(home, show_name);
    if (!w.ok()) {
      *exit_code = report(w.status());
      return;
    }
    print_wallet(*w, home);
    *exit_code = 0;
  });
}

}  // namespace tessera::cli
