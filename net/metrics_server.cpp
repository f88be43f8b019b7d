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
  std::string host = "127.0.0.1", port_text = address;
  if (const auto colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
  }
  if (host.empty() || port < 0 || port > 65535) {
    return InvalidArgument("--metrics-listen '" + address + "': give HOST:PORT or PORT (0: any free port)");
  }
  register_process_metrics(registry);
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->server_ = std::make_unique<httplib::Server>();
  s->server_->set_read_timeout(5, 0);
  s->server_->set_write_timeout(5, 0);
  s->server_->set_payload_max_length(4096);
  s->server_->Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.exposition(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s->server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Tessera metrics: /metrics (Prometheus text format)\n", "text/plain");
  });
  const int bound = port == 0 ? s->server_->bind_to_any_port(host) : (s->server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return Unavailable("cannot serve metrics on " + host + ":" + std::to_string(port) + " (address in use?)");
  s->host_ = host;
  s->port_ = bound;
  auto* server = s->server_.get();
  s->thread_ = std::thread([server] { server->listen_after_bind(); });
  return s;
}

MetricsServer::~MetricsServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string MetricsServer::url() const { return "http://" + host_ + ":" + std::to_string(port_) + "/metrics"; }

}  // namespace tessera::net
