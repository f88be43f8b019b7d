// SubtensorChain: the ChainClient over a subtensor node (chain-bridge/substrate).
// It carries wallets (head, balances, transfers, new blocks), the metagraph, subnet
// creation and hyperparameters, burned registration, serving (an axon pointing at a
// signed endpoint record), weights and stake. Commit–reveal and checkpoint announcements
// are not mapped yet, and each says so by name.
#include <cstdlib>
#include <tuple>

#include <arpa/inet.h>

#include <map>

#include "chain-bridge/client.h"
#include "chain-bridge/endpoint_info.h"
#include "chain-bridge/substrate/ss58.h"
#include "chain-bridge/substrate/substrate_client.h"
#include "core/hash.h"
#include "core/json_fields.h"
#include "core/run_spec.h"

namespace tessera::chain {
namespace {

namespace sub = substrate;

std::string raw_of(const sub::Bytes& b) { return std::string(b.begin(), b.end()); }

std::uint64_t u64_of(const sub::json& v) { return v.is_number_unsigned() ? v.get<std::uint64_t>() : 0; }

// Where an axon points: its IPv4 or IPv6 address (inet_ntop's text) and port; nullopt
// when none is served.
struct AxonAddress {
  std::string host;
  int port = 0;
};
std::optional<AxonAddress> axon_address(const sub::json& axon) {
  if (!axon.is_object() || u64_of(axon.value("port", sub::json())) == 0) return std::nullopt;
  const sub::json& ip_json = axon.value("ip", sub::json());
  auto ip = sub::u128_from_string(ip_json.is_string() ? ip_json.get<std::string>() : std::to_string(u64_of(ip_json)));
  if (!ip.ok()) return std::nullopt;
  char text[INET6_ADDRSTRLEN] = {};
  if (u64_of(axon.value("ip_type", sub::json())) == 4) {
    in_addr v4{htonl(static_cast<std::uint32_t>(*ip))};
    ::inet_ntop(AF_INET, &v4, text, sizeof text);
  } else {
    in6_addr v6{};
    for (int i = 0; i < 16; ++i) v6.s6_addr[i] = static_cast<std::uint8_t>(*ip >> (8 * (15 - i)));
    ::inet_ntop(AF_INET6, &v6, text, sizeof text);
  }
  return AxonAddress{text, static_cast<int>(u64_of(axon["port"]))};
}

class SubtensorChain final : public ChainClient {
 public:
  explicit SubtensorChain(std::unique_ptr<sub::SubstrateClient> client) : client_(std::move(client)) {}

  std::uint64_t next_epoch_block(std::uint32_t netuid, std::uint32_t tempo, std::uint64_t block) const override {
    return subtensor_next_epoch_block(netuid, tempo, block);
  }

  Result<HeadInfo> head() override {
    TESSERA_ASSIGN_OR_RETURN(auto h, client_->best_header());
    TESSERA_ASSIGN_OR_RETURN(auto issuance, client_->storage("Balances", "TotalIssuance"));
    HeadInfo info;
    info.height = h.number;
    info.hash = raw_of(h.hash);
    info.chain_id = sub::hex_of(client_->identity().genesis_hash, false);
    info.total_issuance = issuance.is_number_unsigned() ? issuance.get<std::uint64_t>() : 0;
    return info;
  }

  Result<AccountInfo> account(const PublicKey& key) override {
    TESSERA_ASSIGN_OR_RETURN(auto h, client_->best_header());
    TESSERA_ASSIGN_OR_RETURN(auto a, client_->account(key));
    if (a.free > std::numeric_limits<std::uint64_t>::max())
      return OutOfRange("a balance of " + sub::u128_to_string(a.free) + " rao does not fit in 64 bits");
    return AccountInfo{static_cast<std::uint64_t>(a.free), a.nonce, h.number};
  }

  Result<Included> transfer(const Keypair& from, const PublicKey& to, std::uint64_t rao) override {
    TESSERA_ASSIGN_OR_RETURN(auto in, client_->submit(from, "Balances", "transfer_keep_alive",
                                                      {{"dest", {{"Id", sub::hex_of(to)}}}, {"value", rao}}));
    Included inc;
    inc.block = in.block_number;
    return inc;
  }

  Status watch_blocks(const std::function<bool(const HeadInfo&)>& on_block, std::chrono::milliseconds deadline,
                      std::optional<std::uint64_t> from_height) override {
    std::optional<std::uint64_t> last = from_height;
    const std::string chain_id = sub::hex_of(client_->identity().genesis_hash, false);
    Status st = client_->watch_heads(
        [&](const sub::Header& h) {
          if (!last) {
            last = h.number;  // the current head: delivery starts after it
            return true;
          }
          if (h.number <= *last) return true;  // a re-org back or a repeat
          HeadInfo info;
          info.height = h.number;
          info.hash = raw_of(h.hash);
          info.chain_id = chain_id;
          info.skipped = h.number - *last - 1;
          last = h.number;
          return on_block(info);
        },
        deadline);
    return st.code() == StatusCode::kDeadlineExceeded ? Status::Ok() : st;
  }

  // The metagraph from SubtensorModule's storage, every value read at one block.
  Result<Subnet> subnet(std::uint32_t netuid) override {
    const auto& md = client_->metadata();
    TESSERA_ASSIGN_OR_RETURN(auto head, client_->best_header());
    const sub::json id = sub::json::array({netuid});
    TESSERA_ASSIGN_OR_RETURN(auto added, client_->storage("SubtensorModule", "NetworksAdded", id, head.hash));
    if (added != true) return NotFound("subnet " + std::to_string(netuid) + " does not exist on " + client_->rpc().url());
    // Per-subnet values; entries this runtime lacks are left at their zero.
    const std::vector<std::string> per_subnet = {"SubnetworkN", "Tempo", "MaxAllowedUids", "ImmunityPeriod",
                                                 "WeightsSetRateLimit", "Burn", "MaxAllowedValidators", "Kappa",
                                                 "BondsMovingAverage", "WeightsVersionKey", "MinAllowedWeights",
                                                 "MaxWeightsLimit", "Incentive", "Dividends", "Consensus", "ValidatorTrust",
                                                 "Emission", "LastUpdate", "ValidatorPermit", "PendingEmission",
                                                 "SubnetOwner", "LastMechansimStepBlock", "LastMechanismStepBlock"};
    TESSERA_ASSIGN_OR_RETURN(auto values, read_all(per_subnet, id, head.hash));
    Subnet s;
    s.netuid = netuid;
    s.block = head.number;
    if (values["SubnetOwner"].is_string()) s.owner = raw_of(*sub::bytes_from_hex(values["SubnetOwner"].get<std::string>()));
    s.pending_emission = u64_of(values["PendingEmission"]);
    // The block of the subnet's last epoch: the runtime's spelling, or the corrected one.
    s.last_epoch_block = std::max(u64_of(values["LastMechansimStepBlock"]), u64_of(values["LastMechanismStepBlock"]));
    auto& p = s.params;
    p.set_tempo(static_cast<std::uint32_t>(u64_of(values["Tempo"])));
    if (auto it = aggregators_.find(netuid); it != aggregators_.end()) p.set_aggregator_hotkey(it->second);
    p.set_max_uids(static_cast<std::uint32_t>(u64_of(values["MaxAllowedUids"])));
    p.set_immunity_period(u64_of(values["ImmunityPeriod"]));
    p.set_weights_rate_limit(u64_of(values["WeightsSetRateLimit"]));
    p.set_registration_burn(u64_of(values["Burn"]));
    p.set_max_validators(static_cast<std::uint32_t>(u64_of(values["MaxAllowedValidators"])));
    p.set_kappa_u16(static_cast<std::uint32_t>(u64_of(values["Kappa"])));
    p.set_bonds_moving_average(u64_of(values["BondsMovingAverage"]));
    p.set_version_key(u64_of(values["WeightsVersionKey"]));
    p.set_min_allowed_weights(static_cast<std::uint32_t>(u64_of(values["MinAllowedWeights"])));
    p.set_max_weight_limit_u16(static_cast<std::uint32_t>(u64_of(values["MaxWeightsLimit"])));

    const std::uint64_t n = std::min<std::uint64_t>(u64_of(values["SubnetworkN"]), 65536);
    std::vector<sub::Bytes> key_keys, reg_keys;
    for (std::uint64_t uid = 0; uid < n; ++uid) {
      TESSERA_ASSIGN_OR_RETURN(auto k, sub::storage_key(md, "SubtensorModule", "Keys", {netuid, uid}));
      key_keys.push_back(std::move(k));
      TESSERA_ASSIGN_OR_RETURN(auto r, sub::storage_key(md, "SubtensorModule", "BlockAtRegistration", {netuid, uid}));
      reg_keys.push_back(std::move(r));
    }
    TESSERA_ASSIGN_OR_RETURN(auto hotkeys, decoded_many("Keys", key_keys, head.hash));
    TESSERA_ASSIGN_OR_RETURN(auto registered, decoded_many("BlockAtRegistration", reg_keys, head.hash));
    // A hotkey's stake: one total on older runtimes (TotalHotkeyStake); per subnet, in the
    // subnet's alpha, on dynamic-TAO runtimes (TotalHotkeyAlpha).
    const bool stake_per_subnet = !md.storage("SubtensorModule", "TotalHotkeyStake").ok();
    const std::string stake_entry = stake_per_subnet ? "TotalHotkeyAlpha" : "TotalHotkeyStake";
    std::vector<sub::Bytes> owner_keys, stake_keys, axon_keys;
    for (const auto& hk : hotkeys) {
      TESSERA_ASSIGN_OR_RETURN(auto o, sub::storage_key(md, "SubtensorModule", "Owner", sub::json::array({hk})));
      owner_keys.push_back(std::move(o));
      TESSERA_ASSIGN_OR_RETURN(auto st, sub::storage_key(md, "SubtensorModule", stake_entry,
                                                         stake_per_subnet ? sub::json::array({hk, netuid}) : sub::json::array({hk})));
      stake_keys.push_back(std::move(st));
      TESSERA_ASSIGN_OR_RETURN(auto a, sub::storage_key(md, "SubtensorModule", "Axons", {netuid, hk}));
      axon_keys.push_back(std::move(a));
    }
    TESSERA_ASSIGN_OR_RETURN(auto owners, decoded_many("Owner", owner_keys, head.hash));
    TESSERA_ASSIGN_OR_RETURN(auto stakes, decoded_many(stake_entry, stake_keys, head.hash));
    TESSERA_ASSIGN_OR_RETURN(auto axons, decoded_many("Axons", axon_keys, head.hash));
    auto at = [](const sub::json& v, std::uint64_t i) -> const sub::json& {
      static const sub::json kNull;
      return v.is_array() && i < v.size() ? v[i] : kNull;
    };
    for (std::uint64_t uid = 0; uid < n; ++uid) {
      Neuron nr;
      nr.uid = static_cast<std::uint32_t>(uid);
      if (hotkeys[uid].is_string()) nr.hotkey = raw_of(*sub::bytes_from_hex(hotkeys[uid].get<std::string>()));
      if (owners[uid].is_string()) nr.coldkey = raw_of(*sub::bytes_from_hex(owners[uid].get<std::string>()));
      nr.stake = u64_of(stakes[uid]);
      resolve_endpoint(netuid, axons[uid], nr);
      nr.consensus_u16 = static_cast<std::uint32_t>(u64_of(at(values["Consensus"], uid)));
      nr.incentive_u16 = static_cast<std::uint32_t>(u64_of(at(values["Incentive"], uid)));
      nr.dividends_u16 = static_cast<std::uint32_t>(u64_of(at(values["Dividends"], uid)));
      nr.validator_trust_u16 = static_cast<std::uint32_t>(u64_of(at(values["ValidatorTrust"], uid)));
      nr.last_emission = u64_of(at(values["Emission"], uid));
      nr.last_update = u64_of(at(values["LastUpdate"], uid));
      nr.registration_block = u64_of(registered[uid]);
      nr.validator_permit = at(values["ValidatorPermit"], uid) == true;
      s.neurons.push_back(std::move(nr));
    }
    return s;
  }
  // Subtensor has no place for the aggregator or its announcements (on runtimes without
  // the Commitments pallet): the owner designates the aggregator off chain, every role is
  // given it (`--aggregator`), and its announcements are served, signed by its hotkey, by
  // the endpoint-info service its axon names.
  Status designate_aggregator(std::uint32_t netuid, const PublicKey& hotkey) override {
    aggregators_[netuid] = raw_bytes(hotkey);
    return Status::Ok();
  }

  Result<std::optional<CheckpointInfo>> checkpoint(std::uint32_t netuid, std::optional<std::uint64_t> window) override {
    TESSERA_ASSIGN_OR_RETURN(const std::string aggregator, designated(netuid));
    const std::string aggregator_hex = sub::hex_of(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(aggregator.data()), aggregator.size()));
    TESSERA_ASSIGN_OR_RETURN(auto axon, client_->storage("SubtensorModule", "Axons", sub::json::array({netuid, aggregator_hex})));
    const auto at = axon_address(axon);
    if (!at) return std::optional<CheckpointInfo>();  // the aggregator serves nothing yet
    TESSERA_ASSIGN_OR_RETURN(auto record, fetch_announcement(at->host, at->port, aggregator, netuid, window));
    if (!record) return std::optional<CheckpointInfo>();
    return std::optional<CheckpointInfo>(CheckpointInfo{record->window, record->hash, record->address, record->block,
                                                        record->announcer});
  }
  // register_network where the runtime has it (the netuid from its NetworkAdded event);
  // on runtimes without it (testfinney's), sudo_add_network through Sudo.sudo, which only
  // the sudo key may sign. Subtensor keeps no run spec: roles are given it as a file.
  Result<std::uint32_t> create_subnet(const Keypair& owner, const std::string& spec_toml,
                                      const proto::SubnetParams& given) override {
    const auto& md = client_->metadata();
    proto::SubnetParams params = given;
    if (!spec_toml.empty() && params.tempo() == 0) {  // the spec's tempo, as the embedded chain takes it
      TESSERA_ASSIGN_OR_RETURN(RunSpec spec, parse_run_spec(spec_toml, "subnet spec"));
      params.set_tempo(static_cast<std::uint32_t>(spec.schedule.tempo));
    }
    // The weight rules the embedded chain applies by default (one weight is enough, no cap
    // per uid, 10 blocks between a validator's weights), where the runtime's defaults refuse a small subnet's weights
    // (NotSettingEnoughWeights); `given` overrides them.
    if (!params.min_allowed_weights()) params.set_min_allowed_weights(1);
    if (!params.max_weight_limit_u16()) params.set_max_weight_limit_u16(65535);
    if (!params.weights_rate_limit()) params.set_weights_rate_limit(10);
    std::uint32_t netuid = 0;
    if (md.call("SubtensorModule", "register_network").ok()) {
      TESSERA_ASSIGN_OR_RETURN(auto in, submit(owner, "register_network", {{"hotkey", sub::hex_of(owner.public_key())}}));
      bool found = false;
      for (const auto& e : in.events) {
        if (e.name != "NetworkAdded") continue;
        const auto& f = e.fields.is_array() && !e.fields.empty() ? e.fields[0] : e.fields;
        if (const auto n = json_unsigned<std::uint16_t>(f)) netuid = *n, found = true;
      }
      if (!found) return Internal("register_network was included but no NetworkAdded event names the netuid");
    } else if (md.call("SubtensorModule", "sudo_add_network").ok()) {
      TESSERA_RETURN_IF_ERROR(require_sudo(owner, "creating a subnet (SubtensorModule.sudo_add_network)"));
      TESSERA_ASSIGN_OR_RETURN(netuid, free_netuid());
      const std::uint64_t tempo = (params.tempo() > 0 ? params.tempo() : 99);
      TESSERA_RETURN_IF_ERROR(sudo(owner, "sudo_add_network", {{"netuid", netuid}, {"tempo", tempo}, {"modality", 0}}));
    } else {
      return FailedPrecondition("this runtime has neither SubtensorModule.register_network nor sudo_add_network");
    }
    TESSERA_RETURN_IF_ERROR(apply_params(owner, netuid, params));
    return netuid;
  }
  // Burned registration: SubtensorModule.burned_register, paid by the coldkey. The uid is
  // read back from Uids at the including block.
  Result<std::uint32_t> register_hotkey(const Keypair& coldkey, const PublicKey& hotkey, std::uint32_t netuid) override {
    TESSERA_ASSIGN_OR_RETURN(auto in, submit(coldkey, "burned_register", {{"netuid", netuid}, {"hotkey", sub::hex_of(hotkey)}}));
    TESSERA_ASSIGN_OR_RETURN(auto uid, client_->storage("SubtensorModule", "Uids", {netuid, sub::hex_of(hotkey)}, in.block_hash));
    const auto n = json_unsigned<std::uint16_t>(uid);
    if (!n) return Internal("registered, but Uids holds no u16 uid for the hotkey: " + uid.dump().substr(0, 40));
    return *n;
  }
  Result<std::uint32_t> register_by_sudo(const Keypair& sudo_key, const PublicKey& coldkey, const PublicKey& hotkey,
                                         std::uint32_t netuid) override {
    TESSERA_RETURN_IF_ERROR(require_sudo(sudo_key, "registering through SubtensorModule.sudo_register"));
    TESSERA_RETURN_IF_ERROR(sudo(sudo_key, "sudo_register",
                                 {{"netuid", netuid}, {"hotkey", sub::hex_of(hotkey)}, {"coldkey", sub::hex_of(coldkey)},
                                  {"stake", 0}, {"balance", 0}}));
    TESSERA_ASSIGN_OR_RETURN(auto uid, client_->storage("SubtensorModule", "Uids", {netuid, sub::hex_of(hotkey)}));
    const auto n = json_unsigned<std::uint16_t>(uid);
    if (!n) return Internal("sudo_register succeeded, but Uids holds no u16 uid for the hotkey: " + uid.dump().substr(0, 40));
    return *n;
  }
  // An axon holds an IP and a port only: it points at this process's endpoint-info
  // service (chain-bridge/endpoint_info.h), which serves the submission address and the
  // CURVE key signed by the hotkey. The service lives as long as this client.
  Result<Included> serve(const Keypair& hotkey, std::uint32_t netuid, const std::string& address,
                         const std::string& curve_public_key, const std::string& checkpoint_address) override {
    std::string hostport = address.rfind("tcp://", 0) == 0 ? address.substr(6) : address;
    const auto colon = hostport.rfind(':');
    const std::string host = hostport.substr(0, colon);
    in_addr ip{};
    if (colon == std::string::npos || ::inet_pton(AF_INET, host.c_str(), &ip) != 1)
      return InvalidArgument("serving " + address + " on subtensor: an axon takes an IPv4 address and a port (tcp://A.B.C.D:PORT)");
    if (curve_public_key.size() != 32) return InvalidArgument("serving needs the 32-byte CURVE public key");
    if (!endpoint_service_ || endpoint_host_ != host) {
      TESSERA_ASSIGN_OR_RETURN(endpoint_service_, EndpointInfoService::start(host));
      endpoint_host_ = host;
    }
    EndpointRecord record{netuid, raw_bytes(hotkey.public_key()), "tcp://" + hostport, curve_public_key, checkpoint_address,
                          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         std::chrono::system_clock::now().time_since_epoch())
                                                         .count())};
    endpoint_service_->publish(signed_endpoint_json(record, hotkey));
    const std::uint64_t ip_number = ntohl(ip.s_addr);
    auto in = submit(hotkey, "serve_axon",
                     {{"netuid", netuid}, {"version", 1}, {"ip", ip_number}, {"port", endpoint_service_->port()},
                      {"ip_type", 4}, {"protocol", 0}, {"placeholder1", 0}, {"placeholder2", 0}});
    if (!in.ok() && host == "127.0.0.1" && in.status().message().find("InvalidIpAddress") != std::string::npos)
      return Status(in.status().code(), in.status().message() +
                                            " (subtensor refuses 127.0.0.1; on one machine use another loopback address, e.g. 127.0.0.2)");
    if (!in.ok()) return in.status();
    return Included{in->block_number, std::nullopt, std::nullopt};
  }
  // SubtensorModule.set_weights: u16 uids and u16 values, and the version key.
  Result<Included> set_weights(const Keypair& hotkey, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                               const std::vector<std::uint32_t>& values, std::uint64_t version_key) override {
    TESSERA_ASSIGN_OR_RETURN(auto in, submit(hotkey, "set_weights",
                                             {{"netuid", netuid}, {"dests", uids}, {"weights", values},
                                              {"version_key", version_key}}));
    return Included{in.block_number, std::nullopt, std::nullopt};
  }
  Result<Included> commit_weights(const Keypair&, std::uint32_t, const std::string&) override {
    return commit_reveal_missing("commit_weights");
  }
  Result<Included> reveal_weights(const Keypair&, std::uint32_t, const std::vector<std::uint32_t>&,
                                  const std::vector<std::uint32_t>&, const std::string&, std::uint64_t) override {
    return commit_reveal_missing("reveal_weights");
  }
  Result<Included> announce_checkpoint(const Keypair& signer, std::uint32_t netuid, std::uint64_t window,
                                       const std::string& hash, const std::string& address) override {
    TESSERA_ASSIGN_OR_RETURN(const std::string aggregator, designated(netuid));
    if (raw_bytes(signer.public_key()) != aggregator)
      return PermissionDenied("hotkey " + signer.public_hex().substr(0, 16) + "… is not the aggregator designated for subnet " +
                              std::to_string(netuid) + " (--aggregator)");
    if (!endpoint_service_)
      return FailedPrecondition("announcing a checkpoint on subtensor needs the endpoint-info service: serve first");
    if (hash.size() != 32) return InvalidArgument("a checkpoint hash is 32 bytes");
    TESSERA_ASSIGN_OR_RETURN(auto head, client_->best_header());
    AnnouncementRecord record{netuid, window, hash, address, head.number, aggregator};
    endpoint_service_->announce(window, signed_announcement_json(record, signer));
    return Included{head.number, netuid, std::nullopt};
  }
  // SubtensorModule.add_stake; runtimes with per-subnet stake also take the netuid.
  Result<Included> add_stake(const Keypair& coldkey, const PublicKey& hotkey, std::uint32_t netuid, std::uint64_t rao) override {
    TESSERA_ASSIGN_OR_RETURN(auto in, submit(coldkey, "add_stake",
                                             {{"hotkey", sub::hex_of(hotkey)}, {"netuid", netuid}, {"amount_staked", rao}}));
    return Included{in.block_number, std::nullopt, std::nullopt};
  }
  Result<Included> set_subnet_params(const Keypair& owner, std::uint32_t netuid, const proto::SubnetParams& params) override {
    TESSERA_RETURN_IF_ERROR(apply_params(owner, netuid, params));
    TESSERA_ASSIGN_OR_RETURN(auto head, client_->best_header());
    return Included{head.number, netuid, std::nullopt};
  }

 private:
  // A neuron's axon names its endpoint-info service; its record (checked against the
  // neuron's hotkey) gives the submission address and CURVE key. Records are cached per
  // (hotkey, axon), failures for 30 s, so a dead or hostile axon costs one short timeout.
  void resolve_endpoint(std::uint32_t netuid, const sub::json& axon, Neuron& nr) {
    const auto info = axon_address(axon);
    if (!info || nr.hotkey.size() != 32) return;
    const std::string key = nr.hotkey + "|" + info->host + "|" + std::to_string(info->port) + "|" +
                            axon.value("block", sub::json(0)).dump();
    const auto now = std::chrono::steady_clock::now();
    auto it = endpoints_.find(key);
    if (it == endpoints_.end() || (!it->second.record && now - it->second.at > std::chrono::seconds(30))) {
      auto r = fetch_endpoint(info->host, info->port, nr.hotkey, netuid);
      if (endpoints_.size() > 4096) endpoints_.clear();
      it = endpoints_.insert_or_assign(key, CachedEndpoint{r.ok() ? std::optional<EndpointRecord>(*r) : std::nullopt, now}).first;
    }
    if (it->second.record) {
      nr.address = it->second.record->address;
      nr.curve_public_key = it->second.record->curve_public_key;
      nr.checkpoint_address = it->second.record->checkpoint_address;
    }
  }

  Status require_sudo(const Keypair& signer, const std::string& what) {
    TESSERA_ASSIGN_OR_RETURN(auto key, client_->storage("Sudo", "Key"));
    if (key == sub::json(sub::hex_of(signer.public_key()))) return Status::Ok();
    std::string sudo_address;
    if (key.is_string())
      if (auto k = sub::parse_public_key(key.get<std::string>()); k.ok()) sudo_address = " (" + sub::ss58_encode(*k) + ")";
    return PermissionDenied(what + " needs the chain's sudo key" + sudo_address + "; the signer is " +
                            sub::ss58_encode(signer.public_key()));
  }

  // The lowest netuid no subnet uses.
  Result<std::uint32_t> free_netuid() {
    const auto& md = client_->metadata();
    std::vector<sub::Bytes> keys;
    for (std::uint32_t n = 1; n <= 1024; ++n) {
      TESSERA_ASSIGN_OR_RETURN(auto k, sub::storage_key(md, "SubtensorModule", "NetworksAdded", sub::json::array({n})));
      keys.push_back(std::move(k));
    }
    TESSERA_ASSIGN_OR_RETURN(auto raws, client_->storage_many(keys));
    for (std::uint32_t i = 0; i < raws.size(); ++i) {
      TESSERA_ASSIGN_OR_RETURN(auto added, sub::decode_storage(md, "SubtensorModule", "NetworksAdded", raws[i]));
      if (added != true) return i + 1;
    }
    return ResourceExhausted("netuids 1..1024 are all in use");
  }

  // Sudo.sudo(SubtensorModule.<call>); the inner call's own failure (Sudo's Sudid event)
  // comes back by name.
  Status sudo(const Keypair& signer, const std::string& call, const sub::json& args) {
    TESSERA_ASSIGN_OR_RETURN(auto picked, pick_args(call, args));
    TESSERA_ASSIGN_OR_RETURN(auto in, client_->submit(signer, "Sudo", "sudo", {{"call", {{"SubtensorModule", {{call, picked}}}}}}));
    for (const auto& e : in.events) {
      if (e.pallet != "Sudo" || e.name != "Sudid") continue;
      const sub::json& result = e.fields.is_object() && e.fields.contains("sudo_result") ? e.fields["sudo_result"] : e.fields;
      if (result.is_object() && result.contains("Err"))
        return FailedPrecondition("SubtensorModule." + call + " (as sudo) failed: " +
                                  sub::dispatch_error_name(client_->metadata(), result["Err"]));
    }
    return Status::Ok();
  }

  // The run spec's hyperparameters that subtensor has setters for; zero means "leave the
  // runtime's default". Through sudo on runtimes where subnet owners cannot set them.
  Status apply_params(const Keypair& owner, std::uint32_t netuid, const proto::SubnetParams& p) {
    const std::vector<std::tuple<std::uint64_t, const char*, const char*>> settings = {
        {p.min_allowed_weights(), "sudo_set_min_allowed_weights", "min_allowed_weights"},
        {p.max_weight_limit_u16(), "sudo_set_max_weight_limit", "max_weight_limit"},
        {p.weights_rate_limit(), "sudo_set_weights_set_rate_limit", "weights_set_rate_limit"},
        {p.immunity_period(), "sudo_set_immunity_period", "immunity_period"},
        {p.max_uids(), "sudo_set_max_allowed_uids", "max_allowed_uids"},
        {p.kappa_u16(), "sudo_set_kappa", "kappa"},
        {p.bonds_moving_average(), "sudo_set_bonds_moving_average", "bonds_moving_average"},
        {p.version_key(), "sudo_set_weights_version_key", "weights_version_key"},
        {p.max_validators(), "sudo_set_max_allowed_validators", "max_allowed_validators"},
        {p.registration_burn(), "sudo_set_burn", "burn"},
    };
    bool any = false;
    for (const auto& [value, call, arg] : settings) any = any || value != 0;
    if (!any) return Status::Ok();
    TESSERA_RETURN_IF_ERROR(require_sudo(owner, "setting subnet hyperparameters on this runtime"));
    for (const auto& [value, call, arg] : settings) {
      if (value == 0) continue;
      if (!client_->metadata().call("SubtensorModule", call).ok())
        return FailedPrecondition("this runtime has no SubtensorModule." + std::string(call));
      TESSERA_RETURN_IF_ERROR(sudo(owner, call, {{"netuid", netuid}, {arg, value}}));
    }
    return Status::Ok();
  }

  // A SubtensorModule call with the arguments this runtime's version of it takes, picked
  // by name from `args` (runtimes differ: add_stake gained a netuid).
  Result<sub::InBlock> submit(const Keypair& signer, const std::string& call, const sub::json& args) {
    TESSERA_ASSIGN_OR_RETURN(auto picked, pick_args(call, args));
    return client_->submit(signer, "SubtensorModule", call, picked);
  }

  // The arguments this runtime's SubtensorModule.<call> takes, by name, from `args`.
  Result<sub::json> pick_args(const std::string& call, const sub::json& args) {
    TESSERA_RETURN_IF_ERROR(client_->refresh_runtime());
    TESSERA_ASSIGN_OR_RETURN(auto variant, client_->metadata().call("SubtensorModule", call));
    sub::json picked = sub::json::object();
    for (const auto& f : variant->fields) {
      if (!args.contains(f.name))
        return FailedPrecondition("this runtime's SubtensorModule." + call + " takes '" + f.name + "', which Tessera does not fill in");
      picked[f.name] = args[f.name];
    }
    return picked;
  }

  // Values of per-subnet maps (or plain values), by entry name; entries the runtime does
  // not have come back null.
  Result<sub::json> read_all(const std::vector<std::string>& entries, const sub::json& keys, const sub::Bytes& at) {
    const auto& md = client_->metadata();
    std::vector<sub::Bytes> raw_keys;
    std::vector<std::string> present;
    for (const auto& e : entries) {
      auto entry = md.storage("SubtensorModule", e);
      if (!entry.ok()) continue;
      auto k = sub::storage_key(md, "SubtensorModule", e, (*entry)->is_map ? keys : sub::json::array());
      if (!k.ok()) continue;  // a different key shape in this runtime: not read
      raw_keys.push_back(std::move(*k));
      present.push_back(e);
    }
    TESSERA_ASSIGN_OR_RETURN(auto raws, client_->storage_many(raw_keys, at));
    sub::json out = sub::json::object();
    for (const auto& e : entries) out[e] = nullptr;
    for (std::size_t i = 0; i < present.size(); ++i) {
      TESSERA_ASSIGN_OR_RETURN(out[present[i]], sub::decode_storage(md, "SubtensorModule", present[i], raws[i]));
    }
    return out;
  }

  Result<std::vector<sub::json>> decoded_many(const std::string& entry, const std::vector<sub::Bytes>& keys, const sub::Bytes& at) {
    TESSERA_ASSIGN_OR_RETURN(auto raws, client_->storage_many(keys, at));
    std::vector<sub::json> out;
    for (const auto& r : raws) {
      TESSERA_ASSIGN_OR_RETURN(auto v, sub::decode_storage(client_->metadata(), "SubtensorModule", entry, r));
      out.push_back(std::move(v));
    }
    return out;
  }

  // Runtimes without the call say so by its name; where it exists, subtensor's commit
  // hash (over the account, netuid, uids, values, a u16 salt and the version key) differs
  // from Tessera's and is not mapped yet.
  Status commit_reveal_missing(const std::string& call) const {
    if (!client_->metadata().call("SubtensorModule", call).ok())
      return FailedPrecondition("this runtime has no SubtensorModule." + call +
                                ": run the subnet with commit_reveal off in its run spec ([validator] commit_reveal = false)");
    return not_yet(call);
  }

  Result<std::string> designated(std::uint32_t netuid) const {
    auto it = aggregators_.find(netuid);
    if (it == aggregators_.end())
      return FailedPrecondition("subtensor keeps no checkpoint aggregator for subnet " + std::to_string(netuid) +
                                ": name the one its owner designated with --aggregator HOTKEY");
    return it->second;
  }

  Status not_yet(const std::string& what) const {
    return FailedPrecondition(what + " on a subtensor chain (" + client_->rpc().url() +
                              ") is not supported yet: wallets (balance, transfer) are; the roles' calls are mapped in "
                              "docs/chain.md's next step");
  }
  std::unique_ptr<sub::SubstrateClient> client_;
  std::unique_ptr<EndpointInfoService> endpoint_service_;
  std::string endpoint_host_;
  struct CachedEndpoint {
    std::optional<EndpointRecord> record;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, CachedEndpoint> endpoints_;
  std::map<std::uint32_t, std::string> aggregators_;  // netuid → the designated aggregator's raw hotkey
};

}  // namespace

bool is_subtensor_address(const std::string& address) {
  return address.rfind("ws://", 0) == 0 || address.rfind("wss://", 0) == 0;
}

Result<std::unique_ptr<ChainClient>> connect_subtensor_chain(const std::string& url, std::chrono::milliseconds timeout) {
  sub::RpcOptions options;
  options.connect_timeout = timeout;
  auto client = sub::SubstrateClient::connect(url, options);
  if (!client.ok()) return client.status().with_context("connecting to the subtensor node at " + url);
  return std::unique_ptr<ChainClient>(new SubtensorChain(std::move(*client)));
}

Result<std::unique_ptr<ChainClient>> connect_chain(const std::string& address, std::chrono::milliseconds timeout) {
  if (is_subtensor_address(address)) return connect_subtensor_chain(address, std::max(timeout, std::chrono::milliseconds(10'000)));
  return connect_embedded_chain(address, timeout);
}

}  // namespace tessera::chain
