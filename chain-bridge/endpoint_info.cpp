#include "chain-bridge/endpoint_info.h"

#include <httplib.h>

#include <limits>

#include <nlohmann/json.hpp>

#include "chain-bridge/substrate/scale.h"
#include "core/hash.h"
#include "core/json_fields.h"
#include "net/http_server.h"

namespace tessera::chain {
namespace {

using json = nlohmann::json;

// Domain-separated, each field prefixed by its length (u64, little-endian on every host):
// nothing else a hotkey signs can be read as a record.
std::string signing_bytes(const EndpointRecord& r) {
  substrate::Encoder out;
  out.raw(std::string_view("tessera-endpoint/2\0", 19));
  for (const std::string& field :
       {std::to_string(r.netuid), r.hotkey, r.address, r.curve_public_key, r.checkpoint_address, std::to_string(r.issued_ms)})
    out.u64(field.size()).raw(field);
  return std::string(out.data().begin(), out.data().end());
}

std::string announcement_signing_bytes(const AnnouncementRecord& r) {
  substrate::Encoder out;
  out.raw(std::string_view("tessera-announcement/1\0", 23));
  for (const std::string& field : {std::to_string(r.netuid), std::to_string(r.window), r.hash, r.address,
                                   std::to_string(r.block), r.announcer})
    out.u64(field.size()).raw(field);
  return std::string(out.data().begin(), out.data().end());
}

// An unsigned integer field that fits T (core/json_fields.h), else an error naming it.
template <typename T>
Result<T> unsigned_field(const json& j, const char* name, const std::string& what) {
  const auto it = j.find(name);
  if (it == j.end()) return InvalidArgument(what + " has no " + name);
  const std::optional<T> v = json_unsigned<T>(*it);
  if (!v) {
    return InvalidArgument(what + ": " + name + " is not an unsigned integer of at most " +
                           std::to_string(std::numeric_limits<T>::max()));
  }
  return *v;
}

bool verifies(const std::string& key_raw, const std::string& message, const std::string& sig_raw) {
  if (key_raw.size() != 32 || sig_raw.size() != 64) return false;
  PublicKey key{};
  Signature sig{};
  std::copy(key_raw.begin(), key_raw.end(), key.begin());
  std::copy(sig_raw.begin(), sig_raw.end(), sig.begin());
  return verify_signature(key, message, sig);
}

// GET http://HOST:PORT/PATH, refused past `cap` bytes; nullopt on 404.
Result<std::optional<std::string>> http_get_capped(const std::string& host, int port, const std::string& path,
                                                   std::size_t cap, std::chrono::milliseconds timeout,
                                                   const std::string& what) {
  httplib::Client client(host, port);
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout - s);
  client.set_connection_timeout(s.count(), us.count());
  client.set_read_timeout(s.count(), us.count());
  std::string body;
  bool too_big = false;
  auto res = client.Get(path, [&](const char* data, std::size_t n) {
    if (body.size() + n > cap) {
      too_big = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  const std::string where = host + ":" + std::to_string(port);
  if (too_big) return InvalidArgument(what + " at " + where + " is over " + std::to_string(cap) + " bytes");
  if (!res) return Unavailable("no " + what + " at " + where + ": " + httplib::to_string(res.error()));
  if (res->status == 404) return std::optional<std::string>();
  if (res->status != 200) return Unavailable(what + " at " + where + ": HTTP " + std::to_string(res->status));
  return std::optional<std::string>(std::move(body));
}

}  // namespace

std::string signed_announcement_json(const AnnouncementRecord& r, const Keypair& announcer) {
  const Signature sig = announcer.sign(announcement_signing_bytes(r));
  return json{{"netuid", r.netuid},
              {"window", r.window},
              {"hash", to_hex(r.hash)},
              {"address", r.address},
              {"block", r.block},
              {"announcer", to_hex(r.announcer)},
              {"signature", to_hex(std::span<const std::uint8_t>(sig))}}
      .dump();
}

Result<AnnouncementRecord> open_announcement_json(const std::string& body, const std::string& announcer,
                                                  std::uint32_t netuid, std::optional<std::uint64_t> window) {
  if (body.size() > kMaxEndpointRecordBytes) return InvalidArgument("announcement over " + std::to_string(kMaxEndpointRecordBytes) + " bytes");
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("announcement is not a JSON object");
  AnnouncementRecord r;
  try {
    TESSERA_ASSIGN_OR_RETURN(r.netuid, unsigned_field<std::uint32_t>(j, "netuid", "announcement"));
    TESSERA_ASSIGN_OR_RETURN(r.window, unsigned_field<std::uint64_t>(j, "window", "announcement"));
    r.address = j.at("address").get<std::string>();
    TESSERA_ASSIGN_OR_RETURN(r.block, unsigned_field<std::uint64_t>(j, "block", "announcement"));
    TESSERA_ASSIGN_OR_RETURN(r.hash, from_hex(j.at("hash").get<std::string>()));
    TESSERA_ASSIGN_OR_RETURN(r.announcer, from_hex(j.at("announcer").get<std::string>()));
    TESSERA_ASSIGN_OR_RETURN(auto sig, from_hex(j.at("signature").get<std::string>()));
    if (r.announcer != announcer) return PermissionDenied("announcement is not by the designated aggregator");
    if (r.netuid != netuid) return InvalidArgument("announcement is for subnet " + std::to_string(r.netuid));
    if (window && r.window != *window) return InvalidArgument("announcement is for window " + std::to_string(r.window));
    if (r.hash.size() != 32) return InvalidArgument("announcement hash is not 32 bytes");
    if (r.address.empty() || r.address.size() > 256) return InvalidArgument("announcement address must be 1..256 bytes");
    if (!verifies(announcer, announcement_signing_bytes(r), sig)) return PermissionDenied("announcement signature does not verify");
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("announcement: ") + e.what());
  }
  return r;
}

Result<std::optional<AnnouncementRecord>> fetch_announcement(const std::string& host, int port, const std::string& announcer,
                                                             std::uint32_t netuid, std::optional<std::uint64_t> window,
                                                             std::chrono::milliseconds timeout) {
  const std::string path = std::string(kAnnouncementPath) + (window ? "?window=" + std::to_string(*window) : "");
  TESSERA_ASSIGN_OR_RETURN(auto body, http_get_capped(host, port, path, kMaxEndpointRecordBytes, timeout, "checkpoint announcement"));
  if (!body) return std::optional<AnnouncementRecord>();
  auto r = open_announcement_json(*body, announcer, netuid, window);
  if (!r.ok()) return r.status().with_context(host + ":" + std::to_string(port));
  return std::optional<AnnouncementRecord>(std::move(*r));
}

std::string signed_endpoint_json(const EndpointRecord& r, const Keypair& hotkey) {
  const Signature sig = hotkey.sign(signing_bytes(r));
  return json{{"netuid", r.netuid},
              {"hotkey", to_hex(r.hotkey)},
              {"address", r.address},
              {"curve_public_key", to_hex(r.curve_public_key)},
              {"checkpoint_address", r.checkpoint_address},
              {"issued_ms", r.issued_ms},
              {"signature", to_hex(std::span<const std::uint8_t>(sig))}}
      .dump();
}

Result<EndpointRecord> open_endpoint_json(const std::string& body, const std::string& hotkey, std::uint32_t netuid) {
  if (body.size() > kMaxEndpointRecordBytes) return InvalidArgument("endpoint record over " + std::to_string(kMaxEndpointRecordBytes) + " bytes");
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("endpoint record is not a JSON object");
  EndpointRecord r;
  try {
    TESSERA_ASSIGN_OR_RETURN(r.netuid, unsigned_field<std::uint32_t>(j, "netuid", "endpoint record"));
    r.address = j.at("address").get<std::string>();
    r.checkpoint_address = j.at("checkpoint_address").get<std::string>();
    TESSERA_ASSIGN_OR_RETURN(r.issued_ms, unsigned_field<std::uint64_t>(j, "issued_ms", "endpoint record"));
    TESSERA_ASSIGN_OR_RETURN(r.hotkey, from_hex(j.at("hotkey").get<std::string>()));
    TESSERA_ASSIGN_OR_RETURN(r.curve_public_key, from_hex(j.at("curve_public_key").get<std::string>()));
    TESSERA_ASSIGN_OR_RETURN(auto sig_raw, from_hex(j.at("signature").get<std::string>()));
    if (sig_raw.size() != 64) return InvalidArgument("endpoint record signature is not 64 bytes");
    if (r.hotkey != hotkey) return PermissionDenied("endpoint record is for another hotkey");
    if (r.netuid != netuid) return InvalidArgument("endpoint record is for subnet " + std::to_string(r.netuid));
    if (r.curve_public_key.size() != 32) return InvalidArgument("endpoint record CURVE key is not 32 bytes");
    if (r.address.rfind("tcp://", 0) != 0 || r.address.size() > 200) return InvalidArgument("endpoint record address is not tcp://HOST:PORT");
    if (r.checkpoint_address.size() > 256) return InvalidArgument("endpoint record checkpoint address is over 256 bytes");
    if (!verifies(hotkey, signing_bytes(r), sig_raw)) return PermissionDenied("endpoint record signature does not verify");
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("endpoint record: ") + e.what());
  }
  return r;
}

Result<EndpointRecord> fetch_endpoint(const std::string& host, int port, const std::string& hotkey, std::uint32_t netuid,
                                      std::chrono::milliseconds timeout) {
  const std::string where = host + ":" + std::to_string(port);
  TESSERA_ASSIGN_OR_RETURN(auto body, http_get_capped(host, port, kEndpointPath, kMaxEndpointRecordBytes, timeout, "endpoint record"));
  if (!body) return Unavailable("endpoint record at " + where + ": HTTP 404");
  auto r = open_endpoint_json(*body, hotkey, netuid);
  if (!r.ok()) return r.status().with_context(where);
  return r;
}

Result<std::unique_ptr<EndpointInfoService>> EndpointInfoService::start(const std::string& host) {
  std::unique_ptr<EndpointInfoService> s(new EndpointInfoService());
  auto* self = s.get();
  TESSERA_ASSIGN_OR_RETURN(s->server_, net::HttpServer::start(host + ":0", "endpoint info", [self](httplib::Server& srv) {
    srv.Get(kEndpointPath, [self](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(self->mu_);
      if (self->body_.empty()) {
        res.status = 503;
        return;
      }
      res.set_content(self->body_, "application/json");
    });
    srv.Get(kAnnouncementPath, [self](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(self->mu_);
      auto it = self->announcements_.end();
      if (req.has_param("window")) {
        const std::string w = req.get_param_value("window");
        if (w.empty() || w.size() > 20 || w.find_first_not_of("0123456789") != std::string::npos) {
          res.status = 400;
          return;
        }
        it = self->announcements_.find(std::stoull(w));
      } else if (!self->announcements_.empty()) {
        it = std::prev(self->announcements_.end());
      }
      if (it == self->announcements_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second, "application/json");
    });
  }));
  return s;
}

EndpointInfoService::~EndpointInfoService() = default;

void EndpointInfoService::publish(std::string signed_json) {
  std::lock_guard lock(mu_);
  body_ = std::move(signed_json);
}

void EndpointInfoService::announce(std::uint64_t window, std::string signed_json) {
  std::lock_guard lock(mu_);
  announcements_[window] = std::move(signed_json);
  while (announcements_.size() > kKeptAnnouncements) announcements_.erase(announcements_.begin());
}

int EndpointInfoService::port() const { return server_->port(); }

}  // namespace tessera::chain
