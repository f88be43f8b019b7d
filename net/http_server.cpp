#include "net/http_server.h"

#include <httplib.h>

namespace tessera::net {

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& address, const std::string& option,
                                                      const std::function<void(httplib::Server&)>& routes) {
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
    return InvalidArgument(option + " '" + address + "': give HOST:PORT or PORT (0: any free port)");
  }
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->server_ = std::make_unique<httplib::Server>();
  s->server_->set_read_timeout(5, 0);
  s->server_->set_write_timeout(5, 0);
  s->server_->set_payload_max_length(4096);
  routes(*s->server_);
  const int bound = port == 0 ? s->server_->bind_to_any_port(host) : (s->server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return Unavailable(option + ": cannot listen on " + host + ":" + std::to_string(port) + " (address in use?)");
  s->host_ = host;
  s->port_ = bound;
  auto* server = s->server_.get();
  s->thread_ = std::thread([server] { server->listen_after_bind(); });
  return s;
}

HttpServer::~HttpServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string HttpServer::url(const std::string& path) const { return "http://" + host_ + ":" + std::to_string(port_) + path; }

}  // namespace tessera::net
