// SubtensorChain: the ChainClient over a subtensor node (chain-bridge/substrate).
// Today it carries what a wallet needs (head, balances, transfers, new blocks); the
// roles' calls (subnets, registration, serving, weights, checkpoint announcements) map
// onto subtensor in the next step, and until then each says so by name.
#include <cstdlib>

#include "chain-bridge/client.h"
#include "chain-bridge/substrate/substrate_client.h"
#include "core/hash.h"

namespace tessera::chain {
namespace {

namespace sub = substrate;

std::string raw_of(const sub::Bytes& b) { return std::string(b.begin(), b.end()); }

class SubtensorChain final : public ChainClient {
 public:
  explicit SubtensorChain(std::unique_ptr<sub::SubstrateClient> client) : client_(std::move(client)) {}

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

  Result<Subnet> subnet(std::uint32_t) override { return not_yet("reading a subnet's metagraph"); }
  Result<std::optional<CheckpointInfo>> checkpoint(std::uint32_t, std::optional<std::uint64_t>) override {
    return not_yet("reading checkpoint announcements");
  }
  Result<std::uint32_t> create_subnet(const Keypair&, const std::string&, const proto::SubnetParams&) override {
    return not_yet("creating a subnet");
  }
  Result<std::uint32_t> register_hotkey(const Keypair&, const PublicKey&, std::uint32_t) override {
    return not_yet("registering a hotkey");
  }
  Result<Included> serve(const Keypair&, std::uint32_t, const std::string&, const std::string&) override {
    return not_yet("serving an endpoint");
  }
  Result<Included> set_weights(const Keypair&, std::uint32_t, const std::vector<std::uint32_t>&,
                               const std::vector<std::uint32_t>&, std::uint64_t) override {
    return not_yet("setting weights");
  }
  Result<Included> commit_weights(const Keypair&, std::uint32_t, const std::string&) override {
    return not_yet("committing weights");
  }
  Result<Included> reveal_weights(const Keypair&, std::uint32_t, const std::vector<std::uint32_t>&,
                                  const std::vector<std::uint32_t>&, const std::string&, std::uint64_t) override {
    return not_yet("revealing weights");
  }
  Result<Included> announce_checkpoint(const Keypair&, std::uint32_t, std::uint64_t, const std::string&,
                                       const std::string&) override {
    return not_yet("announcing a checkpoint");
  }
  Result<Included> add_stake(const Keypair&, const PublicKey&, std::uint32_t, std::uint64_t) override {
    return not_yet("adding stake");
  }
  Result<Included> set_subnet_params(const Keypair&, std::uint32_t, const proto::SubnetParams&) override {
    return not_yet("setting subnet parameters");
  }

 private:
  Status not_yet(const std::string& what) const {
    return FailedPrecondition(what + " on a subtensor chain (" + client_->rpc().url() +
                              ") is not supported yet: wallets (balance, transfer) are; the roles' calls are mapped in "
                              "docs/chain.md's next step");
  }
  std::unique_ptr<sub::SubstrateClient> client_;
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
