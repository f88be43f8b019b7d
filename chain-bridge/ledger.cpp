#include "chain-bridge/ledger.h"

#include <algorithm>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/archive.h"
#include "core/run_spec.h"
#include "core/schedule.h"

namespace tessera::chain {

namespace {
constexpr std::size_t kKeptCheckpoints = 256;
constexpr std::string_view kExtrinsicDomain{"tessera-extrinsic/1\0", 20};

std::string tao(std::uint64_t rao) {
  std::ostringstream out;
  out << rao / kRaoPerTao << '.';
  const std::string frac = std::to_string(rao % kRaoPerTao);
  out << std::string(9 - frac.size(), '0') << frac;
  std::string s = out.str();
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + " TAO";
}

Status check_key(const std::string& k, const char* what) {
  if (k.size() != 32) return InvalidArgument(std::string(what) + " must be a 32-byte ed25519 public key");
  return Status::Ok();
}
}  // namespace

Key key_of(const PublicKey& k) { return raw_bytes(k); }

std::string short_key(const Key& k) {
  return to_hex(std::string_view(k).substr(0, 4));
}

int SubnetState::uid_of(const Key& hotkey) const {
  for (std::size_t i = 0; i < neurons.size(); ++i) {
    if (neurons[i].hotkey == hotkey) return static_cast<int>(i);
  }
  return -1;
}

// ---- genesis -------------------------------------------------------------------------

std::string Genesis::to_json() const {
  nlohmann::json j;
  j["chain_name"] = chain_name;
  j["subnet_lock_cost_rao"] = subnet_lock_cost;
  j["balances"] = nlohmann::json::array();
  auto sorted = balances;
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [k, v] : sorted) {
    j["balances"].push_back({{"account", to_hex(std::string_view(k))},
                             {"rao", v}});
  }
  return j.dump(2);
}

Result<Genesis> Genesis::from_json(const std::string& text) {
  Genesis g;
  try {
    const auto j = nlohmann::json::parse(text);
    g.chain_name = j.value("chain_name", g.chain_name);
    g.subnet_lock_cost = j.value("subnet_lock_cost_rao", g.subnet_lock_cost);
    for (const auto& b : j.at("balances")) {
      TESSERA_ASSIGN_OR_RETURN(std::string raw, from_hex(b.at("account").get<std::string>()));
      if (raw.size() != 32) return InvalidArgument("genesis account " + b.at("account").get<std::string>() + " is not 32 bytes");
      g.balances.push_back({raw, b.at("rao").get<std::uint64_t>()});
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("genesis: ") + e.what());
  }
  return g;
}

std::string Genesis::id() const {
  const Hash256 h = blake2b_256(to_json());
  return to_hex(h);
}

Ledger Ledger::from_genesis(const Genesis& genesis) {
  Ledger l;
  l.state_.chain_id = genesis.id();
  l.state_.subnet_lock_cost = genesis.subnet_lock_cost;
  for (const auto& [k, v] : genesis.balances) {
    l.state_.accounts[k].balance += v;
    l.state_.total_issuance += v;
  }
  return l;
}

// ---- serialisation -------------------------------------------------------------------

std::string Ledger::serialize() const { return to_archive(state_); }

Result<Ledger> Ledger::deserialize(const std::string& bytes) {
  Ledger l;
  TESSERA_RETURN_IF_ERROR(from_archive(bytes, &l.state_, "ledger snapshot"));
  return l;
}

Hash256 Ledger::state_hash() const { return blake2b_256(serialize()); }

std::uint64_t Ledger::accounted_total() const {
  std::uint64_t total = state_.burned;
  for (const auto& [k, a] : state_.accounts) total += a.balance;
  for (const auto& [id, s] : state_.subnets) {
    total += s.locked + s.pending_emission;
    for (const auto& n : s.neurons) total += n.stake;
  }
  return total;
}

const Account* Ledger::account(const Key& k) const {
  auto it = state_.accounts.find(k);
  return it == state_.accounts.end() ? nullptr : &it->second;
}

std::uint64_t Ledger::balance_of(const Key& k) const {
  const Account* a = account(k);
  return a ? a->balance : 0;
}

const SubnetState* Ledger::subnet(std::uint32_t netuid) const {
  auto it = state_.subnets.find(netuid);
  return it == state_.subnets.end() ? nullptr : &it->second;
}

Result<SubnetState*> Ledger::find_subnet(std::uint32_t netuid) {
  auto it = state_.subnets.find(netuid);
  if (it == state_.subnets.end()) return NotFound("unknown subnet " + std::to_string(netuid));
  return &it->second;
}

// ---- extrinsics ----------------------------------------------------------------------

std::string extrinsic_signing_bytes(const std::string& body) { return std::string(kExtrinsicDomain) + body; }

proto::Extrinsic make_extrinsic(const Keypair& signer, const std::string& chain_id, std::uint64_t nonce,
                                const proto::Call& call) {
  proto::ExtrinsicBody body;
  body.set_chain_id(chain_id);
  body.set_signer(key_of(signer.public_key()));
  body.set_nonce(nonce);
  *body.mutable_call() = call;
  proto::Extrinsic ex;
  body.SerializeToString(ex.mutable_body());
  const Signature sig = signer.sign(extrinsic_signing_bytes(ex.body()));
  ex.set_signature(raw_bytes(sig));
  return ex;
}

Result<std::string> Ledger::apply(const proto::Extrinsic& ex, std::uint64_t block) {
  if (ex.body().size() > (1u << 20)) return InvalidArgument("extrinsic body exceeds 1 MiB");
  proto::ExtrinsicBody body;
  if (!body.ParseFromString(ex.body())) return InvalidArgument("extrinsic body is not a valid ExtrinsicBody");
  TESSERA_RETURN_IF_ERROR(check_key(body.signer(), "signer"));
  if (ex.signature().size() != 64) return InvalidArgument("signature must be 64 bytes");
  PublicKey pk;
  std::copy(body.signer().begin(), body.signer().end(), pk.begin());
  Signature sig;
  std::copy(ex.signature().begin(), ex.signature().end(), sig.begin());
  if (!verify_signature(pk, extrinsic_signing_bytes(ex.body()), sig)) {
    return PermissionDenied("bad signature for signer " + short_key(body.signer()));
  }
  if (body.chain_id() != state_.chain_id) {
    return InvalidArgument("extrinsic is for chain " + body.chain_id().substr(0, 16) + "…, this is " +
                           state_.chain_id.substr(0, 16) + "…");
  }
  const Account* acc = account(body.signer());
  const std::uint64_t expected = acc ? acc->nonce : 0;
  if (body.nonce() != expected) {
    return InvalidArgument("wrong nonce " + std::to_string(body.nonce()) + " (expected " + std::to_string(expected) + ")");
  }
  TESSERA_ASSIGN_OR_RETURN(std::string result, dispatch(body.signer(), body.call(), block));
  state_.accounts[body.signer()].nonce = expected + 1;
  return result;
}

Result<std::string> Ledger::dispatch(const Key& signer, const proto::Call& call, std::uint64_t block) {
  switch (call.call_case()) {
    case proto::Call::kTransfer: return transfer(signer, call.transfer());
    case proto::Call::kCreateSubnet: return create_subnet(signer, call.create_subnet(), block);
    case proto::Call::kSetSubnetParams: return set_subnet_params(signer, call.set_subnet_params());
    case proto::Call::kRegister: return register_hotkey(signer, call.register_(), block);
    case proto::Call::kServe: return serve(signer, call.serve());
    case proto::Call::kSetWeights:
      return set_weights(signer, call.set_weights().netuid(), call.set_weights().uids(), call.set_weights().values(),
                         block, false);
    case proto::Call::kCommitWeights: return commit_weights(signer, call.commit_weights(), block);
    case proto::Call::kRevealWeights: return reveal_weights(signer, call.reveal_weights(), block);
    case proto::Call::kAnnounceCheckpoint: return announce(signer, call.announce_checkpoint(), block);
    case proto::Call::kAddStake: return add_stake(signer, call.add_stake());
    case proto::Call::CALL_NOT_SET: break;
  }
  return InvalidArgument("extrinsic carries no call");
}

Result<std::string> Ledger::transfer(const Key& signer, const proto::Transfer& c) {
  TESSERA_RETURN_IF_ERROR(check_key(c.to(), "transfer destination"));
  if (c.amount() == 0) return InvalidArgument("transfer amount must be positive");
  const std::uint64_t have = balance_of(signer);
  if (have < c.amount()) {
    return FailedPrecondition("insufficient balance: " + tao(have) + " available, transfer of " + tao(c.amount()));
  }
  state_.accounts[signer].balance -= c.amount();
  state_.accounts[c.to()].balance += c.amount();
  return std::string("ok");
}

namespace {
// Applies the non-zero fields of `p` (booleans and the aggregator always) to `h`.
Status merge_params(const proto::SubnetParams& p, SubnetHyper* h) {
  if (p.tempo()) h->tempo = p.tempo();
  if (p.kappa_u16()) h->kappa_u16 = p.kappa_u16();
  if (p.bonds_moving_average()) h->bonds_moving_average = p.bonds_moving_average();
  if (p.max_uids()) h->max_uids = p.max_uids();
  if (p.immunity_period()) h->immunity_period = p.immunity_period();
  if (p.weights_rate_limit()) h->weights_rate_limit = p.weights_rate_limit();
  h->commit_reveal = p.commit_reveal();
  if (p.reveal_delay()) h->reveal_delay = p.reveal_delay();
  if (p.reveal_window()) h->reveal_window = p.reveal_window();
  if (p.registration_burn()) h->registration_burn = p.registration_burn();
  if (p.max_validators()) h->max_validators = p.max_validators();
  h->yuma3 = p.yuma3() || h->yuma3;
  if (p.emission_per_block()) h->emission_per_block = p.emission_per_block();
  if (p.owner_cut_ppm()) h->owner_cut_ppm = p.owner_cut_ppm();
  if (!p.aggregator_hotkey().empty()) {
    TESSERA_RETURN_IF_ERROR(check_key(p.aggregator_hotkey(), "aggregator_hotkey"));
    h->aggregator_hotkey = p.aggregator_hotkey();
  }
  if (p.bonds_penalty_u16()) h->bonds_penalty_u16 = p.bonds_penalty_u16();
  h->liquid_alpha = p.liquid_alpha();
  if (h->tempo > 65535) return InvalidArgument("tempo must be <= 65535");
  if (h->kappa_u16 > 65535 || h->bonds_penalty_u16 > 65535) return InvalidArgument("u16 parameters must be <= 65535");
  if (h->bonds_moving_average > 1000000) return InvalidArgument("bonds_moving_average is per million, <= 1000000");
  if (h->owner_cut_ppm > 1000000) return InvalidArgument("owner_cut_ppm must be <= 1000000");
  if (h->max_uids == 0 || h->max_uids > 4096) return InvalidArgument("max_uids must be in [1, 4096]");
  if (h->max_validators == 0) return InvalidArgument("max_validators must be >= 1");
  return Status::Ok();
}
}  // namespace

Result<std::string> Ledger::create_subnet(const Key& signer, const proto::CreateSubnet& c, std::uint64_t block) {
  if (c.spec_toml().size() > 64 * 1024) return InvalidArgument("run spec exceeds 64 KiB");
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, parse_run_spec(c.spec_toml(), "subnet spec"));
  SubnetHyper h;
  h.tempo = static_cast<std::uint32_t>(spec.schedule.tempo);
  h.emission_per_block = static_cast<std::uint64_t>(std::llround(spec.emission.tao_per_block * kRaoPerTao));
  h.owner_cut_ppm = static_cast<std::uint32_t>(std::llround(spec.emission.owner_share * 1e6));
  TESSERA_RETURN_IF_ERROR(merge_params(c.params(), &h));
  const std::uint64_t have = balance_of(signer);
  if (have < state_.subnet_lock_cost) {
    return FailedPrecondition("insufficient balance: creating a subnet locks " + tao(state_.subnet_lock_cost) + ", " +
                              tao(have) + " available");
  }
  state_.accounts[signer].balance -= state_.subnet_lock_cost;
  SubnetState s;
  s.netuid = state_.next_netuid++;
  s.owner = signer;
  s.hyper = h;
  s.spec_toml = c.spec_toml();
  s.spec_hash = raw_bytes(blake2b_256(c.spec_toml()));
  s.locked = state_.subnet_lock_cost;
  s.last_epoch_block = block;
  const auto netuid = s.netuid;
  state_.subnets.emplace(netuid, std::move(s));
  return "netuid " + std::to_string(netuid);
}

Result<std::string> Ledger::set_subnet_params(const Key& signer, const proto::SetSubnetParams& c) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(c.netuid()));
  if (s->owner != signer) return PermissionDenied("only the owner of subnet " + std::to_string(c.netuid()) + " may change it");
  SubnetHyper h = s->hyper;
  TESSERA_RETURN_IF_ERROR(merge_params(c.params(), &h));
  if (h.max_uids < s->neurons.size()) return InvalidArgument("max_uids below the number of registered uids");
  s->hyper = h;
  return std::string("ok");
}

Result<std::string> Ledger::register_hotkey(const Key& signer, const proto::Register& c, std::uint64_t block) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(c.netuid()));
  TESSERA_RETURN_IF_ERROR(check_key(c.hotkey(), "hotkey"));
  if (s->uid_of(c.hotkey()) >= 0) {
    return AlreadyExists("hotkey " + short_key(c.hotkey()) + " is already registered on subnet " +
                         std::to_string(c.netuid()) + " as uid " + std::to_string(s->uid_of(c.hotkey())));
  }
  const std::uint64_t have = balance_of(signer);
  if (have < s->hyper.registration_burn) {
    return FailedPrecondition("insufficient balance: registration burns " + tao(s->hyper.registration_burn) + ", " +
                              tao(have) + " available");
  }
  std::size_t uid = s->neurons.size();
  if (s->neurons.size() >= s->hyper.max_uids) {
    // Replace the non-immune uid with the lowest emission (ties: oldest, then lowest uid).
    int victim = -1;
    for (std::size_t i = 0; i < s->neurons.size(); ++i) {
      const auto& n = s->neurons[i];
      if (block - n.registration_block < s->hyper.immunity_period) continue;
      if (victim < 0) {
        victim = static_cast<int>(i);
        continue;
      }
      const auto& v = s->neurons[static_cast<std::size_t>(victim)];
      if (n.last_emission < v.last_emission ||
          (n.last_emission == v.last_emission && n.registration_block < v.registration_block)) {
        victim = static_cast<int>(i);
      }
    }
    if (victim < 0) {
      return FailedPrecondition("subnet " + std::to_string(c.netuid()) + " is full (" +
                                std::to_string(s->hyper.max_uids) + " uids) and every uid is still immune");
    }
    uid = static_cast<std::size_t>(victim);
    NeuronState& old = s->neurons[uid];
    state_.accounts[old.coldkey].balance += old.stake;  // the replaced neuron's stake goes home
    s->commits.erase(old.hotkey);
    for (auto& n : s->neurons) {
      std::erase_if(n.bonds, [uid](const auto& e) { return e.first == uid; });
    }
  }
  state_.accounts[signer].balance -= s->hyper.registration_burn;
  state_.burned += s->hyper.registration_burn;
  NeuronState n;
  n.hotkey = c.hotkey();
  n.coldkey = signer;
  n.registration_block = block;
  n.last_update = block;
  if (uid == s->neurons.size()) {
    s->neurons.push_back(std::move(n));
  } else {
    s->neurons[uid] = std::move(n);
  }
  return "uid " + std::to_string(uid);
}

Result<std::string> Ledger::serve(const Key& signer, const proto::ServeEndpoint& c) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(c.netuid()));
  const int uid = s->uid_of(signer);
  if (uid < 0) return NotFound("hotkey " + short_key(signer) + " is not registered on subnet " + std::to_string(c.netuid()));
  if (c.address().empty() || c.address().size() > 256) return InvalidArgument("endpoint address must be 1..256 characters");
  if (!c.curve_public_key().empty() && c.curve_public_key().size() != 32) {
    return InvalidArgument("CURVE public key must be 32 bytes");
  }
  auto& n = s->neurons[static_cast<std::size_t>(uid)];
  n.address = c.address();
  n.curve_key = c.curve_public_key();
  return "uid " + std::to_string(uid);
}

Result<std::string> Ledger::set_weights(const Key& signer, std::uint32_t netuid,
                                        const google::protobuf::RepeatedField<std::uint32_t>& uids,
                                        const google::protobuf::RepeatedField<std::uint32_t>& values, std::uint64_t block,
                                        bool from_reveal) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(netuid));
  const int uid = s->uid_of(signer);
  if (uid < 0) return NotFound("hotkey " + short_key(signer) + " is not registered on subnet " + std::to_string(netuid));
  if (s->hyper.commit_reveal && !from_reveal) {
    return FailedPrecondition("subnet " + std::to_string(netuid) + " uses commit-reveal: commit, then reveal the weights");
  }
  auto& me = s->neurons[static_cast<std::size_t>(uid)];
  if (!from_reveal && me.last_update != me.registration_block && block - me.last_update < s->hyper.weights_rate_limit) {
    return FailedPrecondition("weights rate-limited: last set at block " + std::to_string(me.last_update) +
                              ", next allowed at block " + std::to_string(me.last_update + s->hyper.weights_rate_limit));
  }
  if (uids.size() != values.size()) return InvalidArgument("weights: uids and values differ in length");
  if (uids.size() == 0) return InvalidArgument("weights: empty vector");
  std::set<std::uint32_t> seen;
  std::vector<std::uint16_t> raw;
  for (int i = 0; i < uids.size(); ++i) {
    if (uids[i] >= s->neurons.size()) {
      return InvalidArgument("weights: uid " + std::to_string(uids[i]) + " does not exist (subnet has " +
                             std::to_string(s->neurons.size()) + ")");
    }
    if (!seen.insert(uids[i]).second) return InvalidArgument("weights: uid " + std::to_string(uids[i]) + " repeated");
    if (values[i] > 65535) return InvalidArgument("weights: value " + std::to_string(values[i]) + " exceeds u16");
    raw.push_back(static_cast<std::uint16_t>(values[i]));
  }
  const auto scaled = vec_u16_max_upscale_to_u16(raw);
  me.weights.clear();
  for (int i = 0; i < uids.size(); ++i) me.weights.push_back({uids[i], scaled[static_cast<std::size_t>(i)]});
  std::sort(me.weights.begin(), me.weights.end());
  me.last_update = block;
  return "uid " + std::to_string(uid);
}

std::string weights_commit_hash(const Key& hotkey, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                                const std::vector<std::uint32_t>& values, const std::string& salt,
                                std::uint64_t version_key) {
  Blake2b256 h;
  h.update("tessera-weights-commit/1");
  h.update(hotkey);
  h.update_u64(netuid);
  h.update_u64(uids.size());
  for (auto u : uids) h.update_u64(u);
  h.update_u64(values.size());
  for (auto v : values) h.update_u64(v);
  h.update_u64(salt.size());
  h.update(salt);
  h.update_u64(version_key);
  return raw_bytes(h.finish());
}

Result<std::string> Ledger::commit_weights(const Key& signer, const proto::CommitWeights& c, std::uint64_t block) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(c.netuid()));
  if (!s->hyper.commit_reveal) return FailedPrecondition("subnet " + std::to_string(c.netuid()) + " does not use commit-reveal");
  const int uid = s->uid_of(signer);
  if (uid < 0) return NotFound("hotkey " + short_key(signer) + " is not registered on subnet " + std::to_string(c.netuid()));
  if (c.commit_hash().size() != 32) return InvalidArgument("commit hash must be 32 bytes");
  auto it = s->commits.find(signer);
  if (it != s->commits.end() && block - it->second.block < s->hyper.weights_rate_limit) {
    return FailedPrecondition("weights rate-limited: committed at block " + std::to_string(it->second.block));
  }
  s->commits[signer] = {c.commit_hash(), block};
  return "uid " + std::to_string(uid);
}

Result<std::string> Ledger::reveal_weights(const Key& signer, const proto::RevealWeights& c, std::uint64_t block) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(c.netuid()));
  auto it = s->commits.find(signer);
  if (it == s->commits.end()) return NotFound("no weight commit to reveal for hotkey " + short_key(signer));
  const std::uint64_t open = it->second.block + s->hyper.reveal_delay;
  if (block < open) return FailedPrecondition("reveal too early: allowed from block " + std::to_string(open));
  if (block > open + s->hyper.reveal_window) {
    s->commits.erase(it);
    return FailedPrecondition("reveal too late: the commit expired at block " + std::to_string(open + s->hyper.reveal_window));
  }
  const std::vector<std::uint32_t> uids(c.uids().begin(), c.uids().end()), values(c.values().begin(), c.values().end());
  if (weights_commit_hash(signer, c.netuid(), uids, values, c.salt(), c.version_key()) != it->second.hash) {
    return InvalidArgument("revealed weights do not match the commit");
  }
  TESSERA_ASSIGN_OR_RETURN(std::string r, set_weights(signer, c.netuid(), c.uids(), c.values(), block, true));
  s->commits.erase(signer);
  return r;
}

Result<std::string> Ledger::announce(const Key& signer, const proto::AnnounceCheckpoint& c, std::uint64_t block) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(c.netuid()));
  if (signer != s->owner && signer != s->hyper.aggregator_hotkey) {
    return PermissionDenied("only the subnet owner or its aggregator may announce checkpoints");
  }
  if (c.hash().size() != 32) return InvalidArgument("checkpoint hash must be 32 bytes");
  if (c.address().size() > 256) return InvalidArgument("checkpoint address exceeds 256 characters");
  if (!s->checkpoints.empty() && c.window() <= s->checkpoints.rbegin()->first) {
    return InvalidArgument("checkpoint window " + std::to_string(c.window()) + " is not after the last announced (" +
                           std::to_string(s->checkpoints.rbegin()->first) + ")");
  }
  s->checkpoints[c.window()] = {c.window(), c.hash(), c.address(), signer, block};
  while (s->checkpoints.size() > kKeptCheckpoints) s->checkpoints.erase(s->checkpoints.begin());
  return "window " + std::to_string(c.window());
}

Result<std::string> Ledger::add_stake(const Key& signer, const proto::AddStake& c) {
  TESSERA_ASSIGN_OR_RETURN(SubnetState * s, find_subnet(c.netuid()));
  const int uid = s->uid_of(c.hotkey());
  if (uid < 0) return NotFound("hotkey " + short_key(c.hotkey()) + " is not registered on subnet " + std::to_string(c.netuid()));
  auto& n = s->neurons[static_cast<std::size_t>(uid)];
  if (n.coldkey != signer) return PermissionDenied("only the coldkey that registered the hotkey may stake to it");
  if (c.amount() == 0) return InvalidArgument("stake amount must be positive");
  const std::uint64_t have = balance_of(signer);
  if (have < c.amount()) return FailedPrecondition("insufficient balance: " + tao(have) + " available, stake of " + tao(c.amount()));
  state_.accounts[signer].balance -= c.amount();
  n.stake += c.amount();
  return "uid " + std::to_string(uid);
}

// ---- blocks --------------------------------------------------------------------------

void Ledger::end_block(std::uint64_t block) {
  for (auto& [netuid, s] : state_.subnets) {
    s.pending_emission += s.hyper.emission_per_block;
    state_.total_issuance += s.hyper.emission_per_block;
    if (EpochSchedule{static_cast<std::uint16_t>(netuid), static_cast<std::uint16_t>(s.hyper.tempo)}.is_epoch_block(block)) {
      run_epoch_for(s, block);
    }
  }
}

void Ledger::run_epoch_for(SubnetState& s, std::uint64_t block) {
  s.last_epoch_block = block;
  const std::uint64_t pending = s.pending_emission;
  const auto owner_cut =
      static_cast<std::uint64_t>((static_cast<unsigned __int128>(pending) * s.hyper.owner_cut_ppm) / 1000000u);
  std::uint64_t paid = owner_cut;
  state_.accounts[s.owner].balance += owner_cut;
  if (!s.neurons.empty()) {
    YumaParams p;
    p.kappa_u16 = static_cast<std::uint16_t>(s.hyper.kappa_u16);
    p.bonds_moving_average = s.hyper.bonds_moving_average;
    p.bonds_penalty_u16 = static_cast<std::uint16_t>(s.hyper.bonds_penalty_u16);
    p.yuma3 = s.hyper.yuma3;
    p.liquid_alpha = s.hyper.liquid_alpha;
    p.max_allowed_validators = s.hyper.max_validators;
    p.tempo = s.hyper.tempo;
    p.activity_cutoff_blocks = YumaParams::activity_cutoff_for_tempo(s.hyper.tempo);
    p.rao_emission = pending - owner_cut;
    YumaInputs in;
    in.current_block = block;
    for (const auto& n : s.neurons) {
      in.stake.push_back(n.stake);
      in.validator_permit.push_back(n.validator_permit);
      in.last_update.push_back(n.last_update);
      in.block_at_registration.push_back(n.registration_block);
      in.weights.push_back(n.weights);
      in.bonds.push_back(n.bonds);
    }
    const YumaOutputs out = run_epoch(p, in);
    const auto consensus = YumaOutputs::to_u16(out.consensus), incentive = YumaOutputs::to_u16(out.incentive),
               dividends = YumaOutputs::to_u16(out.dividends), trust = YumaOutputs::to_u16(out.validator_trust);
    for (std::size_t i = 0; i < s.neurons.size(); ++i) {
      auto& n = s.neurons[i];
      const std::uint64_t amount = out.server_emission[i] + out.validator_emission[i];
      n.consensus = consensus[i];
      n.incentive = incentive[i];
      n.dividends = dividends[i];
      n.trust = trust[i];
      n.validator_permit = out.new_validator_permit[i];
      n.bonds = out.bonds[i];
      n.last_emission = amount;
      n.total_earned += amount;
      state_.accounts[n.hotkey].balance += amount;
      paid += amount;
    }
  }
  // Whatever truncation left over stays pending for the next epoch.
  s.pending_emission = pending - std::min(paid, pending);
}

Hash256 block_hash(const proto::Block& block) {
  Blake2b256 h;
  h.update("tessera-block/1");
  h.update_u64(block.height());
  h.update(block.parent_hash());
  h.update_u64(block.timestamp_ms());
  h.update_u64(static_cast<std::uint64_t>(block.extrinsics_size()));
  for (const auto& ex : block.extrinsics()) {
    Blake2b256 e;
    e.update(ex.body());
    e.update(ex.signature());
    const Hash256 eh = e.finish();
    h.update(std::span<const std::uint8_t>(eh.data(), eh.size()));
  }
  h.update(block.state_hash());
  return h.finish();
}

}  // namespace tessera::chain
