#include "net/metrics_server.h"

#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tessera::net {

namespace {

// Fields of /proc/self/stat after the command name: utime (14) and stime (15) in clock
// ticks, rss (24) in pages.
std::vector<std::string> proc_stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const auto close = text.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;  // fields[0] is field 3 (state)
}

double stat_field(int field) {
  const auto f = proc_stat_fields();
  const std::size_t i = static_cast<std::size_t>(field - 3);
  return i < f.size() ? std::stod(f[i]) : 0.0;
}

}  // namespace

void register_process_metrics(metrics::Registry& registry) {
  static const double start = static_cast<double>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  registry.gauge_callback("process_resident_memory_bytes", "Resident memory size in bytes.",
                          [] { return stat_field(24) * static_cast<double>(::sysconf(_SC_PAGESIZE)); });
  registry.counter_callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                            [] { return (stat_field(14) + stat_field(15)) / static_cast<double>(::sysconf(_SC_CLK_TCK)); });
  registry.gauge_callback("process_open_fds", "Number of open file descriptors.", [] {
    std::error_code ec;
    double n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
      n += 1;
    }
    return n;
  });
  registry.gauge_callback("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                          [] { return start; });
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address, metrics::Registry& registry) {
  TESSERA_ASSIGN_OR_RETURN(auto http, HttpServer::start(address, "--metrics-listen", [&registry](httplib::Server& server) {
                             server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
                               res.set_content(registry.exposition(), "text/plain; version=0.0.4; charset=utf-8");
                             });
                             server.Get("/", [](const httplib::Request&, httplib::Response& res) {
                               res.set_content("Tessera metrics: /metrics (Prometheus text format)\n", "text/plain");
                             });
                           }));
  register_process_metrics(registry);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(http)));
}

}  // namespace tessera::net
