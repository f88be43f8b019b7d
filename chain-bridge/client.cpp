#include "chain-bridge/client.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>

#include "core/hash.h"
#include "core/schedule.h"
#include "net/grpc.h"
#include "proto/chain.grpc.pb.h"

namespace tessera::chain {

namespace {

using net::from_grpc;

// SetWeights and RevealWeights carry the same weight fields.
template <typename Msg>
void fill_weights(Msg* m, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                  const std::vector<std::uint32_t>& values, std::uint64_t version_key) {
  m->set_netuid(netuid);
  for (auto u : uids) m->add_uids(u);
  for (auto v : values) m->add_values(v);
  m->set_version_key(version_key);
}

Result<std::uint32_t> parse_number_after(const std::string& result, const std::string& prefix) {
  if (result.rfind(prefix, 0) != 0) return Internal("unexpected chain result '" + result + "'");
  return static_cast<std::uint32_t>(std::stoul(result.substr(prefix.size())));
}

Subnet subnet_of(const proto::SubnetReply& r) {
  Subnet s;
  s.netuid = r.netuid();
  s.owner = r.owner();
  s.params = r.params();
  s.spec_toml = r.spec_toml();
  s.spec_hash = r.spec_hash();
  s.locked = r.locked();
  s.pending_emission = r.pending_emission();
  s.block = r.block();
  s.last_epoch_block = r.last_epoch_block();
  s.neurons.reserve(static_cast<std::size_t>(r.neurons_size()));
  for (const auto& n : r.neurons()) {
    s.neurons.push_back({n.uid(), n.hotkey(), n.coldkey(), n.stake(), n.address(), n.curve_public_key(),
                         n.checkpoint_address(), n.consensus_u16(),
                         n.incentive_u16(), n.dividends_u16(), n.validator_trust_u16(), n.last_emission(), n.total_earned(),
                         n.last_update(), n.registration_block(), n.validator_permit()});
  }
  return s;
}

class EmbeddedChain final : public ChainClient {
 public:
  explicit EmbeddedChain(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), stub_(proto::ChainService::NewStub(channel_)) {}

  Result<HeadInfo> head() override {
    grpc::ClientContext ctx;
    net::set_deadline(&ctx, std::chrono::seconds(10));
    proto::HeadReply r;
    TESSERA_RETURN_IF_ERROR(from_grpc(stub_->GetHead(&ctx, proto::Empty(), &r), "reading the chain head"));
    return HeadInfo{r.height(), r.hash(), r.chain_id(), r.total_issuance()};
  }

  Result<AccountInfo> account(const PublicKey& key) override {
    grpc::ClientContext ctx;
    net::set_deadline(&ctx, std::chrono::seconds(10));
    proto::AccountRequest req;
    req.set_account(key_of(key));
    proto::AccountReply r;
    TESSERA_RETURN_IF_ERROR(from_grpc(stub_->GetAccount(&ctx, req, &r), "reading an account"));
    return AccountInfo{r.balance(), r.nonce(), r.block()};
  }

  Result<Subnet> subnet(std::uint32_t netuid) override {
    grpc::ClientContext ctx;
    net::set_deadline(&ctx, std::chrono::seconds(10));
    proto::SubnetRequest req;
    req.set_netuid(netuid);
    proto::SubnetReply r;
    TESSERA_RETURN_IF_ERROR(from_grpc(stub_->GetSubnet(&ctx, req, &r), "reading subnet " + std::to_string(netuid)));
    return subnet_of(r);
  }

  Result<std::optional<CheckpointInfo>> checkpoint(std::uint32_t netuid, std::optional<std::uint64_t> window) override {
    grpc::ClientContext ctx;
    net::set_deadline(&ctx, std::chrono::seconds(10));
    proto::CheckpointRequest req;
    req.set_netuid(netuid);
    if (window) req.set_window(*window);
    else req.set_latest(true);
    proto::CheckpointReply r;
    TESSERA_RETURN_IF_ERROR(from_grpc(stub_->GetCheckpoint(&ctx, req, &r), "reading a checkpoint announcement"));
    if (!r.found()) return std::optional<CheckpointInfo>();
    return std::optional<CheckpointInfo>(CheckpointInfo{r.window(), r.hash(), r.address(), r.block(), r.announcer()});
  }

  Status watch_blocks(const std::function<bool(const HeadInfo&)>& on_block, std::chrono::milliseconds deadline,
                      std::optional<std::uint64_t> from_height) override {
    grpc::ClientContext ctx;
    net::set_deadline(&ctx, deadline);
    proto::WatchRequest req;
    if (from_height) {
      req.set_from_height(*from_height);
    } else {
      TESSERA_ASSIGN_OR_RETURN(HeadInfo h, head());
      req.set_from_height(h.height);
    }
    auto reader = stub_->WatchBlocks(&ctx, req);
    proto::HeadReply r;
    while (reader->Read(&r)) {
      if (!on_block({r.height(), r.hash(), r.chain_id(), r.total_issuance(), r.skipped()})) {
        ctx.TryCancel();
        break;
      }
    }
    const grpc::Status st = reader->Finish();
    if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED || st.error_code() == grpc::StatusCode::CANCELLED) {
      return Status::Ok();
    }
    return from_grpc(st, "watching blocks");
  }

  Result<Included> transfer(const Keypair& from, const PublicKey& to, std::uint64_t rao) override {
    proto::Call call;
    call.mutable_transfer()->set_to(key_of(to));
    call.mutable_transfer()->set_amount(rao);
    return submit(from, call);
  }

  Result<std::uint32_t> create_subnet(const Keypair& owner, const std::string& spec_toml,
                                      const proto::SubnetParams& params) override {
    proto::Call call;
    call.mutable_create_subnet()->set_spec_toml(spec_toml);
    *call.mutable_create_subnet()->mutable_params() = params;
    TESSERA_ASSIGN_OR_RETURN(Included inc, submit(owner, call));
    if (!inc.netuid) return Internal("the chain included the subnet but named no netuid");
    return *inc.netuid;
  }

  Result<std::uint32_t> register_hotkey(const Keypair& coldkey, const PublicKey& hotkey, std::uint32_t netuid) override {
    proto::Call call;
    call.mutable_register_()->set_netuid(netuid);
    call.mutable_register_()->set_hotkey(key_of(hotkey));
    TESSERA_ASSIGN_OR_RETURN(Included inc, submit(coldkey, call));
    if (!inc.uid) return Internal("the chain included the registration but named no uid");
    return *inc.uid;
  }

  Result<std::uint32_t> register_by_sudo(const Keypair&, const PublicKey&, const PublicKey&, std::uint32_t) override {
    return FailedPrecondition("the embedded chain has no sudo key: register with `tessera subnet register` (burned)");
  }

  Status designate_aggregator(std::uint32_t netuid, const PublicKey& hotkey) override {
    TESSERA_ASSIGN_OR_RETURN(auto s, subnet(netuid));
    if (s.params.aggregator_hotkey() == raw_bytes(hotkey)) return Status::Ok();
    return FailedPrecondition("subnet " + std::to_string(netuid) +
                              " keeps its aggregator on chain, and it is another hotkey (see `tessera subnet show`)");
  }

  Result<Included> serve(const Keypair& hotkey, std::uint32_t netuid, const std::string& address,
                         const std::string& curve_public_key, const std::string& checkpoint_address) override {
    proto::Call call;
    call.mutable_serve()->set_netuid(netuid);
    call.mutable_serve()->set_address(address);
    call.mutable_serve()->set_curve_public_key(curve_public_key);
    call.mutable_serve()->set_checkpoint_address(checkpoint_address);
    return submit(hotkey, call);
  }

  Result<Included> set_weights(const Keypair& hotkey, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                               const std::vector<std::uint32_t>& values, std::uint64_t version_key) override {
    proto::Call call;
    fill_weights(call.mutable_set_weights(), netuid, uids, values, version_key);
    return submit(hotkey, call);
  }

  Result<Included> commit_weights(const Keypair& hotkey, std::uint32_t netuid, const std::string& commit_hash) override {
    proto::Call call;
    call.mutable_commit_weights()->set_netuid(netuid);
    call.mutable_commit_weights()->set_commit_hash(commit_hash);
    return submit(hotkey, call);
  }

  Result<Included> reveal_weights(const Keypair& hotkey, std::uint32_t netuid, const std::vector<std::uint32_t>& uids,
                                  const std::vector<std::uint32_t>& values, const std::string& salt,
                                  std::uint64_t version_key) override {
    proto::Call call;
    fill_weights(call.mutable_reveal_weights(), netuid, uids, values, version_key);
    call.mutable_reveal_weights()->set_salt(salt);
    return submit(hotkey, call);
  }

  Result<Included> announce_checkpoint(const Keypair& signer, std::uint32_t netuid, std::uint64_t window,
                                       const std::string& hash, const std::string& address) override {
    proto::Call call;
    auto* a = call.mutable_announce_checkpoint();
    a->set_netuid(netuid);
    a->set_window(window);
    a->set_hash(hash);
    a->set_address(address);
    return submit(signer, call);
  }

  Result<Included> add_stake(const Keypair& coldkey, const PublicKey& hotkey, std::uint32_t netuid,
                             std::uint64_t rao) override {
    proto::Call call;
    call.mutable_add_stake()->set_netuid(netuid);
    call.mutable_add_stake()->set_hotkey(key_of(hotkey));
    call.mutable_add_stake()->set_amount(rao);
    return submit(coldkey, call);
  }

  Result<Included> set_subnet_params(const Keypair& owner, std::uint32_t netuid,
                                     const proto::SubnetParams& params) override {
    proto::Call call;
    call.mutable_set_subnet_params()->set_netuid(netuid);
    *call.mutable_set_subnet_params()->mutable_params() = params;
    return submit(owner, call);
  }

 private:
  // Signs `call` with the signer's next nonce and waits for the durable block. The node
  // reports what a call created as "netuid N" or "uid N".
  Result<Included> submit(const Keypair& signer, const proto::Call& call) {
    TESSERA_ASSIGN_OR_RETURN(HeadInfo h, head());
    TESSERA_ASSIGN_OR_RETURN(AccountInfo acc, account(signer.public_key()));
    const proto::Extrinsic ex = make_extrinsic(signer, h.chain_id, acc.nonce, call);
    grpc::ClientContext ctx;
    net::set_deadline(&ctx, std::chrono::seconds(120));
    proto::SubmitReply r;
    TESSERA_RETURN_IF_ERROR(from_grpc(stub_->Submit(&ctx, ex, &r), "submitting an extrinsic"));
    if (!r.accepted()) return FailedPrecondition("chain rejected the extrinsic: " + r.reason());
    Included inc;
    inc.block = r.block();
    if (r.result().rfind("netuid ", 0) == 0) {
      TESSERA_ASSIGN_OR_RETURN(auto n, parse_number_after(r.result(), "netuid "));
      inc.netuid = n;
    } else if (r.result().rfind("uid ", 0) == 0) {
      TESSERA_ASSIGN_OR_RETURN(auto n, parse_number_after(r.result(), "uid "));
      inc.uid = n;
    }
    return inc;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::ChainService::Stub> stub_;
};

}  // namespace

Result<std::unique_ptr<ChainClient>> connect_embedded_chain(const std::string& address,
                                                            std::chrono::milliseconds timeout) {
  auto channel = net::connect_channel(address, 64 << 20, timeout);
  if (!channel.ok()) {
    return IoError("cannot reach the chain node at " + address + " (is `tessera chain start` running?)");
  }
  return std::unique_ptr<ChainClient>(new EmbeddedChain(*channel));
}

std::string default_chain_address() {
  const char* env = std::getenv("TESSERA_CHAIN");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:7700";
}

Result<std::uint64_t> parse_tao(const std::string& text) {
  const auto dot = text.find('.');
  const std::string whole = text.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  auto digits = [](const std::string& s) { return s.find_first_not_of("0123456789") == std::string::npos; };
  if ((whole.empty() && frac.empty()) || !digits(whole) || !digits(frac) || frac.size() > 9 || whole.size() > 9) {
    return InvalidArgument("'" + text + "' is not a TAO amount (e.g. 12.5, at most 9 decimals)");
  }
  std::uint64_t rao = whole.empty() ? 0 : std::stoull(whole) * kRaoPerTao;
  if (!frac.empty()) rao += std::stoull(frac + std::string(9 - frac.size(), '0'));
  return rao;
}

std::string format_tao(std::uint64_t rao) {
  std::string frac = std::to_string(rao % kRaoPerTao);
  frac = std::string(9 - frac.size(), '0') + frac;
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return std::to_string(rao / kRaoPerTao) + (frac.empty() ? "" : "." + frac) + " TAO";
}

std::string format_tao_short(std::uint64_t rao, bool with_unit) {
  constexpr std::uint64_t kUnit = kRaoPerTao / 10000;  // 1e-4 TAO
  const std::uint64_t units = rao / kUnit + (rao % kUnit >= kUnit / 2 ? 1 : 0);
  std::string frac = std::to_string(units % 10000);
  frac = std::string(4 - frac.size(), '0') + frac;
  return std::to_string(units / 10000) + "." + frac + (with_unit ? " TAO" : "");
}

std::uint64_t ChainClient::next_epoch_block(std::uint32_t netuid, std::uint32_t tempo, std::uint64_t block) const {
  return EpochSchedule{static_cast<std::uint16_t>(netuid), static_cast<std::uint16_t>(tempo)}.next_epoch_block(block);
}

std::uint64_t subtensor_next_epoch_block(std::uint32_t netuid, std::uint32_t tempo, std::uint64_t block) {
  // The runtime's epoch blocks are the ledger's, each one block earlier: its first after
  // `block` is the ledger's first after block + 1, less one.
  const std::uint64_t ledger =
      EpochSchedule{static_cast<std::uint16_t>(netuid), static_cast<std::uint16_t>(tempo)}.next_epoch_block(block + 1);
  return ledger == UINT64_MAX ? UINT64_MAX : ledger - 1;
}

std::optional<std::uint32_t> find_uid(const Subnet& subnet, const PublicKey& hotkey) {
  const std::string key = raw_bytes(hotkey);
  for (const auto& n : subnet.neurons) {
    if (n.hotkey == key) return n.uid;
  }
  return std::nullopt;
}

Result<std::uint32_t> ensure_registered(ChainClient& chain, const Wallet& wallet, std::uint32_t netuid) {
  TESSERA_ASSIGN_OR_RETURN(Subnet subnet, chain.subnet(netuid));
  if (auto uid = find_uid(subnet, wallet.hotkey.public_key())) return *uid;
  TESSERA_ASSIGN_OR_RETURN(AccountInfo account, chain.account(wallet.coldkey.public_key()));
  const std::uint64_t burn = subnet.params.registration_burn();
  if (account.balance < burn) {
    return FailedPrecondition("wallet " + wallet.name + ": registering on subnet " + std::to_string(netuid) + " burns " +
                              format_tao(burn) + " but the coldkey holds " + format_tao(account.balance) +
                              " (fund it with `tessera wallet transfer`)");
  }
  auto uid = chain.register_hotkey(wallet.coldkey, wallet.hotkey.public_key(), netuid);
  if (!uid.ok()) return Status(uid.status().code(), "wallet " + wallet.name + ": registration failed: " + uid.status().message());
  return *uid;
}

}  // namespace tessera::chain
