// The encodings a block's state hash can be over (Ledger::state_hash).
//
// Formats 2 and 3, the canonical encoding: every field of the state, in a fixed order, as
// little-endian fixed-width integers and length-prefixed byte strings, maps in key order.
// It depends on nothing but the state's values: not on memory layout, padding, the
// archive library or the platform. Format 3 adds each neuron's checkpoint address; blocks
// written in format 2 keep verifying in it.
//
// Format 0, the legacy encoding of earlier builds: a Boost binary archive of the state.
// Boost writes a vector of std::pair<uint32_t, uint16_t> (weights, bonds) as raw memory,
// padding bytes included, so those hashes covered two uninitialised bytes per entry
// (docs/chain.md, "The block 301 fixture"). This file reproduces the archive of the
// layout those builds wrote, with the padding zeroed: it verifies legacy blocks whose
// padding happened to be zero, and cannot verify the others.
#include <stdexcept>

#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>

#include "chain-bridge/ledger.h"
#include "core/archive.h"
#include "core/bytes.h"

namespace tessera::chain {

namespace legacy {

// std::pair<uint32_t, uint16_t> as those builds laid it out in memory, padding zero.
struct U16Entry {
  std::uint32_t column = 0;
  std::uint16_t value = 0;
  std::uint16_t padding = 0;
  template <class Ar>
  void serialize(Ar& ar, unsigned) { ar & column & value & padding; }
};

std::vector<U16Entry> entries(const U16Row& row) {
  std::vector<U16Entry> out;
  for (const auto& [column, value] : row) out.push_back({column, value, 0});
  return out;
}

struct Hyper {
  const SubnetHyper* h;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    SubnetHyper c = *h;
    ar & c.tempo & c.kappa_u16 & c.bonds_moving_average & c.max_uids & c.immunity_period & c.weights_rate_limit &
        c.commit_reveal & c.reveal_delay & c.reveal_window & c.registration_burn & c.max_validators & c.yuma3 &
        c.emission_per_block & c.owner_cut_ppm & c.aggregator_hotkey & c.bonds_penalty_u16 & c.liquid_alpha;
  }
};

struct Neuron {
  NeuronState n;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    auto weights = entries(n.weights), bonds = entries(n.bonds);
    ar & n.hotkey & n.coldkey & n.stake & n.address & n.curve_key & n.registration_block & n.last_update & weights &
        bonds & n.consensus & n.incentive & n.dividends & n.trust & n.validator_permit & n.last_emission & n.total_earned;
  }
};

struct Subnet {
  const SubnetState* s;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    SubnetState c = *s;
    Hyper hyper{&s->hyper};
    std::vector<Neuron> neurons;
    for (const auto& n : s->neurons) neurons.push_back({n});
    ar & c.netuid & c.owner & hyper & c.spec_toml & c.spec_hash & c.locked & c.pending_emission & c.last_epoch_block &
        neurons & c.commits & c.checkpoints;
  }
};

struct State {
  const LedgerState* l;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    LedgerState c = *l;
    std::map<std::uint32_t, Subnet> subnets;
    for (const auto& [netuid, s] : l->subnets) subnets.emplace(netuid, Subnet{&s});
    ar & c.chain_id & c.accounts & subnets & c.next_netuid & c.total_issuance & c.burned & c.subnet_lock_cost;
  }
};

}  // namespace legacy
}  // namespace tessera::chain

BOOST_IS_BITWISE_SERIALIZABLE(tessera::chain::legacy::U16Entry)
BOOST_CLASS_IMPLEMENTATION(tessera::chain::legacy::U16Entry, boost::serialization::object_serializable)

namespace tessera::chain {

namespace {

class Encoder {
 public:
  void u8(std::uint64_t v) { append_le(&out_, v, 1); }
  void u16(std::uint64_t v) { append_le(&out_, v, 2); }
  void u32(std::uint64_t v) { append_le(&out_, v, 4); }
  void u64(std::uint64_t v) { append_le(&out_, v, 8); }
  void bytes(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  void row(const U16Row& r) {
    u64(r.size());
    for (const auto& [column, value] : r) {
      u32(column);
      u16(value);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void encode(Encoder& e, const SubnetHyper& h) {
  e.u32(h.tempo);
  e.u32(h.kappa_u16);
  e.u64(h.bonds_moving_average);
  e.u32(h.max_uids);
  e.u64(h.immunity_period);
  e.u64(h.weights_rate_limit);
  e.u8(h.commit_reveal);
  e.u64(h.reveal_delay);
  e.u64(h.reveal_window);
  e.u64(h.registration_burn);
  e.u32(h.max_validators);
  e.u8(h.yuma3);
  e.u64(h.emission_per_block);
  e.u32(h.owner_cut_ppm);
  e.bytes(h.aggregator_hotkey);
  e.u32(h.bonds_penalty_u16);
  e.u8(h.liquid_alpha);
  e.u32(h.miner_share_ppm);
  e.u64(h.version_key);
  e.u32(h.min_allowed_weights);
  e.u32(h.max_weight_limit_u16);
  e.u32(h.alpha_low_u16);
  e.u32(h.alpha_high_u16);
  e.u32(static_cast<std::uint32_t>(h.alpha_steepness));
}

void encode(Encoder& e, const NeuronState& n, std::uint32_t format) {
  e.bytes(n.hotkey);
  e.bytes(n.coldkey);
  e.u64(n.stake);
  e.bytes(n.address);
  e.bytes(n.curve_key);
  e.u64(n.registration_block);
  e.u64(n.last_update);
  e.row(n.weights);
  e.row(n.bonds);
  e.u16(n.consensus);
  e.u16(n.incentive);
  e.u16(n.dividends);
  e.u16(n.trust);
  e.u8(n.validator_permit);
  e.u64(n.last_emission);
  e.u64(n.total_earned);
  if (format >= 3) e.bytes(n.checkpoint_address);
}

void encode(Encoder& e, const SubnetState& s, std::uint32_t format) {
  e.u32(s.netuid);
  e.bytes(s.owner);
  encode(e, s.hyper);
  e.bytes(s.spec_toml);
  e.bytes(s.spec_hash);
  e.u64(s.locked);
  e.u64(s.pending_emission);
  e.u64(s.last_epoch_block);
  e.u64(s.neurons.size());
  for (const auto& n : s.neurons) encode(e, n, format);
  e.u64(s.commits.size());
  for (const auto& [hotkey, c] : s.commits) {
    e.bytes(hotkey);
    e.bytes(c.hash);
    e.u64(c.block);
  }
  e.u64(s.checkpoints.size());
  for (const auto& [window, a] : s.checkpoints) {
    e.u64(window);
    e.u64(a.window);
    e.bytes(a.hash);
    e.bytes(a.address);
    e.bytes(a.announcer);
    e.u64(a.block);
  }
}

}  // namespace

std::string Ledger::legacy_archive() const { return to_archive(legacy::State{&state_}); }

Hash256 Ledger::state_hash(std::uint32_t state_format) const {
  if (state_format == 0) return blake2b_256(legacy_archive());
  Encoder e;
  if (state_format != 2 && state_format != 3) {
    throw std::logic_error("state hash format " + std::to_string(state_format) + " is not known to this build");
  }
  e.bytes("tessera-state/" + std::to_string(state_format));
  e.bytes(state_.chain_id);
  e.u32(state_.rules.version);
  e.u64(state_.rules.emission_per_block);
  e.u32(state_.rules.max_owner_cut_ppm);
  e.u64(state_.rules.stake_threshold);
  e.u64(state_.accounts.size());
  for (const auto& [key, a] : state_.accounts) {
    e.bytes(key);
    e.u64(a.balance);
    e.u64(a.nonce);
  }
  e.u64(state_.subnets.size());
  for (const auto& [netuid, s] : state_.subnets) encode(e, s, state_format);
  e.u32(state_.next_netuid);
  e.u64(state_.total_issuance);
  e.u64(state_.burned);
  e.u64(state_.subnet_lock_cost);
  return blake2b_256(e.take());
}

}  // namespace tessera::chain
