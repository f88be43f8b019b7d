// tessera — the single executable for every role. See README.md for an overview and
// `tessera <command> --help` for each command.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "core/log.h"

namespace {

// The first argument that is not a global option must name a command; CLI11 alone would
// answer an unknown one with "A subcommand is required".
bool names_a_command(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--home" || arg == "--log-level") {
      ++i;
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    std::string names;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(arg)) return true;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    std::fprintf(stderr, "error: unknown command '%s' (commands: %s)\n", arg.c_str(), names.c_str());
    return false;
  }
  return true;  // no command at all: CLI11 says one is required
}

int run(int argc, char** argv) {
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
  tessera::cli::add_generate_command(app, global, &exit_code);
  tessera::cli::add_dashboard_command(app, global, &exit_code);
  tessera::cli::add_demo_command(app, global, &exit_code);
  tessera::cli::add_sim_command(app, global, &exit_code);
  app.parse_complete_callback([&] {
    if (auto st = tessera::init_logging("tessera", global.log_level); !st.ok()) {
      throw CLI::ValidationError("--log-level", st.message());
    }
  });
  if (!names_a_command(app, argc, argv)) return 2;
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // Commands report their errors as Status; anything thrown past them (a filesystem or
  // JSON exception from a library) still ends with one clear line and a non-zero exit.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "error: unexpected exception\n");
  }
  return 1;
}
