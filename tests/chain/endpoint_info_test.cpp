// Endpoint records and checkpoint announcements as a hostile axon or endpoint service
// may serve them (chain-bridge/endpoint_info.h): every malformed, mistyped, oversized,
// tampered or foreign body is refused with an error naming what was wrong, never taken
// and never a crash; and the real service serves what was signed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "chain-bridge/endpoint_info.h"
#include "core/hash.h"

namespace tessera::chain {
namespace {

using json = nlohmann::json;

struct Hostile {
  std::string what;  // the case, for the failure message
  std::string body;
  std::string error;  // a part of the expected error message
};

AnnouncementRecord announcement(const Keypair& announcer) {
  AnnouncementRecord r;
  r.netuid = 3;
  r.window = 42;
  r.hash = std::string(32, '\x5a');
  r.address = "127.0.0.1:7000";
  r.block = 1234;
  r.announcer = raw_bytes(announcer.public_key());
  return r;
}

// The signed body with one field replaced (or removed when `value` is null).
std::string with(const std::string& signed_body, const std::string& field, const json& value) {
  json j = json::parse(signed_body);
  if (value.is_null()) {
    j.erase(field);
  } else {
    j[field] = value;
  }
  return j.dump();
}

TEST(EndpointInfo, HostileAnnouncementsAreRefusedWithTheReason) {
  const Keypair aggregator = Keypair::generate(), stranger = Keypair::generate();
  const std::string key = raw_bytes(aggregator.public_key());
  const std::string good = signed_announcement_json(announcement(aggregator), aggregator);
  auto opened = open_announcement_json(good, key, 3, 42);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_EQ(opened->window, 42u);
  EXPECT_EQ(opened->hash, std::string(32, '\x5a'));

  AnnouncementRecord short_hash = announcement(aggregator);
  short_hash.hash.resize(31);
  AnnouncementRecord no_address = announcement(aggregator);
  no_address.address.clear();
  const std::vector<Hostile> cases = {
      {"not JSON", "{\"netuid\": 3,", "not a JSON object"},
      {"an array", "[1, 2, 3]", "not a JSON object"},
      {"over the size cap", std::string(kMaxEndpointRecordBytes + 1, ' '), "over 4096 bytes"},
      {"window as a string", with(good, "window", "42"), "window is not an unsigned integer"},
      {"window past 64 bits", with(good, "window", 1e30), "window is not an unsigned integer"},
      {"window as a float", with(good, "window", 42.0), "window is not an unsigned integer"},
      {"a negative subnet", with(good, "netuid", -1), "netuid is not an unsigned integer"},
      {"a subnet past 32 bits", with(good, "netuid", 4294967299ull), "netuid is not an unsigned integer"},
      {"no block", with(good, "block", nullptr), "has no block"},
      {"no signature", with(good, "signature", nullptr), "announcement: "},
      {"signature not hex", with(good, "signature", "zz"), "hex"},
      {"a truncated signature", with(good, "signature", json::parse(good)["signature"].get<std::string>().substr(0, 64)),
       "signature does not verify"},
      {"the window changed after signing", with(good, "window", 43), "window 43"},
      {"another window, re-signed by a stranger", signed_announcement_json(announcement(stranger), stranger),
       "not by the designated aggregator"},
      {"the announcer field claimed, signed by a stranger",
       with(signed_announcement_json(announcement(stranger), stranger), "announcer", to_hex(key)),
       "signature does not verify"},
      {"the block changed after signing", with(good, "block", 1235), "signature does not verify"},
      {"another subnet", with(good, "netuid", 4), "subnet 4"},
      {"a 31-byte hash", signed_announcement_json(short_hash, aggregator), "not 32 bytes"},
      {"an empty address", signed_announcement_json(no_address, aggregator), "address must be 1..256 bytes"},
  };
  for (const auto& c : cases) {
    auto r = open_announcement_json(c.body, key, 3, 42);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << c.what << ": " << r.status().to_string();
  }
}

TEST(EndpointInfo, HostileEndpointRecordsAreRefusedWithTheReason) {
  const Keypair validator = Keypair::generate(), stranger = Keypair::generate();
  const std::string key = raw_bytes(validator.public_key());
  EndpointRecord r;
  r.netuid = 3;
  r.hotkey = key;
  r.address = "tcp://127.0.0.1:9000";
  r.curve_public_key = std::string(32, '\x11');
  r.checkpoint_address = "127.0.0.1:9001";
  r.issued_ms = 1000;
  const std::string good = signed_endpoint_json(r, validator);
  auto opened = open_endpoint_json(good, key, 3);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_EQ(opened->address, r.address);

  EndpointRecord not_tcp = r;
  not_tcp.address = "http://127.0.0.1:9000";
  EndpointRecord short_key = r;
  short_key.curve_public_key.resize(16);
  EndpointRecord long_checkpoint = r;
  long_checkpoint.checkpoint_address = std::string(300, 'a');
  const std::vector<Hostile> cases = {
      {"not JSON", "nonsense", "not a JSON object"},
      {"over the size cap", std::string(kMaxEndpointRecordBytes + 1, '{'), "over 4096 bytes"},
      {"issued_ms a string", with(good, "issued_ms", "soon"), "issued_ms is not an unsigned integer"},
      {"issued_ms negative", with(good, "issued_ms", -5), "issued_ms is not an unsigned integer"},
      {"no CURVE key", with(good, "curve_public_key", nullptr), "endpoint record: "},
      {"a 63-byte signature", with(good, "signature", std::string(126, '0')), "not 64 bytes"},
      {"the address redirected after signing", with(good, "address", "tcp://10.0.0.1:9000"), "signature does not verify"},
      {"another hotkey's record", signed_endpoint_json(EndpointRecord{r.netuid, raw_bytes(stranger.public_key()),
                                                                      r.address, r.curve_public_key,
                                                                      r.checkpoint_address, r.issued_ms},
                                                       stranger),
       "for another hotkey"},
      {"another subnet", with(good, "netuid", 9), "subnet 9"},
      {"not tcp://", signed_endpoint_json(not_tcp, validator), "not tcp://HOST:PORT"},
      {"a 16-byte CURVE key", signed_endpoint_json(short_key, validator), "CURVE key is not 32 bytes"},
      {"a 300-byte checkpoint address", signed_endpoint_json(long_checkpoint, validator), "over 256 bytes"},
  };
  for (const auto& c : cases) {
    auto opened_bad = open_endpoint_json(c.body, key, 3);
    ASSERT_FALSE(opened_bad.ok()) << c.what;
    EXPECT_NE(opened_bad.status().message().find(c.error), std::string::npos)
        << c.what << ": " << opened_bad.status().to_string();
  }
}

// Random byte-level damage to signed bodies (flips, deletions, insertions, truncations,
// repeated stretches), 3,000 of each kind of record from a fixed seed: every damaged body
// is either refused with a message or opens to exactly the record that was signed (JSON
// may change without changing what it says, such as the case of a hex digit), and
// nothing throws. The libFuzzer targets (bench/fuzz.sh) do not cover these parsers.
TEST(EndpointInfo, DamagedBodiesAreRefusedOrOpenToWhatWasSigned) {
  const Keypair signer = Keypair::generate();
  const std::string key = raw_bytes(signer.public_key());
  EndpointRecord e{3, key, "tcp://127.0.0.1:9000", std::string(32, '\x11'), "127.0.0.1:9001", 1000};
  const AnnouncementRecord a = announcement(signer);
  const std::string endpoint_body = signed_endpoint_json(e, signer), announcement_body = signed_announcement_json(a, signer);
  std::mt19937 rng(20261206);
  auto damage = [&](std::string body) {
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !body.empty(); ++k) {
      const std::size_t at = rng() % body.size();
      switch (rng() % 5) {
        case 0: body[at] = static_cast<char>(body[at] ^ (1 << (rng() % 8))); break;
        case 1: body.erase(at, 1 + rng() % 8); break;
        case 2: body.insert(at, 1 + rng() % 4, static_cast<char>(rng() % 256)); break;
        case 3: body.resize(at); break;
        default: body.insert(at, body.substr(at, 1 + rng() % 32)); break;
      }
    }
    return body;
  };
  int opened_endpoints = 0, opened_announcements = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string bad_endpoint = damage(endpoint_body);
    auto r = open_endpoint_json(bad_endpoint, key, 3);
    if (r.ok()) {
      ++opened_endpoints;
      EXPECT_TRUE(r->netuid == e.netuid && r->hotkey == e.hotkey && r->address == e.address &&
                  r->curve_public_key == e.curve_public_key && r->checkpoint_address == e.checkpoint_address &&
                  r->issued_ms == e.issued_ms)
          << bad_endpoint;
    } else {
      EXPECT_FALSE(r.status().message().empty()) << bad_endpoint;
    }
    const std::string bad_announcement = damage(announcement_body);
    auto b = open_announcement_json(bad_announcement, key, 3, std::nullopt);
    if (b.ok()) {
      ++opened_announcements;
      EXPECT_TRUE(b->netuid == a.netuid && b->window == a.window && b->hash == a.hash && b->address == a.address &&
                  b->block == a.block && b->announcer == a.announcer)
          << bad_announcement;
    } else {
      EXPECT_FALSE(b.status().message().empty()) << bad_announcement;
    }
  }
  // Nearly all damage is refused; what opens is harmless re-spelling.
  EXPECT_LT(opened_endpoints, 300);
  EXPECT_LT(opened_announcements, 300);
}

// The real service over HTTP: it serves the newest announcement or the one asked for,
// 404 for a window it does not hold, and the reader checks what comes back; a record
// signed by someone else is refused on the reader's side.
TEST(EndpointInfo, TheServiceServesWhatWasSignedAndTheReaderChecksIt) {
  const Keypair aggregator = Keypair::generate(), stranger = Keypair::generate();
  const std::string key = raw_bytes(aggregator.public_key());
  auto service = EndpointInfoService::start("127.0.0.1");
  ASSERT_TRUE(service.ok()) << service.status().to_string();
  AnnouncementRecord a = announcement(aggregator);
  (*service)->announce(a.window, signed_announcement_json(a, aggregator));
  a.window = 43;
  (*service)->announce(a.window, signed_announcement_json(a, aggregator));
  AnnouncementRecord forged = announcement(stranger);
  forged.window = 44;
  (*service)->announce(forged.window, signed_announcement_json(forged, stranger));

  const int port = (*service)->port();
  auto asked = fetch_announcement("127.0.0.1", port, key, 3, 42);
  ASSERT_TRUE(asked.ok()) << asked.status().to_string();
  ASSERT_TRUE(asked->has_value());
  EXPECT_EQ((*asked)->window, 42u);
  auto missing = fetch_announcement("127.0.0.1", port, key, 3, 7);
  ASSERT_TRUE(missing.ok()) << missing.status().to_string();
  EXPECT_FALSE(missing->has_value());
  auto newest = fetch_announcement("127.0.0.1", port, key, 3, std::nullopt);  // the stranger's, at 44
  ASSERT_FALSE(newest.ok());
  EXPECT_NE(newest.status().message().find("not by the designated aggregator"), std::string::npos)
      << newest.status().to_string();
  EXPECT_NE(newest.status().to_string().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << newest.status().to_string();
}

}  // namespace
}  // namespace tessera::chain
