// The embedded chain's state machine: accounts, subnets, neurons, weights, checkpoints,
// and the per-block emission with Yuma Consensus epochs. Pure and deterministic — no
// clocks, no I/O, no floating point in anything hashed — so that replaying the block log
// reproduces the state bit for bit (the node checks each block's state hash while
// replaying, and recomputes every block before it becomes durable).
//
// Transactional: an extrinsic either applies whole or is rejected with nothing changed.
// Every call validates all its preconditions before its first write (tested with random
// sequences of valid and invalid extrinsics against the recorded state hashes).
//
// Token amounts are integer rao (1 TAO = 10^9 rao); every balance operation is checked
// and an overflow rejects the extrinsic. Invariant, checked by tests after every block:
// total_issuance = Σ balances + Σ stakes + Σ subnet locks + Σ pending emission + burned,
// and total issuance grows only by the genesis emission rule.
//
// Rules version. A chain keeps the rules of its genesis. Version 2 (chains created by
// this build): one per-block emission set at genesis and split equally among the
// subnets that have neurons, owners' cuts capped by the genesis, each subnet's
// miner/validator split from its run spec, and the Yuma inputs of docs/chain.md. Version
// 1 (genesis files without "rules_version", written by earlier builds): each subnet's
// emission and owner cut from its run spec, as those chains were built, so their logs
// replay as recorded.
#pragma once

#include <boost/serialization/version.hpp>

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
// The largest per-block emission a genesis may set (1000 TAO). Issuance is a 64-bit rao
// count: minting stops, rather than wraps, once another block's emission would overflow it.
constexpr std::uint64_t kMaxEmissionPerBlock = 1000 * kRaoPerTao;

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

// The chain-wide rules a genesis fixes.
struct ChainRules {
  std::uint32_t version = 2;
  std::uint64_t emission_per_block = kRaoPerTao;  // rao minted per block (version 2)
  std::uint32_t max_owner_cut_ppm = 180000;       // the largest owner cut a subnet may set (version 2)
  // Stake (rao) below which a uid's stake counts as 0 in epochs, the subnet owner's
  // excepted (version 2; subtensor's StakeThreshold). Archive version 1 added it.
  std::uint64_t stake_threshold = 0;
  template <class Ar>
  void serialize(Ar& ar, unsigned archive_version) {
    ar & version & emission_per_block & max_owner_cut_ppm;
    if (archive_version >= 1) ar & stake_threshold;
  }
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
  std::uint32_t miner_share_ppm = 500000;  // version 2: miners' part of the post-owner emission
  std::uint64_t version_key = 0;
  std::uint32_t min_allowed_weights = 1;
  std::uint32_t max_weight_limit_u16 = 65535;
  // Liquid alpha (Yuma3): the per-bond EMA rate lies in [alpha_low, alpha_high] (u16
  // proportions) along a sigmoid of this steepness (subtensor's defaults).
  std::uint32_t alpha_low_u16 = 45875;
  std::uint32_t alpha_high_u16 = 58982;
  std::int32_t alpha_steepness = 1000;  // an i16, as subtensor's AlphaSigmoidSteepness
  // Archive version 1 added the fields after liquid_alpha, version 2 the alpha fields
  // (upgrade rule: docs/chain.md).
  template <class Ar>
  void serialize(Ar& ar, unsigned version) {
    ar & tempo & kappa_u16 & bonds_moving_average & max_uids & immunity_period & weights_rate_limit & commit_reveal &
        reveal_delay & reveal_window & registration_burn & max_validators & yuma3 & emission_per_block & owner_cut_ppm &
        aggregator_hotkey & bonds_penalty_u16 & liquid_alpha;
    if (version >= 1) ar & miner_share_ppm & version_key & min_allowed_weights & max_weight_limit_u16;
    if (version >= 2) ar & alpha_low_u16 & alpha_high_u16 & alpha_steepness;
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
  std::string checkpoint_address;  // its CheckpointService ("" if none); archive version 1, state format 3
  template <class Ar>
  void serialize(Ar& ar, unsigned version) {
    ar & hotkey & coldkey & stake & address & curve_key & registration_block & last_update & weights & bonds &
        consensus & incentive & dividends & trust & validator_permit & last_emission & total_earned;
    if (version >= 1) ar & checkpoint_address;
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
  ChainRules rules;
  // Archive version 1 added `rules`; a version-0 archive is a rules-version-1 chain.
  template <class Ar>
  void serialize(Ar& ar, unsigned version) {
    ar & chain_id & accounts & subnets & next_netuid & total_issuance & burned & subnet_lock_cost;
    if (version >= 1) {
      ar & rules;
    } else {
      rules = ChainRules{1, 0, 1000000};
    }
  }
};

struct Genesis {
  std::string chain_name = "tessera-local";
  std::vector<std::pair<Key, std::uint64_t>> balances;  // rao
  std::uint64_t subnet_lock_cost = 100 * kRaoPerTao;
  // Absent from genesis files of rules version 1, which keep their original JSON (and id).
  ChainRules rules;
  std::string to_json() const;
  static Result<Genesis> from_json(const std::string& text);
  Status validate() const;
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
  // The hash a block records: the canonical encoding (docs/chain.md) for state format 2,
  // the legacy Boost archive for blocks written by earlier builds (state format 0).
  Hash256 state_hash(std::uint32_t state_format = kStateFormat) const;
  static constexpr std::uint32_t kStateFormat = 3;
  // The bytes the legacy hash is over (for diagnosing a legacy block; state_hash.cpp).
  std::string legacy_archive() const;
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
                                  bool from_reveal, std::uint64_t version_key);
  Result<std::string> commit_weights(const Key& signer, const proto::CommitWeights& c, std::uint64_t block);
  Result<std::string> reveal_weights(const Key& signer, const proto::RevealWeights& c, std::uint64_t block);
  Result<std::string> announce(const Key& signer, const proto::AnnounceCheckpoint& c, std::uint64_t block);
  Result<std::string> add_stake(const Key& signer, const proto::AddStake& c);
  void mint(std::uint64_t block);
  void run_epoch_for(SubnetState& subnet, std::uint64_t block);
  YumaParams epoch_params(const SubnetState& subnet, std::uint64_t previous_epoch, std::uint64_t emission) const;
  YumaInputs epoch_inputs(const SubnetState& subnet, std::uint64_t block) const;
  static std::vector<std::uint64_t> legacy_amounts(const YumaOutputs& out);
  static std::vector<std::uint64_t> split_emission(const SubnetState& subnet, const YumaOutputs& out,
                                                   std::uint64_t emission);
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

// Archive versions of the node's snapshots (docs/chain.md: fields are only appended, each
// behind the version that added it, so older snapshots keep loading).
BOOST_CLASS_VERSION(tessera::chain::SubnetHyper, 2)
BOOST_CLASS_VERSION(tessera::chain::ChainRules, 1)
BOOST_CLASS_VERSION(tessera::chain::LedgerState, 1)
BOOST_CLASS_VERSION(tessera::chain::NeuronState, 1)
