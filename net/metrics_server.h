// `--metrics-listen ADDR`: serves the process's metrics registry (core/metrics.h) over
// HTTP (http_server.h) at /metrics in Prometheus' text exposition format, for Prometheus
// to scrape.
#pragma once

#include <memory>
#include <string>

#include "core/metrics.h"
#include "core/status.h"
#include "net/http_server.h"

namespace tessera::net {

class MetricsServer {
 public:
  // `address`: "HOST:PORT", or "PORT" alone for 127.0.0.1 (metrics stay on localhost
  // unless a host is named). Port 0 takes a free port (see port()). Registers the
  // standard process_* metrics on `registry`.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address,
                                                      metrics::Registry& registry = metrics::registry());

  int port() const { return http_->port(); }
  std::string url() const { return http_->url("/metrics"); }

 private:
  explicit MetricsServer(std::unique_ptr<HttpServer> http) : http_(std::move(http)) {}
  std::unique_ptr<HttpServer> http_;  // stops serving when the MetricsServer goes
};

// process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds,
// process_start_time_seconds — Prometheus' standard process metrics, read from /proc.
void register_process_metrics(metrics::Registry& registry);

}  // namespace tessera::net
