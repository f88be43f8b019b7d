// ChainClient: the only chain API the roles use (DESIGN.md §5), in plain C++ types. Two
// backends: EmbeddedChain talks to `tessera chain start` over gRPC, SubtensorChain to a
// subtensor node over WebSocket JSON-RPC (chain-bridge/substrate). connect_chain() picks
// one by the address: ws:// and wss:// mean subtensor, HOST:PORT the embedded node.
// Writes sign an extrinsic with the caller's key and return once the chain has included
// it in a block (durable, for the embedded node), or the reason it was refused.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chain-bridge/ledger.h"
#include "core/identity.h"
#include "core/status.h"
#include "proto/chain.pb.h"

namespace tessera::chain {

struct HeadInfo {
  std::uint64_t height = 0;
  std::string hash;  // raw 32 bytes
  std::string chain_id;
  std::uint64_t total_issuance = 0;
  std::uint64_t skipped = 0;  // watch_blocks: heights missed just before this one
};

struct CheckpointInfo {
  std::uint64_t window = 0;
  std::string hash;  // raw 32 bytes
  std::string address;
  std::uint64_t block = 0;
  std::string announcer;  // raw 32-byte public key of the hotkey that announced it
};

struct AccountInfo {
  std::uint64_t balance = 0;  // rao, free to spend
  std::uint64_t nonce = 0;    // the next extrinsic's nonce
  std::uint64_t block = 0;    // the block this was read at
};

// One uid of a subnet's metagraph. Keys are raw 32-byte strings.
struct Neuron {
  std::uint32_t uid = 0;
  std::string hotkey;
  std::string coldkey;
  std::uint64_t stake = 0;
  std::string address;           // the endpoint it serves ("" if none)
  std::string curve_public_key;  // 32 bytes when it serves
  std::string checkpoint_address;  // its CheckpointService ("" if none)
  std::uint32_t consensus_u16 = 0;
  std::uint32_t incentive_u16 = 0;
  std::uint32_t dividends_u16 = 0;
  std::uint32_t validator_trust_u16 = 0;
  std::uint64_t last_emission = 0;  // rao paid at the last epoch
  std::uint64_t total_earned = 0;   // rao paid since registration
  std::uint64_t last_update = 0;
  std::uint64_t registration_block = 0;
  bool validator_permit = false;
};

struct Subnet {
  std::uint32_t netuid = 0;
  std::string owner;                // raw 32-byte coldkey
  proto::SubnetParams params;       // the hyperparameters (the run spec's [chain] table)
  std::string spec_toml;
  std::string spec_hash;            // raw 32 bytes
  std::uint64_t locked = 0;
  std::uint64_t pending_emission = 0;
  std::vector<Neuron> neurons;
  std::uint64_t block = 0;
  std::uint64_t last_epoch_block = 0;
};

// A write included in a block, with what it created (a subnet's netuid, a neuron's uid).
struct Included {
  std::uint64_t block = 0;
  std::optional<std::uint32_t> netuid;
  std::optional<std::uint32_t> uid;
};

class ChainClient {
 public:
  virtual ~ChainClient() = default;
  virtual Result<HeadInfo> head() = 0;
  virtual Result<AccountInfo> account(const PublicKey& key) = 0;
  virtual Result<Subnet> subnet(std::uint32_t netuid) = 0;  // params, spec and metagraph
  virtual Result<std::optional<CheckpointInfo>> checkpoint(std::uint32_t netuid, std::optional<std::uint64_t> window) = 0;
  // Calls `on_block` for every head after `from_height` (default: the current head), in
  // order, until it returns false or the deadline passes. Heights the node no longer keeps
  // are not delivered; HeadInfo::skipped counts them.
  virtual Status watch_blocks(const std::function<bool(const HeadInfo&)>& on_block, std::chrono::milliseconds deadline,
                              std::optional<std::uint64_t> from_height = std::nullopt) = 0;

  // Writes, each signed by the key it names.
  virtual Result<Included> transfer(const Keypair& from, const PublicKey& to, std::uint64_t rao) = 0;
  // Returns the new subnet's netuid.
  virtual Result<std::uint32_t> create_subnet(const Keypair& owner, const std::string& spec_toml,
                                              const proto::SubnetParams& params = {}) = 0;
  // Burned registration of `hotkey` paid by `coldkey`; returns the uid.
  virtual Result<std::uint32_t> register_hotkey(const Keypair& coldkey, const PublicKey& hotkey, std::uint32_t netuid) = 0;
  // Publishes the neuron's submission endpoint, the CURVE key miners encrypt to, and its
  // CheckpointService ("" if none), which pulls of any checkpoint it holds may fall back to.
  virtual Result<Included> serve(const Keypair& hotkey, std::uint32_t netuid, const std::string& address,
                                 const std::string& curve_public_key, const std::string& checkpoint_address) = 0;
  virtual Result<Included> set_weights(const Keypair& hotkey, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                                       const std::vector<std::uint32_t>& values, std::uint64_t version_key = 0) = 0;
  virtual Result<Included> commit_weights(const Keypair& hotkey, std::uint32_t netuid, const std::string& commit_hash) = 0;
  virtual Result<Included> reveal_weights(const Keypair& hotkey, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                                          const std::vector<std::uint32_t>& values, const std::string& salt,
                                          std::uint64_t version_key = 0) = 0;
  virtual Result<Included> announce_checkpoint(const Keypair& signer, std::uint32_t netuid, std::uint64_t window,
                                               const std::string& hash, const std::string& address) = 0;
  virtual Result<Included> add_stake(const Keypair& coldkey, const PublicKey& hotkey, std::uint32_t netuid,
                                     std::uint64_t rao) = 0;
  virtual Result<Included> set_subnet_params(const Keypair& owner, std::uint32_t netuid,
                                             const proto::SubnetParams& params) = 0;
  // The checkpoint aggregator the subnet's owner designated, for chains that keep none
  // (subtensor): subnet() then names it and checkpoint() reads its signed announcements.
  // A chain that keeps one refuses any other hotkey.
  virtual Status designate_aggregator(std::uint32_t netuid, const PublicKey& hotkey) = 0;
  // Registration by the chain's sudo key, for localnets whose genesis disables burned
  // registration (subtensor's sudo_register); returns the uid. Chains without sudo refuse.
  virtual Result<std::uint32_t> register_by_sudo(const Keypair& sudo, const PublicKey& coldkey, const PublicKey& hotkey,
                                                 std::uint32_t netuid) = 0;
  // The first block after `block` in which this chain runs subnet `netuid`'s epoch at
  // `tempo` (UINT64_MAX for tempo 0). The embedded ledger's rule (core/schedule.h) unless
  // the chain overrides it.
  virtual std::uint64_t next_epoch_block(std::uint32_t netuid, std::uint32_t tempo, std::uint64_t block) const;
};

// Subtensor's runtime runs a subnet's epoch at the start of each block n with
// tempo − (n + netuid + 1) mod (tempo + 1) = 0 (its blocks_until_next_epoch), one block
// before the embedded ledger's phase. The first such block after `block`; UINT64_MAX for
// tempo 0.
std::uint64_t subtensor_next_epoch_block(std::uint32_t netuid, std::uint32_t tempo, std::uint64_t block);

// The uid `hotkey` holds in a subnet's metagraph (nullopt: not registered).
std::optional<std::uint32_t> find_uid(const Subnet& subnet, const PublicKey& hotkey);

// The uid of `wallet`'s hotkey on `netuid`, registering it first (burned registration
// paid by the coldkey) when needed. A coldkey that cannot pay the burn gets an error that
// says how much is missing.
Result<std::uint32_t> ensure_registered(ChainClient& chain, const Wallet& wallet, std::uint32_t netuid);

// Connects to a `tessera chain start` node ("host:port"); checks that it answers.
Result<std::unique_ptr<ChainClient>> connect_embedded_chain(const std::string& address,
                                                            std::chrono::milliseconds timeout = std::chrono::seconds(5));
// Connects to a subtensor node ("ws://host:port") and reads its runtime.
Result<std::unique_ptr<ChainClient>> connect_subtensor_chain(const std::string& url,
                                                             std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Either, by the address's scheme: ws:// and wss:// are subtensor, anything else embedded.
Result<std::unique_ptr<ChainClient>> connect_chain(const std::string& address,
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
bool is_subtensor_address(const std::string& address);

// The node address the CLI uses by default: $TESSERA_CHAIN, else 127.0.0.1:7700.
std::string default_chain_address();

// "12.5" → rao; rejects negative, non-numeric and more than 9 decimals.
Result<std::uint64_t> parse_tao(const std::string& text);
// Exact: every significant rao digit, "75.779318664 TAO" (receipts, errors, balances).
std::string format_tao(std::uint64_t rao);
// For tables and progress lines: rounded to 4 decimals (half up, in integer arithmetic),
// always 4 of them so that columns align: "75.7793" (with_unit adds " TAO").
std::string format_tao_short(std::uint64_t rao, bool with_unit = true);

}  // namespace tessera::chain
