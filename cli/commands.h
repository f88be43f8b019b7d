// Subcommands of the `tessera` executable. Each add_* registers its subcommands on the
// app; the callback they install stores the command's exit code in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "core/status.h"
#include "net/metrics_server.h"

namespace tessera::cli {

struct GlobalOptions {
  std::string home;       // --home: wallets and node state (default $TESSERA_HOME or ~/.tessera)
  std::string log_level = "info";
};

void add_wallet_commands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_data_commands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_train_command(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_info_command(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_bench_commands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_chain_commands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_checkpoint_commands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_role_bench_commands(CLI::App* bench, int* exit_code);  // bench miner / validator
void add_sim_command(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_generate_command(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_dashboard_command(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_demo_command(CLI::App& app, const GlobalOptions& global, int* exit_code);
void add_role_commands(CLI::App& app, const GlobalOptions& global, int* exit_code);  // after add_chain_commands

// --home, else $TESSERA_HOME, else ~/.tessera.
std::filesystem::path home_path(const GlobalOptions& global);

// Prints "error: <message>" to stderr and returns 1 for a non-OK status, else 0.
int report(const Status& status);

// `--metrics-listen ADDR` on a long-running role (docs/operations.md).
void add_metrics_option(CLI::App* cmd, std::string* address);
// Serves the process's metrics at ADDR when it is set (null otherwise) and says where on
// stderr: "metrics on http://HOST:PORT/metrics".
Result<std::unique_ptr<net::MetricsServer>> serve_metrics(const std::string& address);

}  // namespace tessera::cli
