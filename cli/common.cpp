#include <cstdio>

#include "cli/commands.h"
#include "core/identity.h"
#include "kernels/collective.h"
#include "kernels/device.h"
#include "model/device.h"
#include "model/config.h"

namespace tessera::cli {

int report(const Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return 1;
}

void add_info_command(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto* cmd = app.add_subcommand("info", "Show the build, devices and model presets");
  cmd->callback([exit_code] {
    std::printf("tessera %s\n", TESSERA_VERSION);
    std::printf("%s\n", model::describe_torch().c_str());
    std::printf("kernels: %s; NCCL %s\n", kernels::describe_devices().c_str(),
                kernels::NcclComm::compiled() ? "compiled" : "not compiled");
    std::printf("model presets:\n");
    for (const auto& name : model::preset_names()) {
      auto config = model::preset(name);
      std::printf("  %s\n", config->describe().c_str());
    }
    *exit_code = 0;
  });
}

}  // namespace tessera::cli

namespace tessera::cli {
std::filesystem::path home_path(const GlobalOptions& global) {
  return global.home.empty() ? default_tessera_home() : std::filesystem::path(global.home);
}
}  // namespace tessera::cli

namespace tessera::cli {
void add_metrics_option(CLI::App* cmd, std::string* address) {
  cmd->add_option("--metrics-listen", *address,
                  "Serve Prometheus metrics at http://ADDR/metrics; ADDR is HOST:PORT or PORT (127.0.0.1), 0: any free port");
}

Result<std::unique_ptr<net::MetricsServer>> serve_metrics(const std::string& address) {
  if (address.empty()) return std::unique_ptr<net::MetricsServer>();
  TESSERA_ASSIGN_OR_RETURN(auto server, net::MetricsServer::start(address));
  std::fprintf(stderr, "metrics on %s\n", server->url().c_str());
  std::fflush(stderr);
  return server;
}
}  // namespace tessera::cli
