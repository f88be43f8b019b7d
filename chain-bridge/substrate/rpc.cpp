#include "chain-bridge/substrate/rpc.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

namespace tessera::substrate {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Url {
  bool tls = false;
  std::string host, port, path;
};

using PlainStream = websocket::stream<beast::tcp_stream>;
using TlsStream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

Result<Url> parse_url(const std::string& url) {
  std::string rest;
  Url u;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    rest = url.substr(6);
    u.tls = true;
  } else {
    return InvalidArgument("chain URL " + url + " must start with ws:// or wss://");
  }
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos || hostport.back() == ']') {
    u.host = hostport;
    u.port = u.tls ? "443" : "80";
  } else {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  }
  if (!u.host.empty() && u.host.front() == '[' && u.host.back() == ']') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty() || u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos || u.port.size() > 5 ||
      std::stoi(u.port) == 0 || std::stoi(u.port) > 65535)
    return InvalidArgument("chain URL " + url + " needs a host and a port 1..65535 (ws://HOST:PORT or wss://HOST[:PORT])");
  return u;
}

}  // namespace

struct RpcClient::Impl {
  std::string url_text;
  Url url;
  RpcOptions options;
  net::io_context ioc;
  // wss:// verifies the server against the system's CA store (SSL_CERT_FILE and
  // SSL_CERT_DIR override it, as for any OpenSSL client) and the URL's host name.
  net::ssl::context tls{net::ssl::context::tls_client};
  std::variant<std::monostate, std::unique_ptr<PlainStream>, std::unique_ptr<TlsStream>> ws;

  // Calls `f` with the open WebSocket stream, plain or TLS.
  template <typename F>
  void with_ws(F&& f) {
    if (auto* p = std::get_if<std::unique_ptr<PlainStream>>(&ws)) f(**p);
    else if (auto* t = std::get_if<std::unique_ptr<TlsStream>>(&ws)) f(**t);
  }
  bool has_ws() const { return ws.index() != 0; }
  void close_socket() {
    beast::error_code ignored;
    with_ws([&](auto& s) { beast::get_lowest_layer(s).socket().close(ignored); });
  }
  beast::flat_buffer buffer;
  bool connected = false;
  std::uint64_t next_id = 1;
  std::map<std::string, std::deque<json>> queues;  // subscription id → notifications
  std::size_t queued = 0;
  std::map<std::string, bool> live;  // subscriptions opened on the current connection
  RpcCounters counters;
  mutable std::mutex mu;

  // Runs one async operation started by `start(handler)` until it completes or
  // `deadline` passes; on a timeout the socket is closed and the operation aborted.
  // Handlers stop the io_context, because a pending read keeps it busy between calls.
  template <typename Start>
  beast::error_code run_until(Start&& start, Clock::time_point deadline, bool& timed_out) {
    bool done = false;
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
      ioc.stop();
    });
    while (!done && Clock::now() < deadline) {  // the pending read's handler may stop it too
      ioc.restart();
      ioc.run_until(deadline);
    }
    timed_out = !done;
    if (!done) {
      close_socket();
      ioc.restart();
      ioc.run_for(std::chrono::seconds(1));  // lets the aborted handlers finish
    }
    return result;
  }

  // The one outstanding read: it stays pending across calls, so that a wait that times
  // out does not break the connection (Beast cannot resume a cancelled read).
  bool reading = false;
  bool read_done = false;
  beast::error_code read_ec;

  void drop_connection() {
    if (has_ws()) {
      close_socket();
      ioc.restart();
      ioc.run_for(std::chrono::seconds(1));  // aborted handlers still refer to the stream
    }
    reading = false;
    read_done = false;
    ws = std::monostate{};
    connected = false;
    live.clear();  // their queues stay readable; next() then reports the loss
  }

  Status open() {
    drop_connection();
    auto deadline = Clock::now() + options.connect_timeout;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    bool timed_out = false;
    auto ec = run_until(
        [&](auto handler) {
          resolver.async_resolve(url.host, url.port, [&, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
            endpoints = r;
            handler(e);
          });
        },
        deadline, timed_out);
    if (timed_out) return DeadlineExceeded("resolving " + url.host + " timed out");
    if (ec) return Unavailable("cannot resolve " + url.host + ": " + ec.message());
    if (url.tls) {
      auto stream = std::make_unique<TlsStream>(ioc, tls);
      // SNI, and the certificate must name the URL's host.
      if (!SSL_set_tlsext_host_name(stream->next_layer().native_handle(), url.host.c_str()))
        return Unavailable("cannot set the TLS server name " + url.host);
      stream->next_layer().set_verify_mode(net::ssl::verify_peer);
      stream->next_layer().set_verify_callback(net::ssl::host_name_verification(url.host));
      ws = std::move(stream);
    } else {
      ws = std::make_unique<PlainStream>(ioc);
    }
    with_ws([&](auto& s) {
      ec = run_until([&](auto handler) { beast::get_lowest_layer(s).async_connect(endpoints, [handler](beast::error_code e, auto) mutable { handler(e); }); },
                     deadline, timed_out);
    });
    if (timed_out || ec) {
      drop_connection();
      return Unavailable("cannot connect to " + url_text + ": " + (timed_out ? "timed out" : ec.message()));
    }
    if (auto* t = std::get_if<std::unique_ptr<TlsStream>>(&ws)) {
      ec = run_until([&](auto handler) { (*t)->next_layer().async_handshake(net::ssl::stream_base::client, handler); }, deadline,
                     timed_out);
      if (timed_out || ec) {
        drop_connection();
        return Unavailable("TLS handshake with " + url_text + " failed: " + (timed_out ? "timed out" : ec.message()));
      }
    }
    with_ws([&](auto& s) {
      s.read_message_max(options.max_message_bytes);
      s.set_option(websocket::stream_base::decorator(
          [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "tessera"); }));
      ec = run_until([&](auto handler) { s.async_handshake(url.host + ":" + url.port, url.path, handler); }, deadline, timed_out);
    });
    if (timed_out || ec) {
      drop_connection();
      return Unavailable("WebSocket handshake with " + url_text + " failed: " + (timed_out ? "timed out" : ec.message()));
    }
    with_ws([](auto& s) { s.text(true); });
    connected = true;
    return Status::Ok();
  }

  // Opens the connection if it is down, retrying with exponential backoff.
  Status ensure_open() {
    if (connected) return Status::Ok();
    auto delay = options.backoff_initial;
    Status last;
    for (int attempt = 0; attempt <= options.reconnect_attempts; ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, options.backoff_max);
      }
      last = open();
      if (last.ok()) {
        if (counters.requests > 0) ++counters.reconnects;
        return last;
      }
    }
    return last.with_context("after " + std::to_string(options.reconnect_attempts + 1) + " attempts");
  }

  Status send(const json& message, Clock::time_point deadline) {
    std::string text = message.dump();
    bool timed_out = false;
    beast::error_code ec;
    with_ws([&](auto& s) { ec = run_until([&](auto handler) { s.async_write(net::buffer(text), handler); }, deadline, timed_out); });
    if (timed_out || ec) {
      drop_connection();
      return Unavailable("sending to " + url_text + " failed: " + (timed_out ? "timed out" : ec.message()));
    }
    return Status::Ok();
  }

  // Reads one message and files it: a response is returned, a notification queued.
  // A wait that times out leaves the read pending and the connection open.
  Result<std::optional<json>> receive(Clock::time_point deadline) {
    if (!reading) {
      buffer.clear();
      reading = true;
      read_done = false;
      with_ws([this](auto& s) {
        s.async_read(buffer, [this](beast::error_code ec, std::size_t) {
          read_ec = ec;
          read_done = true;
          ioc.stop();
        });
      });
    }
    while (!read_done && Clock::now() < deadline) {
      ioc.restart();
      ioc.run_until(deadline);
    }
    if (!read_done) return DeadlineExceeded("no answer from " + url_text + " in time");
    reading = false;
    auto ec = read_ec;
    if (ec == websocket::error::message_too_big) {
      drop_connection();
      return ResourceExhausted(url_text + " sent a message over the " + std::to_string(options.max_message_bytes) + "-byte cap");
    }
    if (ec) {
      drop_connection();
      return Unavailable("connection to " + url_text + " lost: " + ec.message());
    }
    json msg = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) {
      ++counters.malformed_messages;
      return std::optional<json>{};
    }
    if (msg.contains("id") && !msg["id"].is_null()) return std::optional<json>(std::move(msg));
    const json* params = msg.contains("params") ? &msg["params"] : nullptr;
    if (params && params->is_object() && params->contains("subscription") && params->contains("result")) {
      const json& sub = (*params)["subscription"];
      std::string id = sub.is_string() ? sub.get<std::string>() : sub.dump();
      if (queued >= options.max_queued_notifications) {
        // Drop the oldest notification of the longest queue.
        auto longest = queues.begin();
        for (auto it = queues.begin(); it != queues.end(); ++it)
          if (it->second.size() > longest->second.size()) longest = it;
        if (longest != queues.end() && !longest->second.empty()) {
          longest->second.pop_front();
          --queued;
          ++counters.dropped_notifications;
        }
      }
      queues[id].push_back((*params)["result"]);
      ++queued;
    } else {
      ++counters.malformed_messages;
    }
    return std::optional<json>{};
  }

  Result<json> request(const std::string& method, const json& params, bool retry) {
    for (int round = 0;; ++round) {
      TESSERA_RETURN_IF_ERROR(ensure_open());
      auto deadline = Clock::now() + options.request_timeout;
      std::uint64_t id = next_id++;
      ++counters.requests;
      Status sent = send(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}, deadline);
      Status failure = sent;
      while (failure.ok()) {
        auto got = receive(deadline);
        if (!got.ok()) {
          failure = got.status();
          break;
        }
        if (!got->has_value()) continue;
        json& msg = **got;
        if (!msg["id"].is_number_unsigned() || msg["id"].get<std::uint64_t>() != id) continue;  // a stale answer
        if (msg.contains("error")) {
          const json& err = msg["error"];
          std::string text = err.is_object() ? std::to_string(err.value("code", 0)) + ": " + err.value("message", std::string("?")) : err.dump();
          if (err.is_object() && err.contains("data") && !err["data"].is_null())
            text += ": " + (err["data"].is_string() ? err["data"].get<std::string>() : err["data"].dump());
          return FailedPrecondition(method + ": " + text.substr(0, 1000));
        }
        if (!msg.contains("result")) return Corrupted(method + ": the answer has neither result nor error");
        return std::move(msg["result"]);
      }
      if (!retry || round >= 1 || failure.code() == StatusCode::kResourceExhausted) return failure.with_context(method);
    }
  }
};

RpcClient::RpcClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RpcClient::~RpcClient() {
  if (impl_) impl_->drop_connection();
}

Result<std::unique_ptr<RpcClient>> RpcClient::connect(const std::string& url, RpcOptions options) {
  TESSERA_ASSIGN_OR_RETURN(auto parsed, parse_url(url));
  auto impl = std::make_unique<Impl>();
  impl->url_text = url;
  impl->url = parsed;
  impl->options = options;
  if (parsed.tls) {
    boost::system::error_code ec;
    impl->tls.set_default_verify_paths(ec);
    if (ec) return Unavailable("cannot load the system's TLS certificate authorities: " + ec.message());
  }
  TESSERA_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<RpcClient>(new RpcClient(std::move(impl)));
}

Result<json> RpcClient::call(const std::string& method, const json& params, bool retry) {
  std::lock_guard lock(impl_->mu);
  return impl_->request(method, params, retry);
}

Result<std::string> RpcClient::subscribe(const std::string& method, const json& params) {
  std::lock_guard lock(impl_->mu);
  TESSERA_ASSIGN_OR_RETURN(auto result, impl_->request(method, params, false));
  if (!result.is_string() && !result.is_number()) return Corrupted(method + ": the subscription id is not a string or number");
  std::string id = result.is_string() ? result.get<std::string>() : result.dump();
  impl_->live[id] = true;
  return id;
}

Result<json> RpcClient::next(const std::string& subscription, std::chrono::milliseconds timeout) {
  std::lock_guard lock(impl_->mu);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto& q = impl_->queues[subscription];
    if (!q.empty()) {
      json v = std::move(q.front());
      q.pop_front();
      --impl_->queued;
      return v;
    }
    if (!impl_->live.count(subscription)) {
      impl_->queues.erase(subscription);
      return Unavailable("subscription " + subscription + " ended: the connection to " + impl_->url_text + " was lost");
    }
    if (Clock::now() >= deadline) return DeadlineExceeded("no notification on subscription " + subscription + " in time");
    auto got = impl_->receive(deadline);
    if (!got.ok()) {
      if (got.status().code() == StatusCode::kDeadlineExceeded)
        return DeadlineExceeded("no notification on subscription " + subscription + " in time");
      return got.status();
    }
  }
}

Status RpcClient::unsubscribe(const std::string& method, const std::string& subscription) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->queues.find(subscription);
  if (it != impl_->queues.end()) {
    impl_->queued -= it->second.size();
    impl_->queues.erase(it);
  }
  if (!impl_->live.erase(subscription)) return Status::Ok();  // already gone with its connection
  return impl_->request(method, json::array({subscription}), false).status();
}

const std::string& RpcClient::url() const { return impl_->url_text; }
RpcCounters RpcClient::counters() const {
  std::lock_guard lock(impl_->mu);
  return impl_->counters;
}

}  // namespace tessera::substrate
