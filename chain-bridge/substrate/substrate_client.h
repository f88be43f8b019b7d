// A substrate node seen through its standard JSON-RPC: runtime metadata and version,
// storage reads (single values and paged maps), accounts and nonces, new heads, and
// signed calls submitted and watched into a block, with the dispatch outcome read from
// that block's events (the runtime's error by name when it refused the call).
#pragma once

#include <functional>
#include <memory>

#include "chain-bridge/substrate/extrinsic.h"
#include "chain-bridge/substrate/rpc.h"
#include "chain-bridge/substrate/storage.h"

namespace tessera::substrate {

struct Header {
  std::uint64_t number = 0;
  Bytes hash;
};

struct AccountInfo {
  std::uint64_t nonce = 0;
  u128 free = 0;
  u128 reserved = 0;
};

struct SubmitOptions {
  u128 tip = 0;
  std::uint64_t mortal_period = 64;  // 0: immortal
  bool wait_finalized = false;       // else: included in a block
  std::chrono::milliseconds timeout{60'000};
};

struct InBlock {
  Bytes block_hash;
  std::uint64_t block_number = 0;
  std::uint32_t index = 0;  // the extrinsic's position in the block
  Bytes extrinsic_hash;
  std::vector<EventRecord> events;  // this extrinsic's events only
};

// The reply of `state_getRuntimeVersion`: specVersion and transactionVersion as u32 JSON
// integers, specName a string when present; anything else is refused by name.
Result<RuntimeVersion> parse_runtime_version(const json& v);

class SubstrateClient {
 public:
  static Result<std::unique_ptr<SubstrateClient>> connect(const std::string& url, RpcOptions options = {});

  const Metadata& metadata() const { return metadata_; }
  const ChainIdentity& identity() const { return identity_; }
  RpcClient& rpc() { return *rpc_; }

  // Re-reads the runtime version, and the metadata when the spec version changed (a
  // runtime upgrade). Called before every submission.
  Status refresh_runtime();

  Result<Header> best_header();
  Result<Bytes> block_hash(std::uint64_t number);
  Result<std::optional<Bytes>> storage_raw(const Bytes& key, const std::optional<Bytes>& at = std::nullopt);
  // A decoded storage value (the entry's default when none is stored).
  Result<json> storage(std::string_view pallet, std::string_view entry, const json& keys = json::array(),
                       const std::optional<Bytes>& at = std::nullopt);
  // All entries of a map under `keys` (a prefix of its keys), `page` keys per request, at
  // most `limit` entries: (raw storage key, decoded value).
  Result<std::vector<std::pair<Bytes, json>>> storage_entries(std::string_view pallet, std::string_view entry,
                                                              const json& keys = json::array(), std::size_t limit = 100'000,
                                                              std::uint32_t page = 512);
  // Many raw values in one request, all read at block `at` (default: the best block).
  Result<std::vector<std::optional<Bytes>>> storage_many(const std::vector<Bytes>& keys,
                                                         const std::optional<Bytes>& at = std::nullopt);
  Result<AccountInfo> account(const PublicKey& key);
  Result<std::uint64_t> next_nonce(const PublicKey& key);

  // Signs `call` (fetching the nonce and a mortal era's block) and waits until the block
  // that includes it. The call's own failure comes back as FailedPrecondition naming the
  // runtime's error; a transaction the pool refuses (bad nonce, no funds for the fee)
  // as the node's message.
  Result<InBlock> submit(const Keypair& signer, const Bytes& call, const SubmitOptions& options = {});
  Result<InBlock> submit(const Keypair& signer, std::string_view pallet, std::string_view call, const json& args,
                         const SubmitOptions& options = {});

  // Calls `on_head` for every new best head until it returns false or `timeout` passes.
  Status watch_heads(const std::function<bool(const Header&)>& on_head, std::chrono::milliseconds timeout);

 private:
  SubstrateClient() = default;
  // submit()'s work after the runtime was refreshed: nonce, era, signature, watch.
  Result<InBlock> sign_and_watch(const Keypair& signer, const Bytes& call, const SubmitOptions& options);
  Result<Header> parse_header(const json& header);
  std::unique_ptr<RpcClient> rpc_;
  Metadata metadata_;
  ChainIdentity identity_;
};

}  // namespace tessera::substrate
