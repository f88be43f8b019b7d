// The embedded chain's state machine: accounts, subnets, neurons, weights, checkpoints,
// and the per-block emission with Yuma Consensus epochs. Pure and deterministic — no
// clocks, no I/O — so that replaying the block log reproduces the state bit for bit
// (the node checks each block's state hash while replaying).
//
// Token amounts are integer rao (1 TAO = 10^9 rao). Invariant, checked by tests after
// every block: total_issuance = Σ balances + Σ stakes + Σ subnet locks + Σ pending
// emission + burned.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chain-bridge/yuma.h"
#include "core/hash.h"
#include "core/identity.h"
#include "core/status.h"
#include "proto/chain.pb.h"

namespace tessera::chain {

constexpr std::uint64_t kRaoPerTao = 1'000'000'000;

// Keys are raw 32-byte strings in the state (cheap to compare, serialise and print).
using Key = std::string;
Key key_of(const PublicKey& k);
std::string short_key(const Key& k);  // first 8 hex digits, for messages

struct Account {
  std::uint64_t balance = 0;
  std::uint64_t nonce = 0;
  template <class Ar>
  void serialize(Ar& ar, unsigned) { ar & balance & nonce; }
};

struct SubnetHyper {
  std::uint32_t tempo = 100;
  std::uint32_t kappa_u16 = 32767;
  std::uint64_t bonds_moving_average = 900000;
  std::uint32_t max_uids = 256;
  std::uint64_t immunity_period = 500;
  std::uint64_t weights_rate_limit = 10;
  bool commit_reveal = false;
  std::uint64_t reveal_delay = 10;
  std::uint64_t reveal_window = 100;
  std::uint64_t registration_burn = kRaoPerTao / 10;
  std::uint32_t max_validators = 64;
  bool yuma3 = true;
  std::uint64_t emission_per_block = kRaoPerTao;
  std::uint32_t owner_cut_ppm = 180000;
  Key aggregator_hotkey;
  std::uint32_t bonds_penalty_u16 = 65535;
  bool liquid_alpha = false;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    ar & tempo & kappa_u16 & bonds_moving_average & max_uids & immunity_period & weights_rate_limit & commit_reveal &
        reveal_delay & reveal_window & registration_burn & max_validators & yuma3 & emission_per_block & owner_cut_ppm &
        aggregator_hotkey & bonds_penalty_u16 & liquid_alpha;
  }
};

struct NeuronState {
  Key hotkey, coldkey;
  std::uint64_t stake = 0;
  std::string address;
  std::string curve_key;
  std::uint64_t registration_block = 0;
  std::uint64_t last_update = 0;
  std::vector<std::pair<std::uint32_t, std::uint16_t>> weights;
  std::vector<std::pair<std::uint32_t, std::uint16_t>> bonds;
  std::uint16_t consensus = 0, incentive = 0, dividends = 0, trust = 0;
  bool validator_permit = false;
  std::uint64_t last_emission = 0, total_earned = 0;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    ar & hotkey & coldkey & stake & address & curve_key & registration_block & last_update & weights & bonds &
        consensus & incentive & dividends & trust & validator_permit & last_emission & total_earned;
  }
};

struct WeightCommit {
  std::string hash;
  std::uint64_t block = 0;
  template <class Ar>
  void serialize(Ar& ar, unsigned) { ar & hash & block; }
};

struct CheckpointAnnouncement {
  std::uint64_t window = 0;
  std::string hash;  // 32 raw bytes
  std::string address;
  Key announcer;
  std::uint64_t block = 0;
  template <class Ar>
  void serialize(Ar& ar, unsigned) { ar & window & hash & address & announcer & block; }
};

struct SubnetState {
  std::uint32_t netuid = 0;
  Key owner;
  SubnetHyper hyper;
  std::string spec_toml;
  std::string spec_hash;
  std::uint64_t locked = 0;
  std::uint64_t pending_emission = 0;
  std::uint64_t last_epoch_block = 0;
  std::vector<NeuronState> neurons;
  std::map<Key, WeightCommit> commits;
  std::map<std::uint64_t, CheckpointAnnouncement> checkpoints;  // by window, the last 256 kept
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    ar & netuid & owner & hyper & spec_toml & spec_hash & locked & pending_emission & last_epoch_block & neurons &
        commits & checkpoints;
  }
  int uid_of(const Key& hotkey) const;
};

struct LedgerState {
  std::string chain_id;  // hex BLAKE2b-256 of the genesis
  std::map<Key, Account> accounts;
  std::map<std::uint32_t, SubnetState> subnets;
  std::uint32_t next_netuid = 1;
  std::uint64_t total_issuance = 0;
  std::uint64_t burned = 0;
  std::uint64_t subnet_lock_cost = 100 * kRaoPerTao;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    ar & chain_id & accounts & subnets & next_netuid & total_issuance & burned & subnet_lock_cost;
  }
};

struct Genesis {
  std::string chain_name = "tessera-local";
  std::vector<std::pair<Key, std::uint64_t>> balances;  // rao
  std::uint64_t subnet_lock_cost = 100 * kRaoPerTao;
  std::string to_json() const;
  static Result<Genesis> from_json(const std::string& text);
  std::string id() const;  // hex BLAKE2b-256 of the canonical JSON
};

class Ledger {
 public:
  static Ledger from_genesis(const Genesis& genesis);

  // Validates `ex` against the state at `block` (the block being built) and applies it.
  // On error nothing changes and the status says what was wrong. On success returns a
  // short result ("netuid 2", "uid 5", "ok").
  Result<std::string> apply(const proto::Extrinsic& ex, std::uint64_t block);
  // End of `block`: mint each subnet's emission and run the epochs that fall on it.
  void end_block(std::uint64_t block);

  const LedgerState& state() const { return state_; }
  Hash256 state_hash() const;
  std::string serialize() const;
  static Result<Ledger> deserialize(const std::string& bytes);
  // Σ balances + stakes + locks + pending emission + burned (= total_issuance).
  std::uint64_t accounted_total() const;

  const Account* account(const Key& k) const;
  std::uint64_t balance_of(const Key& k) const;  // 0 for an unknown account
  const SubnetState* subnet(std::uint32_t netuid) const;

 private:
  Result<std::string> dispatch(const Key& signer, const proto::Call& call, std::uint64_t block);
  Result<std::string> transfer(const Key& signer, const proto::Transfer& c);
  Result<std::string> create_subnet(const Key& signer, const proto::CreateSubnet& c, std::uint64_t block);
  Result<std::string> set_subnet_params(const Key& signer, const proto::SetSubnetParams& c);
  Result<std::string> register_hotkey(const Key& signer, const proto::Register& c, std::uint64_t block);
  Result<std::string> serve(const Key& signer, const proto::ServeEndpoint& c);
  Result<std::string> set_weights(const Key& signer, std::uint32_t netuid, const google::protobuf::RepeatedField<std::uint32_t>& uids,
                                  const google::protobuf::RepeatedField<std::uint32_t>& values, std::uint64_t block,
                                  bool from_reveal);
  Result<std::string> commit_weights(const Key& signer, const proto::CommitWeights& c, std::uint64_t block);
  Result<std::string> reveal_weights(const Key& signer, const proto::RevealWeights& c, std::uint64_t block);
  Result<std::string> announce(const Key& signer, const proto::AnnounceCheckpoint& c, std::uint64_t block);
  Result<std::string> add_stake(const Key& signer, const proto::AddStake& c);
  void run_epoch_for(SubnetState& subnet, std::uint64_t block);
  Result<SubnetState*> find_subnet(std::uint32_t netuid);

  LedgerState state_;
};

// The commit of a weight vector: BLAKE2b-256 over the canonical bytes of hotkey, netuid,
// uids, values, salt and version key (docs/chain.md gives the byte layout).
std::string weights_commit_hash(const Key& hotkey, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                                const std::vector<std::uint32_t>& values, const std::string& salt,
                                std::uint64_t version_key);

// Signing: the bytes an extrinsic's signature covers.
std::string extrinsic_signing_bytes(const std::string& body);
proto::Extrinsic make_extrinsic(const Keypair& signer, const std::string& chain_id, std::uint64_t nonce,
                                const proto::Call& call);

// Block hash: BLAKE2b-256 over height, parent hash, timestamp, each extrinsic's hash and
// the state hash.
Hash256 block_hash(const proto::Block& block);

}  // namespace tessera::chain
