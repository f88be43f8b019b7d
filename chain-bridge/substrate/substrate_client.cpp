#include "chain-bridge/substrate/substrate_client.h"

#include <map>

#include "chain-bridge/substrate/ss58.h"
#include "core/json_fields.h"

namespace tessera::substrate {
namespace {

Result<Bytes> hex_result(const json& v, const std::string& what) {
  if (!v.is_string()) return Corrupted(what + " is not a hex string");
  auto b = bytes_from_hex(v.get<std::string>());
  if (!b.ok()) return Corrupted(what + ": " + b.status().message());
  return b;
}

Result<std::uint64_t> hex_number(const json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (!v.is_string()) return Corrupted(what + " is not a number");
  std::string s = v.get<std::string>();
  if (s.starts_with("0x")) s = s.substr(2);
  if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    return Corrupted(what + " is not a hex number: " + v.dump().substr(0, 40));
  return std::stoull(s, nullptr, 16);
}

Result<u128> u128_of(const json& v, const std::string& what) {
  if (v.is_number_unsigned()) return static_cast<u128>(v.get<std::uint64_t>());
  if (v.is_string()) {
    auto n = u128_from_string(v.get<std::string>());
    if (n.ok()) return n;
  }
  return Corrupted(what + " is not an unsigned integer");
}

}  // namespace

Result<std::unique_ptr<SubstrateClient>> SubstrateClient::connect(const std::string& url, RpcOptions options) {
  std::unique_ptr<SubstrateClient> c(new SubstrateClient());
  TESSERA_ASSIGN_OR_RETURN(c->rpc_, RpcClient::connect(url, options));
  TESSERA_ASSIGN_OR_RETURN(auto genesis, c->rpc_->call("chain_getBlockHash", json::array({0})));
  TESSERA_ASSIGN_OR_RETURN(c->identity_.genesis_hash, hex_result(genesis, "genesis hash"));
  if (c->identity_.genesis_hash.size() != 32) return Corrupted("the node's genesis hash is not 32 bytes");
  TESSERA_RETURN_IF_ERROR(c->refresh_runtime());
  return c;
}

Result<RuntimeVersion> parse_runtime_version(const json& v) {
  if (!v.is_object()) return Corrupted("state_getRuntimeVersion: the reply is not an object");
  RuntimeVersion out;
  for (auto [key, field] : {std::pair{"specVersion", &out.spec_version}, std::pair{"transactionVersion", &out.transaction_version}}) {
    const auto n = v.contains(key) ? json_unsigned<std::uint32_t>(v.at(key)) : std::nullopt;
    if (!n) return Corrupted(std::string("state_getRuntimeVersion: ") + key + " is not a u32");
    *field = *n;
  }
  if (v.contains("specName")) {
    if (!v.at("specName").is_string()) return Corrupted("state_getRuntimeVersion: specName is not a string");
    out.spec_name = v.at("specName").get<std::string>();
  }
  return out;
}

Status SubstrateClient::refresh_runtime() {
  TESSERA_ASSIGN_OR_RETURN(auto v, rpc_->call("state_getRuntimeVersion", json::array()));
  TESSERA_ASSIGN_OR_RETURN(RuntimeVersion version, parse_runtime_version(v));
  if (version.spec_version == identity_.version.spec_version && !metadata_.types.empty()) return Status::Ok();
  TESSERA_ASSIGN_OR_RETURN(auto raw, rpc_->call("state_getMetadata", json::array()));
  TESSERA_ASSIGN_OR_RETURN(auto bytes, hex_result(raw, "state_getMetadata"));
  auto md = parse_metadata(bytes);
  if (!md.ok()) return md.status().with_context("the node's runtime metadata");
  metadata_ = std::move(*md);
  identity_.version = std::move(version);
  return Status::Ok();
}

Result<Header> SubstrateClient::parse_header(const json& header) {
  if (!header.is_object() || !header.contains("number")) return Corrupted("a block header without a number");
  Header h;
  TESSERA_ASSIGN_OR_RETURN(h.number, hex_number(header["number"], "header number"));
  return h;
}

Result<Header> SubstrateClient::best_header() {
  TESSERA_ASSIGN_OR_RETURN(auto header, rpc_->call("chain_getHeader", json::array()));
  TESSERA_ASSIGN_OR_RETURN(auto h, parse_header(header));
  TESSERA_ASSIGN_OR_RETURN(h.hash, block_hash(h.number));
  return h;
}

Result<Bytes> SubstrateClient::block_hash(std::uint64_t number) {
  TESSERA_ASSIGN_OR_RETURN(auto v, rpc_->call("chain_getBlockHash", json::array({number})));
  if (v.is_null()) return NotFound("the node has no block " + std::to_string(number));
  return hex_result(v, "block hash");
}

Result<std::optional<Bytes>> SubstrateClient::storage_raw(const Bytes& key, const std::optional<Bytes>& at) {
  json params = json::array({hex_of(key)});
  if (at) params.push_back(hex_of(*at));
  TESSERA_ASSIGN_OR_RETURN(auto v, rpc_->call("state_getStorage", params));
  if (v.is_null()) return std::optional<Bytes>{};
  TESSERA_ASSIGN_OR_RETURN(auto b, hex_result(v, "storage value"));
  return std::optional<Bytes>(std::move(b));
}

Result<json> SubstrateClient::storage(std::string_view pallet, std::string_view entry, const json& keys, const std::optional<Bytes>& at) {
  TESSERA_ASSIGN_OR_RETURN(auto key, storage_key(metadata_, pallet, entry, keys));
  TESSERA_ASSIGN_OR_RETURN(auto raw, storage_raw(key, at));
  return decode_storage(metadata_, pallet, entry, raw);
}

Result<std::vector<std::pair<Bytes, json>>> SubstrateClient::storage_entries(std::string_view pallet, std::string_view entry,
                                                                             const json& keys, std::size_t limit,
                                                                             std::uint32_t page) {
  TESSERA_ASSIGN_OR_RETURN(auto prefix, storage_key(metadata_, pallet, entry, keys));
  std::vector<std::pair<Bytes, json>> out;
  std::optional<std::string> start;
  while (out.size() < limit) {
    json params = json::array({hex_of(prefix), page});
    if (start) params.push_back(*start);
    TESSERA_ASSIGN_OR_RETURN(auto page_keys, rpc_->call("state_getKeysPaged", params));
    if (!page_keys.is_array()) return Corrupted("state_getKeysPaged: not an array");
    if (page_keys.empty()) break;
    if (page_keys.size() > page) return Corrupted("state_getKeysPaged returned more keys than asked for");
    std::vector<Bytes> raw_keys;
    for (const auto& key : page_keys) {
      TESSERA_ASSIGN_OR_RETURN(auto k, hex_result(key, "storage key"));
      if (k.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), k.begin()))
        return Corrupted("state_getKeysPaged returned a key outside " + std::string(pallet) + "." + std::string(entry));
      raw_keys.push_back(std::move(k));
    }
    TESSERA_ASSIGN_OR_RETURN(auto values, storage_many(raw_keys));
    for (std::size_t i = 0; i < raw_keys.size() && out.size() < limit; ++i) {
      TESSERA_ASSIGN_OR_RETURN(auto v, decode_storage(metadata_, pallet, entry, values[i]));
      out.emplace_back(std::move(raw_keys[i]), std::move(v));
    }
    if (page_keys.size() < page) break;
    start = page_keys.back().get<std::string>();
  }
  return out;
}

Result<std::vector<std::optional<Bytes>>> SubstrateClient::storage_many(const std::vector<Bytes>& keys,
                                                                        const std::optional<Bytes>& at) {
  std::vector<std::optional<Bytes>> out(keys.size());
  if (keys.empty()) return out;
  std::map<std::string, std::size_t> index;
  json list = json::array();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string h = hex_of(keys[i]);
    index.emplace(h, i);
    list.push_back(std::move(h));
  }
  json params = json::array({list});
  if (at) params.push_back(hex_of(*at));
  TESSERA_ASSIGN_OR_RETURN(auto values, rpc_->call("state_queryStorageAt", params));
  if (!values.is_array()) return Corrupted("state_queryStorageAt: not an array");
  for (const auto& set : values) {
    if (!set.is_object() || !set.contains("changes") || !set["changes"].is_array()) return Corrupted("state_queryStorageAt: no change set");
    for (const auto& change : set["changes"]) {
      if (!change.is_array() || change.size() != 2 || !change[0].is_string())
        return Corrupted("state_queryStorageAt: a change is not [key, value]");
      auto it = index.find(change[0].get<std::string>());
      if (it == index.end()) return Corrupted("state_queryStorageAt answered a key that was not asked for");
      if (change[1].is_null()) continue;
      TESSERA_ASSIGN_OR_RETURN(auto b, hex_result(change[1], "storage value"));
      out[it->second] = std::move(b);
    }
  }
  return out;
}

Result<AccountInfo> SubstrateClient::account(const PublicKey& key) {
  TESSERA_ASSIGN_OR_RETURN(auto v, storage("System", "Account", json::array({hex_of(key)})));
  if (!v.is_object() || !v.contains("data") || !v["data"].is_object()) return Corrupted("System.Account is not {nonce, data}");
  AccountInfo info;
  TESSERA_ASSIGN_OR_RETURN(auto nonce, u128_of(v["nonce"], "account nonce"));
  info.nonce = static_cast<std::uint64_t>(nonce);
  TESSERA_ASSIGN_OR_RETURN(info.free, u128_of(v["data"]["free"], "free balance"));
  TESSERA_ASSIGN_OR_RETURN(info.reserved, u128_of(v["data"]["reserved"], "reserved balance"));
  return info;
}

Result<std::uint64_t> SubstrateClient::next_nonce(const PublicKey& key) {
  // The pool's view (counts transactions waiting in it), not only the stored nonce.
  TESSERA_ASSIGN_OR_RETURN(auto v, rpc_->call("system_accountNextIndex", json::array({ss58_encode(key)})));
  return hex_number(v, "system_accountNextIndex");
}

Result<InBlock> SubstrateClient::submit(const Keypair& signer, std::string_view pallet, std::string_view call, const json& args,
                                        const SubmitOptions& options) {
  TESSERA_RETURN_IF_ERROR(refresh_runtime());
  TESSERA_ASSIGN_OR_RETURN(auto encoded, encode_call(metadata_, pallet, call, args));
  return sign_and_watch(signer, encoded, options);
}

Result<InBlock> SubstrateClient::submit(const Keypair& signer, const Bytes& call, const SubmitOptions& options) {
  TESSERA_RETURN_IF_ERROR(refresh_runtime());
  return sign_and_watch(signer, call, options);
}

Result<InBlock> SubstrateClient::sign_and_watch(const Keypair& signer, const Bytes& call, const SubmitOptions& options) {
  SignOptions sign;
  TESSERA_ASSIGN_OR_RETURN(sign.nonce, next_nonce(signer.public_key()));
  sign.tip = options.tip;
  if (options.mortal_period > 0) {
    TESSERA_ASSIGN_OR_RETURN(auto head, best_header());
    sign.era = Era::Mortal(options.mortal_period, head.number);
    TESSERA_ASSIGN_OR_RETURN(sign.era_block_hash, block_hash(sign.era.birth(head.number)));
  }
  TESSERA_ASSIGN_OR_RETURN(auto extrinsic, sign_extrinsic(metadata_, call, signer, identity_, sign));
  const std::string ext_hex = hex_of(extrinsic);
  TESSERA_ASSIGN_OR_RETURN(auto sub, rpc_->subscribe("author_submitAndWatchExtrinsic", json::array({ext_hex})));
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  std::optional<Bytes> block;
  while (!block) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      (void)rpc_->unsubscribe("author_unwatchExtrinsic", sub);
      return DeadlineExceeded("the extrinsic was not included in a block within " + std::to_string(options.timeout.count()) + " ms");
    }
    TESSERA_ASSIGN_OR_RETURN(auto status, rpc_->next(sub, left));
    if (status.is_string()) {
      std::string s = status.get<std::string>();
      if (s == "dropped" || s == "invalid" || s == "usurped")
        return FailedPrecondition("the node's transaction pool reports the extrinsic " + s);
      continue;  // "future", "ready"
    }
    if (!status.is_object() || status.empty()) continue;
    const std::string kind = status.begin().key();
    if (kind == "finalized" || (kind == "inBlock" && !options.wait_finalized)) {
      TESSERA_ASSIGN_OR_RETURN(auto h, hex_result(status.begin().value(), kind + " block hash"));
      block = std::move(h);
    } else if (kind == "dropped" || kind == "invalid" || kind == "usurped" || kind == "finalityTimeout") {
      return FailedPrecondition("the node's transaction pool reports the extrinsic " + kind);
    }
  }
  (void)rpc_->unsubscribe("author_unwatchExtrinsic", sub);

  InBlock out;
  out.block_hash = *block;
  out.extrinsic_hash = extrinsic_hash(extrinsic);
  TESSERA_ASSIGN_OR_RETURN(auto body, rpc_->call("chain_getBlock", json::array({hex_of(*block)})));
  if (!body.is_object() || !body["block"].is_object() || !body["block"]["extrinsics"].is_array())
    return Corrupted("chain_getBlock: no extrinsics");
  TESSERA_ASSIGN_OR_RETURN(auto header, parse_header(body["block"]["header"]));
  out.block_number = header.number;
  const auto& list = body["block"]["extrinsics"];
  bool found = false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].is_string() && list[i].get<std::string>() == ext_hex) {
      out.index = static_cast<std::uint32_t>(i);
      found = true;
      break;
    }
  }
  if (!found) return Corrupted("block " + hex_of(*block) + " does not hold the extrinsic the node said it includes");
  TESSERA_ASSIGN_OR_RETURN(auto events_key, storage_key(metadata_, "System", "Events"));
  TESSERA_ASSIGN_OR_RETURN(auto raw_events, storage_raw(events_key, *block));
  TESSERA_ASSIGN_OR_RETURN(auto events, decode_events(metadata_, raw_events.value_or(Bytes{0})));
  Status outcome = dispatch_outcome(metadata_, events, out.index);
  if (!outcome.ok()) return outcome;
  for (auto& e : events)
    if (e.extrinsic == out.index) out.events.push_back(std::move(e));
  return out;
}

Status SubstrateClient::watch_heads(const std::function<bool(const Header&)>& on_head, std::chrono::milliseconds timeout) {
  TESSERA_ASSIGN_OR_RETURN(auto sub, rpc_->subscribe("chain_subscribeNewHeads", json::array()));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Status result = Status::Ok();
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result = DeadlineExceeded("watching new heads: time is up");
      break;
    }
    auto header = rpc_->next(sub, left);
    if (!header.ok()) {
      result = header.status();
      break;
    }
    auto h = parse_header(*header);
    if (!h.ok()) {
      result = h.status();
      break;
    }
    auto hash = block_hash(h->number);
    if (hash.ok()) h->hash = *hash;
    if (!on_head(*h)) break;
  }
  (void)rpc_->unsubscribe("chain_unsubscribeNewHeads", sub);
  return result;
}

}  // namespace tessera::substrate
