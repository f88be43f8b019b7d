// `--metrics-listen ADDR`: serves the process's metrics registry (core/metrics.h) over
// HTTP at /metrics in Prometheus' text exposition format, for Prometheus to scrape.
// cpp-httplib (Debian's libcpp-httplib-dev) does the HTTP; requests carry no body (capped
// at 4 KiB) and time out after 5 s, so a slow client cannot hold the role.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "core/metrics.h"
#include "core/status.h"

namespace httplib {
class Server;
}

namespace tessera::net {

class MetricsServer {
 public:
  // `address`: "HOST:PORT", or "PORT" alone for 127.0.0.1 (metrics stay on localhost
  // unless a host is named). Port 0 takes a free port (see port()). Registers the
  // standard process_* metrics on `registry`.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address,
                                                      metrics::Registry& registry = metrics::registry());
  ~MetricsServer();  // stops serving
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // http://HOST:PORT/metrics

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
};

// process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds,
// process_start_time_seconds — Prometheus' standard process metrics, read from /proc.
void register_process_metrics(metrics::Registry& registry);

}  // namespace tessera::net
