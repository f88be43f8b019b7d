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
#include "core/json_fields.h"
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

// a + b, or an error naming what would overflow.
Result<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b, const std::string& what) {
  std::uint64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return OutOfRange(what + " would overflow");
  return sum;
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
  if (rules.version >= 2) {  // version 1 genesis files keep their JSON, and so their chain id
    j["rules_version"] = rules.version;
    j["emission_rao_per_block"] = rules.emission_per_block;
    j["max_owner_cut_ppm"] = rules.max_owner_cut_ppm;
    if (rules.stake_threshold != 0) j["stake_threshold_rao"] = rules.stake_threshold;
  }
  j["balances"] = nlohmann::json::array();
  auto sorted = balances;
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [k, v] : sorted) {
    j["balances"].push_back({{"account", to_hex(std::string_view(k))},
                             {"rao", v}});
  }
  return j.dump(2);
}

namespace {

// `key` of `j` into `*out` when present (else `*out` is left as it is): only a
// non-negative JSON integer that fits is a count of rao or a version (json_unsigned).
template <typename T>
Status read_unsigned(const nlohmann::json& j, const std::string& key, T* out) {
  if (!j.contains(key)) return Status::Ok();
  const auto n = json_unsigned<T>(j.at(key));
  if (!n) return InvalidArgument("genesis: " + key + " is " + j.at(key).dump().substr(0, 40) + ", not a non-negative integer that fits");
  *out = *n;
  return Status::Ok();
}

}  // namespace

Result<Genesis> Genesis::from_json(const std::string& text) {
  Genesis g;
  try {
    const auto j = nlohmann::json::parse(text);
    if (!j.is_object()) return InvalidArgument("genesis: not a JSON object");
    g.chain_name = j.value("chain_name", g.chain_name);
    TESSERA_RETURN_IF_ERROR(read_unsigned(j, "subnet_lock_cost_rao", &g.subnet_lock_cost));
    if (j.contains("rules_version")) {
      TESSERA_RETURN_IF_ERROR(read_unsigned(j, "rules_version", &g.rules.version));
      TESSERA_RETURN_IF_ERROR(read_unsigned(j, "emission_rao_per_block", &g.rules.emission_per_block));
      TESSERA_RETURN_IF_ERROR(read_unsigned(j, "max_owner_cut_ppm", &g.rules.max_owner_cut_ppm));
      TESSERA_RETURN_IF_ERROR(read_unsigned(j, "stake_threshold_rao", &g.rules.stake_threshold));
    } else {
      g.rules = ChainRules{1, 0, 1000000};
    }
    std::uint64_t total = 0;
    for (const auto& b : j.at("balances")) {
      TESSERA_ASSIGN_OR_RETURN(std::string raw, from_hex(b.at("account").get<std::string>()));
      if (raw.size() != 32) return InvalidArgument("genesis account " + b.at("account").get<std::string>() + " is not 32 bytes");
      std::uint64_t rao = 0;
      if (!b.contains("rao")) return InvalidArgument("genesis: balance of " + b.at("account").get<std::string>() + " has no rao");
      TESSERA_RETURN_IF_ERROR(read_unsigned(b, "rao", &rao));
      if (__builtin_add_overflow(total, rao, &total)) return InvalidArgument("genesis balances overflow 64 bits");
      g.balances.push_back({raw, rao});
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("genesis: ") + e.what());
  }
  TESSERA_RETURN_IF_ERROR(g.validate());
  return g;
}

Status Genesis::validate() const {
  if (rules.version != 1 && rules.version != 2) {
    return InvalidArgument("genesis rules_version " + std::to_string(rules.version) + ": this build knows 1 and 2");
  }
  if (rules.emission_per_block > kMaxEmissionPerBlock) {
    return InvalidArgument("genesis emission_rao_per_block " + std::to_string(rules.emission_per_block) + " exceeds " +
                           std::to_string(kMaxEmissionPerBlock));
  }
  if (rules.max_owner_cut_ppm > 1000000) return InvalidArgument("genesis max_owner_cut_ppm must be <= 1000000");
  return Status::Ok();
}

std::string Genesis::id() const {
  const Hash256 h = blake2b_256(to_json());
  return to_hex(h);
}

Ledger Ledger::from_genesis(const Genesis& genesis) {
  Ledger l;
  l.state_.chain_id = genesis.id();
  l.state_.subnet_lock_cost = genesis.subnet_lock_cost;
  l.state_.rules = genesis.rules;
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
                         block, false, call.set_weights().version_key());
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
  if (c.to() != signer) {
    TESSERA_RETURN_IF_ERROR(checked_add(balance_of(c.to()), c.amount(), "the destination's balance").status());
  }
  state_.accounts[signer].balance -= c.amount();
  state_.accounts[c.to()].balance += c.amount();
  return std::string("ok");
}

namespace {
// Applies the fields of `p` that are set (non-zero numbers, present switches, a non-empty
// aggregator) to `h`, then checks the result. `max_owner_cut_ppm` is the chain's limit.
Status merge_params(const proto::SubnetParams& p, std::uint32_t max_owner_cut_ppm, SubnetHyper* h) {
  if (p.tempo()) h->tempo = p.tempo();
  if (p.kappa_u16()) h->kappa_u16 = p.kappa_u16();
  if (p.bonds_moving_average()) h->bonds_moving_average = p.bonds_moving_average();
  if (p.max_uids()) h->max_uids = p.max_uids();
  if (p.immunity_period()) h->immunity_period = p.immunity_period();
  if (p.weights_rate_limit()) h->weights_rate_limit = p.weights_rate_limit();
  if (p.has_commit_reveal()) h->commit_reveal = p.commit_reveal();
  if (p.reveal_delay()) h->reveal_delay = p.reveal_delay();
  if (p.reveal_window()) h->reveal_window = p.reveal_window();
  if (p.registration_burn()) h->registration_burn = p.registration_burn();
  if (p.max_validators()) h->max_validators = p.max_validators();
  if (p.has_yuma3()) h->yuma3 = p.yuma3();
  if (p.emission_per_block()) h->emission_per_block = p.emission_per_block();
  if (p.owner_cut_ppm()) h->owner_cut_ppm = p.owner_cut_ppm();
  if (!p.aggregator_hotkey().empty()) {
    TESSERA_RETURN_IF_ERROR(check_key(p.aggregator_hotkey(), "aggregator_hotkey"));
    h->aggregator_hotkey = p.aggregator_hotkey();
  }
  if (p.bonds_penalty_u16()) h->bonds_penalty_u16 = p.bonds_penalty_u16();
  if (p.has_liquid_alpha()) h->liquid_alpha = p.liquid_alpha();
  if (p.miner_share_ppm()) h->miner_share_ppm = p.miner_share_ppm();
  if (p.version_key()) h->version_key = p.version_key();
  if (p.min_allowed_weights()) h->min_allowed_weights = p.min_allowed_weights();
  if (p.max_weight_limit_u16()) h->max_weight_limit_u16 = p.max_weight_limit_u16();
  if (p.alpha_low_u16()) h->alpha_low_u16 = p.alpha_low_u16();
  if (p.alpha_high_u16()) h->alpha_high_u16 = p.alpha_high_u16();
  if (p.has_alpha_steepness()) h->alpha_steepness = p.alpha_steepness();
  if (h->tempo > 65535) return InvalidArgument("tempo must be <= 65535");
  if (h->kappa_u16 > 65535 || h->bonds_penalty_u16 > 65535 || h->max_weight_limit_u16 > 65535) {
    return InvalidArgument("u16 parameters must be <= 65535");
  }
  // subtensor's bounds (do_set_alpha_values): both at least 65535/40, low at most high.
  if (h->alpha_high_u16 > 65535 || h->alpha_high_u16 < 1638 || h->alpha_low_u16 < 1638 ||
      h->alpha_low_u16 > h->alpha_high_u16) {
    return InvalidArgument("liquid alpha needs 1638 <= alpha_low_u16 <= alpha_high_u16 <= 65535");
  }
  if (h->alpha_steepness < -32768 || h->alpha_steepness > 32767) return InvalidArgument("alpha_steepness must fit an i16");
  if (h->bonds_moving_average > 1000000) return InvalidArgument("bonds_moving_average is per million, <= 1000000");
  if (h->owner_cut_ppm > max_owner_cut_ppm) {
    return InvalidArgument("owner cut of " + std::to_string(h->owner_cut_ppm) + " ppm exceeds the chain's limit of " +
                           std::to_string(max_owner_cut_ppm) + " ppm");
  }
  if (h->miner_share_ppm > 1000000) return InvalidArgument("miner_share_ppm must be <= 1000000");
  if (h->max_uids == 0 || h->max_uids > 4096) return InvalidArgument("max_uids must be in [1, 4096]");
  if (h->max_validators == 0) return InvalidArgument("max_validators must be >= 1");
  if (h->min_allowed_weights > h->max_uids) return InvalidArgument("min_allowed_weights exceeds max_uids");
  return Status::Ok();
}
}  // namespace

Result<std::string> Ledger::create_subnet(const Key& signer, const proto::CreateSubnet& c, std::uint64_t block) {
  if (c.spec_toml().size() > 64 * 1024) return InvalidArgument("run spec exceeds 64 KiB");
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, parse_run_spec(c.spec_toml(), "subnet spec"));
  SubnetHyper h;
  h.tempo = static_cast<std::uint32_t>(spec.schedule.tempo);
  h.commit_reveal = spec.validator.commit_reveal;
  h.reveal_delay = static_cast<std::uint64_t>(spec.validator.reveal_delay);
  h.reveal_window = static_cast<std::uint64_t>(spec.validator.reveal_window);
  h.owner_cut_ppm = static_cast<std::uint32_t>(std::llround(spec.emission.owner_share * 1e6));
  if (state_.rules.version >= 2) {
    // The chain mints; the spec only splits what its subnet is given.
    h.emission_per_block = 0;
    const double to_participants = spec.emission.miner_share + spec.emission.validator_share;
    h.miner_share_ppm = to_participants > 0
                            ? static_cast<std::uint32_t>(std::llround(spec.emission.miner_share / to_participants * 1e6))
                            : 500000;
  } else {
    h.emission_per_block = static_cast<std::uint64_t>(std::llround(spec.emission.tao_per_block * kRaoPerTao));
  }
  TESSERA_RETURN_IF_ERROR(merge_params(c.params(), state_.rules.max_owner_cut_ppm, &h));
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
  TESSERA_RETURN_IF_ERROR(merge_params(c.params(), state_.rules.max_owner_cut_ppm, &h));
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
    TESSERA_ASSIGN_OR_RETURN(const std::uint64_t refunded,
                             checked_add(balance_of(old.coldkey), old.stake, "the replaced neuron's coldkey balance"));
    state_.accounts[old.coldkey].balance = refunded;  // the replaced neuron's stake goes home
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
  if (c.checkpoint_address().size() > 256) return InvalidArgument("checkpoint address must be at most 256 characters");
  auto& n = s->neurons[static_cast<std::size_t>(uid)];
  n.address = c.address();
  n.curve_key = c.curve_public_key();
  n.checkpoint_address = c.checkpoint_address();
  return "uid " + std::to_string(uid);
}

namespace {

// Subtensor's checks on a weight vector (chains of rules version 2): the version key, the
// validator permit (a vector that is not only a self-weight needs one), the minimum
// number of uids, and the largest share one uid may get.
Status check_weights_v2(const SubnetState& s, std::uint32_t setter,
                        const google::protobuf::RepeatedField<std::uint32_t>& uids,
                        const std::vector<std::uint16_t>& values, std::uint64_t version_key) {
  const SubnetHyper& h = s.hyper;
  if (version_key < h.version_key) {
    return InvalidArgument("weights: version key " + std::to_string(version_key) + " is below the subnet's " +
                           std::to_string(h.version_key));
  }
  const bool self_only = uids.size() == 1 && uids[0] == setter;
  if (!self_only && !s.neurons[setter].validator_permit) {
    return FailedPrecondition("weights: uid " + std::to_string(setter) +
                              " holds no validator permit (permits are granted by stake at each epoch)");
  }
  const std::size_t needed = std::min<std::size_t>(h.min_allowed_weights, s.neurons.size());
  if (!self_only && static_cast<std::size_t>(uids.size()) < needed) {
    return InvalidArgument("weights: " + std::to_string(uids.size()) + " uids, the subnet needs at least " +
                           std::to_string(needed));
  }
  if (h.max_weight_limit_u16 < 65535 && uids.size() > 1) {
    std::uint64_t total = 0, largest = 0;
    for (auto v : values) {
      total += v;
      largest = std::max<std::uint64_t>(largest, v);
    }
    // largest / total > limit / 65535, in integers.
    if (total > 0 && largest * 65535 > static_cast<std::uint64_t>(h.max_weight_limit_u16) * total) {
      return InvalidArgument("weights: one uid gets " + std::to_string(largest * 65535 / total) +
                             "/65535 of the vector, over the subnet's limit of " + std::to_string(h.max_weight_limit_u16));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> Ledger::set_weights(const Key& signer, std::uint32_t netuid,
                                        const google::protobuf::RepeatedField<std::uint32_t>& uids,
                                        const google::protobuf::RepeatedField<std::uint32_t>& values, std::uint64_t block,
                                        bool from_reveal, std::uint64_t version_key) {
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
  if (state_.rules.version >= 2) {
    TESSERA_RETURN_IF_ERROR(check_weights_v2(*s, static_cast<std::uint32_t>(uid), uids, raw, version_key));
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
    // Rejected, so nothing changes: the expired commit stays until a new commit replaces it.
    return FailedPrecondition("reveal too late: the commit expired at block " + std::to_string(open + s->hyper.reveal_window));
  }
  const std::vector<std::uint32_t> uids(c.uids().begin(), c.uids().end()), values(c.values().begin(), c.values().end());
  if (weights_commit_hash(signer, c.netuid(), uids, values, c.salt(), c.version_key()) != it->second.hash) {
    return InvalidArgument("revealed weights do not match the commit");
  }
  TESSERA_ASSIGN_OR_RETURN(std::string r, set_weights(signer, c.netuid(), c.uids(), c.values(), block, true, c.version_key()));
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
  TESSERA_ASSIGN_OR_RETURN(const std::uint64_t staked, checked_add(n.stake, c.amount(), "the hotkey's stake"));
  state_.accounts[signer].balance -= c.amount();
  n.stake = staked;
  return "uid " + std::to_string(uid);
}

// ---- blocks --------------------------------------------------------------------------

void Ledger::end_block(std::uint64_t block) {
  mint(block);
  for (auto& [netuid, s] : state_.subnets) {
    if (EpochSchedule{static_cast<std::uint16_t>(netuid), static_cast<std::uint16_t>(s.hyper.tempo)}.is_epoch_block(block)) {
      run_epoch_for(s, block);
    }
  }
}

// The block's emission into the subnets' pending pools. Version 2: the genesis amount,
// split equally among the subnets that have neurons (the remainder one rao each to the
// lowest netuids); version 1: each subnet's own amount. Nothing is minted once the next
// amount would overflow the issuance.
void Ledger::mint(std::uint64_t) {
  if (state_.rules.version < 2) {
    for (auto& [netuid, s] : state_.subnets) {
      std::uint64_t issuance = 0, pending = 0;
      if (__builtin_add_overflow(state_.total_issuance, s.hyper.emission_per_block, &issuance) ||
          __builtin_add_overflow(s.pending_emission, s.hyper.emission_per_block, &pending)) {
        continue;
      }
      s.pending_emission = pending;
      state_.total_issuance = issuance;
    }
    return;
  }
  std::vector<SubnetState*> active;
  for (auto& [netuid, s] : state_.subnets) {
    if (!s.neurons.empty()) active.push_back(&s);
  }
  const std::uint64_t total = state_.rules.emission_per_block;
  std::uint64_t issuance = 0;
  if (active.empty() || __builtin_add_overflow(state_.total_issuance, total, &issuance)) return;
  const std::uint64_t share = total / active.size(), rest = total % active.size();
  for (std::size_t i = 0; i < active.size(); ++i) active[i]->pending_emission += share + (i < rest ? 1 : 0);
  state_.total_issuance = issuance;
}

void Ledger::run_epoch_for(SubnetState& s, std::uint64_t block) {
  const std::uint64_t previous_epoch = s.last_epoch_block;
  s.last_epoch_block = block;
  const std::uint64_t pending = s.pending_emission;
  const auto owner_cut =
      static_cast<std::uint64_t>((static_cast<unsigned __int128>(pending) * s.hyper.owner_cut_ppm) / 1000000u);
  std::uint64_t paid = owner_cut;
  state_.accounts[s.owner].balance += owner_cut;
  if (!s.neurons.empty()) {
    const YumaOutputs out =
        run_epoch(epoch_params(s, previous_epoch, pending - owner_cut), epoch_inputs(s, block));
    const auto consensus = YumaOutputs::to_u16(out.consensus), incentive = YumaOutputs::to_u16(out.incentive),
               dividends = YumaOutputs::to_u16(out.dividends), trust = YumaOutputs::to_u16(out.validator_trust);
    const std::vector<std::uint64_t> amounts =
        state_.rules.version >= 2 ? split_emission(s, out, pending - owner_cut) : legacy_amounts(out);
    for (std::size_t i = 0; i < s.neurons.size(); ++i) {
      auto& n = s.neurons[i];
      n.consensus = consensus[i];
      n.incentive = incentive[i];
      n.dividends = dividends[i];
      n.trust = trust[i];
      n.validator_permit = out.new_validator_permit[i];
      n.bonds = out.bonds[i];
      n.last_emission = amounts[i];
      n.total_earned += amounts[i];
      state_.accounts[n.hotkey].balance += amounts[i];
      paid += amounts[i];
    }
  }
  // Whatever truncation left over stays pending for the next epoch.
  s.pending_emission = pending - std::min(paid, pending);
}

// Version 2 passes what subtensor's epoch reads: the owner's uid (the neuron whose hotkey
// is the owner's key), the chain's stake threshold, the previous epoch's block, the
// commit–reveal mask and the fixed-point liquid alpha. Version 1 chains keep the inputs
// their blocks were computed with.
YumaParams Ledger::epoch_params(const SubnetState& s, std::uint64_t previous_epoch, std::uint64_t emission) const {
  YumaParams p;
  p.kappa_u16 = static_cast<std::uint16_t>(s.hyper.kappa_u16);
  p.bonds_moving_average = s.hyper.bonds_moving_average;
  p.bonds_penalty_u16 = static_cast<std::uint16_t>(s.hyper.bonds_penalty_u16);
  p.yuma3 = s.hyper.yuma3;
  p.liquid_alpha = s.hyper.liquid_alpha;
  p.max_allowed_validators = s.hyper.max_validators;
  p.tempo = s.hyper.tempo;
  p.activity_cutoff_blocks = YumaParams::activity_cutoff_for_tempo(s.hyper.tempo);
  p.rao_emission = emission;
  if (state_.rules.version < 2) {
    p.legacy_float_sigmoid = true;
    return p;
  }
  p.alpha_low_u16 = static_cast<std::uint16_t>(s.hyper.alpha_low_u16);
  p.alpha_high_u16 = static_cast<std::uint16_t>(s.hyper.alpha_high_u16);
  p.alpha_steepness = static_cast<std::int16_t>(s.hyper.alpha_steepness);
  p.stake_threshold = state_.rules.stake_threshold;
  if (const int owner = s.uid_of(s.owner); owner >= 0) p.owner_uid = static_cast<std::uint32_t>(owner);
  p.last_mechanism_step_block = previous_epoch;
  p.commit_reveal = s.hyper.commit_reveal;
  return p;
}

YumaInputs Ledger::epoch_inputs(const SubnetState& s, std::uint64_t block) const {
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
  if (state_.rules.version >= 2 && s.hyper.commit_reveal) {
    // A commit is pending until its reveal window closes.
    in.commit_block.assign(s.neurons.size(), std::numeric_limits<std::uint64_t>::max());
    for (const auto& [hotkey, c] : s.commits) {
      const int uid = s.uid_of(hotkey);
      if (uid >= 0 && block <= c.block + s.hyper.reveal_delay + s.hyper.reveal_window) {
        in.commit_block[static_cast<std::size_t>(uid)] = c.block;
      }
    }
  }
  return in;
}

// Version 1: the epoch's own split (incentive and dividends normalised together).
std::vector<std::uint64_t> Ledger::legacy_amounts(const YumaOutputs& out) {
  std::vector<std::uint64_t> amounts(out.server_emission.size());
  for (std::size_t i = 0; i < amounts.size(); ++i) amounts[i] = out.server_emission[i] + out.validator_emission[i];
  return amounts;
}

// Version 2: the subnet's miner part by incentive, the validator part by dividends — by
// active stake while no validator holds bonds, by stake while none is active (as
// subtensor falls back). A part no one earned stays pending.
std::vector<std::uint64_t> Ledger::split_emission(const SubnetState& s, const YumaOutputs& out, std::uint64_t emission) {
  const std::size_t n = s.neurons.size();
  const auto miner_part =
      static_cast<std::uint64_t>((static_cast<unsigned __int128>(emission) * s.hyper.miner_share_ppm) / 1000000u);
  const std::uint64_t validator_part = emission - miner_part;
  auto by_share = [&](const std::vector<Fixed>& weights, std::uint64_t amount, std::vector<std::uint64_t>* into) {
    std::vector<Fixed> share = weights;
    normalize(&share);
    for (std::size_t i = 0; i < n; ++i) {
      if (share[i].raw > 0) (*into)[i] += static_cast<std::uint64_t>((static_cast<unsigned __int128>(share[i].raw) * amount) >> 32);
    }
  };
  std::vector<std::uint64_t> amounts(n, 0);
  by_share(out.incentive, miner_part, &amounts);
  const auto any = [](const std::vector<Fixed>& v) { return std::any_of(v.begin(), v.end(), [](Fixed x) { return x.raw > 0; }); };
  by_share(any(out.dividends) ? out.dividends : any(out.active_stake) ? out.active_stake : out.stake, validator_part,
           &amounts);
  return amounts;
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
