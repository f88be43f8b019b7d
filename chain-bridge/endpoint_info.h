// Endpoint records for chains whose on-chain endpoint (a subtensor axon: an IP and a
// port) has no room for what a Tessera validator publishes: its submission address and
// its 32-byte CURVE key, and the address of its CheckpointService. The axon points at a small HTTP service of the validator that
// answers GET /tessera/endpoint with this record, signed by the validator's registered
// hotkey; a reader checks the signature against the hotkey the metagraph holds for that
// uid, so a hostile axon can only make its own neuron unreachable.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/identity.h"
#include "core/status.h"

namespace tessera::net {
class HttpServer;
}

namespace tessera::chain {

struct EndpointRecord {
  std::uint32_t netuid = 0;
  std::string hotkey;            // raw 32 bytes
  std::string address;           // the submission endpoint, "tcp://HOST:PORT"
  std::string curve_public_key;  // raw 32 bytes
  std::string checkpoint_address;  // its CheckpointService, HOST:PORT ("" if none)
  std::uint64_t issued_ms = 0;
};

// A checkpoint announcement where the chain has no place for one (subtensor without the
// Commitments pallet): signed by the aggregator's hotkey and served by its endpoint-info
// service; a reader checks the signature against the aggregator the subnet's owner
// designated (`--aggregator`), so a hostile service can only withhold announcements.
struct AnnouncementRecord {
  std::uint32_t netuid = 0;
  std::uint64_t window = 0;
  std::string hash;       // raw 32 bytes: the checkpoint's content hash
  std::string address;    // its CheckpointService, HOST:PORT
  std::uint64_t block = 0;  // the chain's height when it was announced
  std::string announcer;  // raw 32 bytes
};

inline constexpr const char* kEndpointPath = "/tessera/endpoint";
inline constexpr const char* kAnnouncementPath = "/tessera/checkpoint";  // ?window=N, else the newest
inline constexpr std::size_t kMaxEndpointRecordBytes = 4096;

// The signed JSON a validator serves.
std::string signed_endpoint_json(const EndpointRecord& record, const Keypair& hotkey);
// Parses and checks a served record: the signature by `hotkey`, the netuid, sizes.
Result<EndpointRecord> open_endpoint_json(const std::string& body, const std::string& hotkey, std::uint32_t netuid);
std::string signed_announcement_json(const AnnouncementRecord& record, const Keypair& announcer);
// Checks a served announcement: signed by `announcer`, for `netuid` (and `window` when given).
Result<AnnouncementRecord> open_announcement_json(const std::string& body, const std::string& announcer,
                                                  std::uint32_t netuid, std::optional<std::uint64_t> window);
// GET /tessera/checkpoint[?window=N]: nullopt when the service holds none for it.
Result<std::optional<AnnouncementRecord>> fetch_announcement(
    const std::string& host, int port, const std::string& announcer, std::uint32_t netuid,
    std::optional<std::uint64_t> window, std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));

// GET http://HOST:PORT/tessera/endpoint with short timeouts and a size cap, then
// open_endpoint_json.
Result<EndpointRecord> fetch_endpoint(const std::string& host, int port, const std::string& hotkey, std::uint32_t netuid,
                                      std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));

// The service: one endpoint record, replaced by each publish(), and the newest
// kKeptAnnouncements checkpoint announcements by window.
class EndpointInfoService {
 public:
  // Listens on HOST:0 (a free port).
  static Result<std::unique_ptr<EndpointInfoService>> start(const std::string& host);
  ~EndpointInfoService();
  void publish(std::string signed_json);
  void announce(std::uint64_t window, std::string signed_json);
  int port() const;
  static constexpr std::size_t kKeptAnnouncements = 64;

 private:
  EndpointInfoService() = default;
  std::unique_ptr<net::HttpServer> server_;
  std::mutex mu_;
  std::string body_;
  std::map<std::uint64_t, std::string> announcements_;
};

}  // namespace tessera::chain
