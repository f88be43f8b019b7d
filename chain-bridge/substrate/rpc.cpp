#include "chain-bridge/substrate/rpc.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace tessera::substrate {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Url {
  std::string host, port, path;
};

Result<Url> parse_url(const std::string& url) {
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    return InvalidArgument("chain URL " + url + ": wss:// (TLS) is not supported yet; use ws:// (a local node, or a TLS terminator in front of a remote one)");
  } else {
    return InvalidArgument("chain URL " + url + " must start with ws://");
  }
  Url u;
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos || hostport.back() == ']') {
    u.host = hostport;
    u.port = "80";
  } else {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  }
  if (!u.host.empty() && u.host.front() == '[' && u.host.back() == ']') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty() || u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos || u.port.size() > 5 ||
      std::stoi(u.port) == 0 || std::stoi(u.port) > 65535)
    return InvalidArgument("chain URL " + url + " needs a host and a port 1..65535 (ws://HOST:PORT)");
  return u;
}

}  // namespace

struct RpcClient::Impl {
  std::string url_text;
  Url url;
  RpcOptions options;
  net::io_context ioc;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws;
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
      beast::error_code ignored;
      if (ws) beast::get_lowest_layer(*ws).socket().close(ignored);
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
    if (ws) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws).socket().close(ignored);
      ioc.restart();
      ioc.run_for(std::chrono::seconds(1));  // aborted handlers still refer to the stream
    }
    reading = false;
    read_done = false;
    ws.reset();
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
    ws = std::make_unique<websocket::stream<beast::tcp_stream>>(ioc);
    ec = run_until([&](auto handler) { beast::get_lowest_layer(*ws).async_connect(endpoints, [handler](beast::error_code e, auto) mutable { handler(e); }); },
                   deadline, timed_out);
    if (timed_out || ec) {
      drop_connection();
      return Unavailable("cannot connect to " + url_text + ": " + (timed_out ? "timed out" : ec.message()));
    }
    ws->read_message_max(options.max_message_bytes);
    ws->set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "tessera"); }));
    ec = run_until([&](auto handler) { ws->async_handshake(url.host + ":" + url.port, url.path, handler); }, deadline, timed_out);
    if (timed_out || ec) {
      drop_connection();
      return Unavailable("WebSocket handshake with " + url_text + " failed: " + (timed_out ? "timed out" : ec.message()));
    }
    ws->text(true);
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
    auto ec = run_until([&](auto handler) { ws->async_write(net::buffer(text), handler); }, deadline, timed_out);
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
      ws->async_read(buffer, [this](beast::error_code ec, std::size_t) {
        read_ec = ec;
        read_done = true;
        ioc.stop();
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
