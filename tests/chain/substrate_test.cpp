// The substrate layer against reference encodings from @polkadot/api
// (tests/data/subtensor/vectors.json) for two real runtimes: testfinney (metadata V14)
// and a current devnet (V16). Plus SCALE and SS58 edge cases and hostile input.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>

#include "chain-bridge/substrate/extrinsic.h"
#include "chain-bridge/substrate/ss58.h"
#include "chain-bridge/substrate/storage.h"
#include "chain-bridge/substrate/substrate_client.h"

namespace tessera::substrate {
namespace {

const std::string kData = std::string(TESSERA_SOURCE_DIR) + "/tests/data/subtensor/";

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f) << path;
  return Bytes((std::istreambuf_iterator<char>(f)), {});
}

Bytes hex(const std::string& h) {
  auto b = bytes_from_hex(h);
  EXPECT_TRUE(b.ok()) << h;
  return b.ok() ? *b : Bytes{};
}

const json& vectors() {
  static const json v = json::parse(std::ifstream(kData + "vectors.json"));
  return v;
}

const Metadata& metadata_of(const std::string& runtime) {
  static std::map<std::string, Metadata> cache;
  auto it = cache.find(runtime);
  if (it == cache.end()) {
    auto md = parse_metadata(read_file(kData + (runtime == "testfinney" ? "testfinney-metadata.scale" : "devnet-metadata.scale")));
    EXPECT_TRUE(md.ok()) << md.status().to_string();
    it = cache.emplace(runtime, md.ok() ? std::move(*md) : Metadata{}).first;
  }
  return it->second;
}

Keypair key_from_seed(const std::string& seed_hex) {
  Bytes seed = hex(seed_hex);
  std::array<std::uint8_t, 32> s{};
  std::copy(seed.begin(), seed.end(), s.begin());
  return Keypair::from_seed(s);
}

ChainIdentity identity_of(const json& rt) {
  return {hex(rt["genesis_hash"]), {rt["spec_version"].get<std::uint32_t>(), rt["transaction_version"].get<std::uint32_t>(), ""}};
}

SignOptions options_of(const json& c) {
  SignOptions o;
  o.nonce = c["nonce"].get<std::uint64_t>();
  o.tip = c["tip"].get<std::uint64_t>();
  if (!c["era"].is_null()) o.era = Era::Mortal(c["era"]["period"].get<std::uint64_t>(), c["era"]["current"].get<std::uint64_t>());
  o.era_block_hash = hex(c["era_block_hash"]);
  return o;
}

TEST(Scale, CompactRoundTripsAtEveryModeBoundary) {
  const u128 values[] = {0, 1, 63, 64, 16383, 16384, (1u << 30) - 1, 1u << 30, 0xffffffffull, 1ull << 32,
                         std::numeric_limits<std::uint64_t>::max(), ~static_cast<u128>(0)};
  for (u128 v : values) {
    Encoder e;
    e.compact(v);
    Decoder d(e.data());
    auto back = d.compact("value");
    ASSERT_TRUE(back.ok()) << u128_to_string(v) << ": " << back.status().to_string();
    EXPECT_TRUE(*back == v) << u128_to_string(v);
    EXPECT_TRUE(d.at_end());
  }
  EXPECT_EQ(hex_of(Encoder().compact(0).data()), "0x00");
  EXPECT_EQ(hex_of(Encoder().compact(64).data()), "0x0101");
  EXPECT_EQ(hex_of(Encoder().compact(1u << 30).data()), "0x0300000040");
  EXPECT_EQ(hex_of(Encoder().compact(123456789).data()), "0x56346f1d");
}

TEST(Scale, NonCanonicalCompactsAndShortReadsAreRefusedByName) {
  for (const char* h : {"0x0100", "0x02000000", "0x03ffffff3f", "0x070000004000"}) {
    Bytes b = hex(h);
    Decoder d(b);
    auto v = d.compact("nonce");
    ASSERT_FALSE(v.ok()) << h;
    EXPECT_NE(v.status().message().find("nonce"), std::string::npos) << v.status().message();
  }
  Bytes short_bytes = hex("0x0102");
  Decoder d(short_bytes);
  auto v = d.u32("spec version");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("spec version needs 4 bytes at offset 0, 2 left"), std::string::npos) << v.status().message();
  // A length that claims more than the input holds is refused before anything is sized.
  Bytes huge = hex("0x03ffffffff");
  Decoder dh(huge);
  EXPECT_FALSE(dh.bytes("remark").ok());
}

TEST(Scale, U128TextRoundTripsAndRefusesOverflow) {
  u128 max = ~static_cast<u128>(0);
  EXPECT_EQ(u128_to_string(max), "340282366920938463463374607431768211455");
  EXPECT_TRUE(*u128_from_string("340282366920938463463374607431768211455") == max);
  EXPECT_FALSE(u128_from_string("340282366920938463463374607431768211456").ok());
  EXPECT_FALSE(u128_from_string("-1").ok());
}

TEST(Ss58, MatchesPolkadotJsAndChecksTheChecksumAndPrefix) {
  const auto& acc = vectors()["accounts"];
  Keypair alice = key_from_seed(acc["alice_seed"]);
  EXPECT_EQ(hex_of(alice.public_key()), acc["alice_public"].get<std::string>());
  EXPECT_EQ(ss58_encode(alice.public_key()), acc["alice"].get<std::string>());
  auto back = ss58_decode(acc["bob"].get<std::string>());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(hex_of(*back), acc["bob_public"].get<std::string>());
  std::string typo = acc["alice"];
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  auto bad = ss58_decode(typo);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("checksum"), std::string::npos) << bad.status().message();
  auto polkadot = ss58_decode(ss58_encode(alice.public_key(), 0));
  ASSERT_FALSE(polkadot.ok());
  EXPECT_NE(polkadot.status().message().find("prefix 0"), std::string::npos);
  EXPECT_TRUE(parse_public_key(acc["alice_public"].get<std::string>()).ok());
  EXPECT_TRUE(parse_public_key(acc["alice"].get<std::string>()).ok());
  EXPECT_FALSE(parse_public_key("5notanaddress0").ok());
}

TEST(Hashing, KnownStoragePrefixes) {
  EXPECT_EQ(hex_of(twox("System", 128)), "0x26aa394eea5630e07c48ae0c9558cef7");
  EXPECT_EQ(hex_of(storage_prefix("System", "Account")), "0x26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9");
}

class RuntimeVectors : public ::testing::TestWithParam<std::string> {
 protected:
  const json& rt() const {
    for (const auto& r : vectors()["runtimes"])
      if (r["runtime"] == GetParam()) return r;
    throw std::runtime_error("no vectors for " + GetParam());
  }
  const Metadata& md() const { return metadata_of(GetParam()); }
};

TEST_P(RuntimeVectors, MetadataParsesWithItsVersionAndExtensions) {
  EXPECT_EQ(md().version, rt()["metadata_version"].get<int>());
  ASSERT_TRUE(md().pallet("SubtensorModule").ok());
  EXPECT_FALSE(md().extensions.empty());
  EXPECT_TRUE(md().address_type.has_value());
  EXPECT_TRUE(md().signature_type.has_value());
}

TEST_P(RuntimeVectors, CallsEncodeByNameLikePolkadotJs) {
  for (const auto& c : rt()["calls"]) {
    auto call = encode_call(md(), c["pallet"].get<std::string>(), c["call"].get<std::string>(), c["args"]);
    ASSERT_TRUE(call.ok()) << c["pallet"] << "." << c["call"] << ": " << call.status().to_string();
    EXPECT_EQ(hex_of(*call), c["hex"].get<std::string>()) << c["pallet"] << "." << c["call"];
  }
}

TEST_P(RuntimeVectors, SigningPayloadsMatchIncludingTheHashedLongOnes) {
  for (const auto& p : rt()["payloads"]) {
    auto payload = signing_payload(md(), hex(p["call"]), identity_of(rt()), options_of(p));
    ASSERT_TRUE(payload.ok()) << p["label"] << ": " << payload.status().to_string();
    Bytes expected = hex(p["payload"]);
    if (expected.size() > 256) expected = blake2(expected, 256);
    EXPECT_EQ(hex_of(*payload), hex_of(expected)) << p["label"];
    if (!p["era"].is_null()) {
      EXPECT_EQ(hex_of(options_of(p).era.encode()), p["era_hex"].get<std::string>());
    }
  }
}

TEST_P(RuntimeVectors, SignedExtrinsicsAreByteForByteTheSame) {
  for (const auto& x : rt()["extrinsics"]) {
    Keypair signer = key_from_seed(x["signer_seed"]);
    auto ext = sign_extrinsic(md(), hex(x["call"]), signer, identity_of(rt()), options_of(x));
    ASSERT_TRUE(ext.ok()) << x["label"] << ": " << ext.status().to_string();
    EXPECT_EQ(hex_of(*ext), x["extrinsic"].get<std::string>()) << x["label"];
    EXPECT_EQ(hex_of(extrinsic_hash(*ext)), x["hash"].get<std::string>());
  }
}

TEST_P(RuntimeVectors, StorageKeysMatchForEveryHasher) {
  for (const auto& k : rt()["storage_keys"]) {
    auto key = storage_key(md(), k["pallet"].get<std::string>(), k["entry"].get<std::string>(), k["args"]);
    ASSERT_TRUE(key.ok()) << k["label"] << ": " << key.status().to_string();
    EXPECT_EQ(hex_of(*key), k["key"].get<std::string>()) << k["label"];
  }
}

TEST_P(RuntimeVectors, EventsDecodeAndModuleErrorsHaveTheirNames) {
  for (const auto& ev : rt()["events"]) {
    auto events = decode_events(md(), hex(ev["hex"]));
    ASSERT_TRUE(events.ok()) << events.status().to_string();
    ASSERT_EQ(events->size(), ev["expect"].size());
    for (std::size_t i = 0; i < events->size(); ++i) {
      EXPECT_EQ((*events)[i].pallet, ev["expect"][i]["pallet"].get<std::string>());
      EXPECT_EQ((*events)[i].name, ev["expect"][i]["event"].get<std::string>());
      EXPECT_EQ((*events)[i].extrinsic, ev["expect"][i]["phase_extrinsic"].get<std::uint32_t>());
    }
    const json& t = (*events)[0].fields;
    EXPECT_EQ(t["from"], ev["transfer"]["from"]);
    EXPECT_EQ(t["to"], ev["transfer"]["to"]);
    EXPECT_EQ(t["amount"], ev["transfer"]["amount"]);
    Status failed = dispatch_outcome(md(), *events, 2);
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.message().find(ev["error"].get<std::string>()), std::string::npos) << failed.message();
    EXPECT_EQ(dispatch_outcome(md(), *events, 7).code(), StatusCode::kNotFound);
  }
  for (const auto& e : rt()["errors"])
    EXPECT_EQ(md().error_name(e["pallet_index"].get<std::uint8_t>(), e["error_index"].get<std::uint8_t>()), e["name"].get<std::string>());
}

TEST_P(RuntimeVectors, BadArgumentsAreNamed) {
  auto missing = encode_call(md(), "Balances", "transfer_keep_alive", json{{"value", 1}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("needs argument 'dest'"), std::string::npos) << missing.status().message();
  auto wide = encode_call(md(), "SubtensorModule", "burned_register", json{{"netuid", 70000}, {"hotkey", vectors()["accounts"]["bob_public"]}});
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.status().message().find("netuid"), std::string::npos) << wide.status().message();
  auto nocall = encode_call(md(), "SubtensorModule", "mint_tao", json::object());
  ASSERT_FALSE(nocall.ok());
  EXPECT_NE(nocall.status().message().find("no call SubtensorModule.mint_tao"), std::string::npos);
}

TEST_P(RuntimeVectors, TruncatedOrCorruptedMetadataIsAnErrorNeverACrash) {
  Bytes bytes = read_file(kData + (GetParam() == "testfinney" ? "testfinney-metadata.scale" : "devnet-metadata.scale"));
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    Bytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(rng() % bytes.size()));
    EXPECT_FALSE(parse_metadata(cut).ok());
    Bytes flipped = bytes;
    for (int j = 0; j < 8; ++j) flipped[rng() % flipped.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    (void)parse_metadata(flipped);  // may parse or not; must not crash or hang
  }
  Bytes v13 = bytes;
  v13[4] = 13;
  auto old = parse_metadata(v13);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("V13 is not supported"), std::string::npos);
}

TEST_P(RuntimeVectors, HostileEventBytesAreErrors) {
  Bytes good = hex(rt()["events"][0]["hex"]);
  std::mt19937 rng(11);
  for (std::size_t cut = 0; cut < good.size(); ++cut)
    EXPECT_FALSE(decode_events(md(), std::span(good.data(), cut)).ok()) << cut;
  for (int i = 0; i < 500; ++i) {
    Bytes b = good;
    b[rng() % b.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    (void)decode_events(md(), b);
  }
}

// A module error names the pallet and error by their u8 indices; an index that is not a
// u8 integer is reported as unrecognised, not truncated into another pallet's error (300
// was read as 44 before).
TEST_P(RuntimeVectors, HostileDispatchErrorsAreNotTruncatedIntoAnotherError) {
  const Pallet& pallet = md().pallets.back();
  const json good = {{"Module", {{"index", pallet.index}, {"error", "0x00000000"}}}};
  EXPECT_EQ(dispatch_error_name(md(), good).rfind(pallet.name + "::", 0), 0u) << dispatch_error_name(md(), good);
  for (const json& index : {json(pallet.index + 256), json(-1), json(1.5), json("7")}) {
    const json bad = {{"Module", {{"index", index}, {"error", 0}}}};
    EXPECT_NE(dispatch_error_name(md(), bad).find("unrecognised"), std::string::npos) << dispatch_error_name(md(), bad);
  }
  for (const json& error : {json(256), json(-3), json(2.5)}) {
    const json bad = {{"Module", {{"index", pallet.index}, {"error", error}}}};
    EXPECT_NE(dispatch_error_name(md(), bad).find("unrecognised"), std::string::npos) << dispatch_error_name(md(), bad);
  }
}

// The storage SubtensorChain reads for a metagraph has keys this runtime can encode
// (today's runtime is not executed here: its reads are checked this far).
TEST_P(RuntimeVectors, TheMetagraphsStorageKeysEncode) {
  const std::string hotkey = vectors()["accounts"]["bob_public"];
  for (const char* e : {"NetworksAdded", "SubnetworkN", "Tempo", "MaxAllowedUids", "Burn", "Kappa", "WeightsVersionKey",
                        "MinAllowedWeights", "MaxWeightsLimit", "Incentive", "Dividends", "Consensus", "ValidatorTrust",
                        "Emission", "LastUpdate", "ValidatorPermit"})
    EXPECT_TRUE(storage_key(md(), "SubtensorModule", e, json::array({3})).ok()) << e;
  for (const char* e : {"Keys", "BlockAtRegistration"}) EXPECT_TRUE(storage_key(md(), "SubtensorModule", e, json::array({3, 2})).ok()) << e;
  EXPECT_TRUE(storage_key(md(), "SubtensorModule", "Axons", json::array({3, hotkey})).ok());
  EXPECT_TRUE(storage_key(md(), "SubtensorModule", "Owner", json::array({hotkey})).ok());
  const bool per_subnet = !md().storage("SubtensorModule", "TotalHotkeyStake").ok();
  EXPECT_EQ(per_subnet, GetParam() == "devnet");
  auto stake = per_subnet ? storage_key(md(), "SubtensorModule", "TotalHotkeyAlpha", json::array({hotkey, 3}))
                          : storage_key(md(), "SubtensorModule", "TotalHotkeyStake", json::array({hotkey}));
  EXPECT_TRUE(stake.ok()) << stake.status().to_string();
}

// state_getRuntimeVersion's reply is the node's word: the versions go into every signed
// payload, so a float, a negative or a number past u32 is refused, not converted.
TEST(SubstrateClient, RuntimeVersionRepliesAreCheckedFieldByField) {
  const json good = {{"specName", "node-subtensor"}, {"specVersion", 284}, {"transactionVersion", 1}, {"apis", json::array()}};
  auto v = parse_runtime_version(good);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->spec_version, 284u);
  EXPECT_EQ(v->transaction_version, 1u);
  EXPECT_EQ(v->spec_name, "node-subtensor");
  struct Case {
    std::string field;
    json value;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"specVersion", -1, "specVersion is not a u32"},         {"specVersion", 284.5, "specVersion is not a u32"},
      {"specVersion", 4294967296ull, "specVersion is not a u32"}, {"specVersion", "284", "specVersion is not a u32"},
      {"transactionVersion", 1e30, "transactionVersion is not a u32"}, {"specName", 7, "specName is not a string"},
  };
  for (const auto& c : cases) {
    json bad = good;
    bad[c.field] = c.value;
    auto r = parse_runtime_version(bad);
    ASSERT_FALSE(r.ok()) << c.field << " = " << c.value.dump();
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().message();
  }
  json missing = good;
  missing.erase("transactionVersion");
  EXPECT_FALSE(parse_runtime_version(missing).ok());
  EXPECT_FALSE(parse_runtime_version(json::array({284, 1})).ok());
}

INSTANTIATE_TEST_SUITE_P(Subtensor, RuntimeVectors, ::testing::Values("testfinney", "devnet"));

}  // namespace
}  // namespace tessera::substrate
