// tessera — the single executable for every role. See README.md for an overview and
// `tessera <command> --help` for each command.
#include <cstdio>

#include "cli/commands.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{"Tessera: decentralized, incentivized training of neural networks"};
  app.require_subcommand(1);
  tessera::cli::GlobalOptions global;
  app.add_option("--home", global.home, "State folder for wallets and nodes (default: $TESSERA_HOME or ~/.tessera)");
  app.add_option("--log-level", global.log_level, "trace | debug | info | warn | error | off");
  int exit_code = 0;
  tessera::cli::add_wallet_commands(app, global, &exit_code);
  tessera::cli::add_data_commands(app, global, &exit_code);
  tessera::cli::add_train_command(app, global, &exit_code);
  tessera::cli::add_info_command(app, global, &exit_code);
  tessera::cli::add_bench_commands(app, global, &exit_code);
  tessera::cli::add_chain_commands(app, global, &exit_code);
  tessera::cli::add_checkpoint_commands(app, global, &exit_code);
  tessera::cli::add_role_commands(app, global, &exit_code);
  tessera::cli::add_demo_command(app, global, &exit_code);
  tessera::cli::add_sim_command(app, global, &exit_code);
  app.parse_complete_callback([&] {
    if (auto st = tessera::init_logging("tessera", global.log_level); !st.ok()) {
      throw CLI::ValidationError("--log-level", st.message());
    }
  });
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
