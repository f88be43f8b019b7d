// A small HTTP server on a thread of its own (cpp-httplib, Debian's libcpp-httplib-dev),
// for the pages and endpoints operators open: `--metrics-listen` (metrics_server.h) and
// `tessera dashboard`. Requests carry no body (capped at 4 KiB) and time out after 5 s,
// so a slow client cannot hold the process.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace httplib {
class Server;
}

namespace tessera::net {

class HttpServer {
 public:
  // `address`: "HOST:PORT", or "PORT" alone for 127.0.0.1 (localhost unless a host is
  // named); port 0 takes a free port. `option` names the flag it came from, for the
  // error. `routes` installs the handlers before the server listens.
  static Result<std::unique_ptr<HttpServer>> start(const std::string& address, const std::string& option,
                                                   const std::function<void(httplib::Server&)>& routes);
  ~HttpServer();  // stops serving and joins the thread
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string url(const std::string& path) const;  // http://HOST:PORT<path>

 private:
  HttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
};

}  // namespace tessera::net
