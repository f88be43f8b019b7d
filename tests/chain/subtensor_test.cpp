// The substrate client against a real subtensor runtime: testfinney's (spec 103) executed
// by chopsticks on loopback, one instance for the whole binary (its start takes ~20 s).
// ctest label "subtensor". Chopsticks comes from `scripts/install-deps.sh` (npm, pinned);
// without it these tests fail and say so: `make test` always installs it.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <memory>

#include "chain-bridge/client.h"
#include "chain-bridge/substrate/ss58.h"
#include "chain-bridge/substrate/substrate_client.h"
#include "core/schedule.h"
#include "tests/test_util.h"

namespace tessera::substrate {
namespace {

namespace fs = std::filesystem;
const fs::path kSource = TESSERA_SOURCE_DIR;

class Chopsticks : public ::testing::Environment {
 public:
  static std::string url;
  static std::string error;

  void SetUp() override {
    fs::path bin = kSource / "tests/subtensor/node_modules/.bin/chopsticks";
    if (!fs::exists(bin)) {
      error = "chopsticks is not installed (" + bin.string() + "): run scripts/install-deps.sh";
      return;
    }
    dir_ = std::make_unique<testing::TempDir>();
    log_ = dir_->path() / "chopsticks.log";
    // Instant: every submitted extrinsic gets its own block. --db in a fresh folder: no
    // state from an earlier run.
    process_ = std::make_unique<testing::Process>(
        std::vector<std::string>{bin.string(), "--genesis", (kSource / "tests/data/subtensor/raw_spec_testfinney.json").string(),
                                 "--port", "0", "--allow-unresolved-imports", "--build-block-mode", "Instant", "--db",
                                 (dir_->path() / "db.sqlite").string()},
        log_, fs::path{}, std::vector<std::string>{"LOG_LEVEL=info"});
    std::string port = testing::wait_for_match(log_, R"(ws://\[::\]:(\d+))", std::chrono::seconds(120));
    if (port.empty()) {
      error = "chopsticks did not start within 120 s; its log: " + log_.string();
      return;
    }
    url = "ws://127.0.0.1:" + port;
  }
  void TearDown() override {
    process_.reset();
    dir_.reset();
  }

 private:
  std::unique_ptr<testing::TempDir> dir_;
  fs::path log_;
  std::unique_ptr<testing::Process> process_;
};
std::string Chopsticks::url;
std::string Chopsticks::error;

// Test set-up only (chopsticks' dev RPC, not part of a real node): gives `key` a free
// balance of `rao`.
void fund(SubstrateClient& c, const PublicKey& key, std::uint64_t rao) {
  nlohmann::json set = {{"System", {{"Account", nlohmann::json::array({nlohmann::json::array(
                                                    {nlohmann::json::array({ss58_encode(key)}),
                                                     {{"providers", 1}, {"data", {{"free", std::to_string(rao)}}}}})})}}}};
  auto r = c.rpc().call("dev_setStorage", nlohmann::json::array({set}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
}

Keypair fresh_key(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  seed[0] = static_cast<std::uint8_t>(::testing::UnitTest::GetInstance()->random_seed());
  seed[1] = static_cast<std::uint8_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return Keypair::from_seed(seed);
}

class Subtensor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Chopsticks::error.empty()) << Chopsticks::error;
    auto c = SubstrateClient::connect(Chopsticks::url);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    client = std::move(*c);
  }
  std::unique_ptr<SubstrateClient> client;
};

TEST_F(Subtensor, ReadsTheRuntimeItRuns) {
  EXPECT_EQ(client->metadata().version, 14);
  EXPECT_EQ(client->identity().version.spec_name, "node-subtensor");
  EXPECT_EQ(client->identity().version.spec_version, 103u);
  auto sub = client->metadata().pallet("SubtensorModule");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ((*sub)->index, 8);
  auto head = client->best_header();
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  EXPECT_EQ(head->hash.size(), 32u);
}

TEST_F(Subtensor, TheBalanceOfAFundedAccountReadsRight) {
  Keypair alice = fresh_key(1);
  auto before = client->account(alice.public_key());
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  EXPECT_TRUE(before->free == 0);
  fund(*client, alice.public_key(), 1'000'000'000'000'000ull);
  auto after = client->account(alice.public_key());
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_TRUE(after->free == 1'000'000'000'000'000ull) << u128_to_string(after->free);
}

TEST_F(Subtensor, ATransferSignedByATesseraKeyMovesExactlyItsAmount) {
  Keypair alice = fresh_key(2), bob = fresh_key(3);
  fund(*client, alice.public_key(), 1'000'000'000'000ull);
  fund(*client, bob.public_key(), 500'000'000ull);
  auto sent = client->submit(alice, "Balances", "transfer_keep_alive",
                             {{"dest", {{"Id", hex_of(bob.public_key())}}}, {"value", 123'456'789}});
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_GT(sent->block_number, 0u);
  bool transfer_event = false;
  for (const auto& e : sent->events)
    if (e.pallet == "Balances" && e.name == "Transfer") transfer_event = e.fields["amount"] == 123'456'789;
  EXPECT_TRUE(transfer_event);
  auto bob_after = client->account(bob.public_key());
  ASSERT_TRUE(bob_after.ok());
  EXPECT_TRUE(bob_after->free == 500'000'000ull + 123'456'789ull) << u128_to_string(bob_after->free);
  auto alice_after = client->account(alice.public_key());
  ASSERT_TRUE(alice_after.ok());
  EXPECT_EQ(alice_after->nonce, 1u);
  // Alice paid the amount plus a fee; the fee is what the runtime charged, no more.
  u128 spent = 1'000'000'000'000ull - alice_after->free;
  EXPECT_TRUE(spent > 123'456'789ull && spent < 123'456'789ull + 1'000'000'000ull) << u128_to_string(spent);
}

TEST_F(Subtensor, AFailingCallSurfacesTheRuntimesErrorByName) {
  Keypair carol = fresh_key(4);
  fund(*client, carol.public_key(), 1'000'000'000'000ull);
  auto refused = client->submit(carol, "SubtensorModule", "burned_register",
                                {{"netuid", 77}, {"hotkey", hex_of(fresh_key(5).public_key())}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("SubtensorModule::"), std::string::npos) << refused.status().message();
  std::cout << "runtime refusal: " << refused.status().message() << "\n";
  // A transaction the pool refuses (no funds for the fee) is the node's message, not a hang.
  auto broke = client->submit(fresh_key(6), "Balances", "transfer_keep_alive",
                              {{"dest", {{"Id", hex_of(carol.public_key())}}}, {"value", 1}});
  ASSERT_FALSE(broke.ok());
  EXPECT_NE(broke.status().message().find("author_submitAndWatchExtrinsic"), std::string::npos) << broke.status().message();
}

TEST_F(Subtensor, ANewHeadSubscriptionSeesTheBlocksBuilt) {
  auto other = SubstrateClient::connect(Chopsticks::url);
  ASSERT_TRUE(other.ok());
  auto head = client->best_header();
  ASSERT_TRUE(head.ok());
  auto sub = client->rpc().subscribe("chain_subscribeNewHeads", nlohmann::json::array());
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  auto built = (*other)->rpc().call("dev_newBlock", {{{"count", 3}}});
  ASSERT_TRUE(built.ok()) << built.status().to_string();
  std::vector<std::uint64_t> seen;
  while (seen.empty() || seen.back() < head->number + 3) {
    auto h = client->rpc().next(*sub, std::chrono::seconds(30));
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    std::string number = (*h)["number"].get<std::string>();
    seen.push_back(std::stoull(number.substr(2), nullptr, 16));
  }
  EXPECT_EQ(seen.back(), head->number + 3);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_EQ(seen[i], seen[i - 1] + 1);
  EXPECT_TRUE(client->rpc().unsubscribe("chain_unsubscribeNewHeads", *sub).ok());
  // watch_heads: the same through the typed client (a node sends the current head
  // first, then each new one).
  std::vector<std::uint64_t> watched_numbers;
  auto more = (*other)->rpc().call("dev_newBlock", {{{"count", 1}}});
  ASSERT_TRUE(more.ok());
  Status watched = client->watch_heads(
      [&](const Header& h) {
        watched_numbers.push_back(h.number);
        return h.number < head->number + 4;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(watched.ok()) << watched.to_string();
  ASSERT_FALSE(watched_numbers.empty());
  EXPECT_EQ(watched_numbers.back(), head->number + 4);
}

TEST_F(Subtensor, PagedMapReadsAndStorageDefaults) {
  Keypair dave = fresh_key(7);
  fund(*client, dave.public_key(), 42);
  auto accounts = client->storage_entries("System", "Account", nlohmann::json::array(), 100'000, 2);
  ASSERT_TRUE(accounts.ok()) << accounts.status().to_string();
  bool found = false;
  for (const auto& [key, value] : *accounts) {
    Bytes tail(key.end() - 32, key.end());
    if (tail == Bytes(dave.public_key().begin(), dave.public_key().end())) found = value["data"]["free"] == 42;
  }
  EXPECT_TRUE(found) << accounts->size() << " accounts read";
  auto networks = client->storage("SubtensorModule", "TotalNetworks");
  ASSERT_TRUE(networks.ok()) << networks.status().to_string();
  EXPECT_TRUE(networks->is_number_unsigned());
}

// `tessera wallet balance|transfer --chain ws://…`: the CLI, as a user runs it, against the
// runtime. The URL's scheme selects the subtensor backend.
TEST_F(Subtensor, WalletBalanceAndTransferFromTheCommandLine) {
  testing::TempDir home;
  auto tessera = [&](const std::string& args) {
    return testing::run_command(std::string(TESSERA_BINARY) + " --home " + home.path().string() + " " + args + " 2>&1");
  };
  ASSERT_EQ(tessera("wallet create --name alice").exit_code, 0);
  auto shown = tessera("wallet show --name alice --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  auto keys = nlohmann::json::parse(shown.output);
  auto cold = ss58_decode(keys["coldkey_ss58"].get<std::string>());
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ(hex_of(*cold, false), keys["coldkey"].get<std::string>());
  fund(*client, *cold, 5'000'000'000ull);  // 5 TAO

  auto balance = tessera("wallet balance --name alice --json --chain " + Chopsticks::url);
  ASSERT_EQ(balance.exit_code, 0) << balance.output;
  auto b = nlohmann::json::parse(balance.output);
  EXPECT_EQ(b["coldkey_rao"], 5'000'000'000ull);
  EXPECT_EQ(b["hotkey_rao"], 0);

  Keypair dest = fresh_key(9);
  fund(*client, dest.public_key(), 1'000'000'000ull);
  auto sent = tessera("wallet transfer --name alice --to " + ss58_encode(dest.public_key()) + " --amount 1.25 --chain " +
                      Chopsticks::url);
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_NE(sent.output.find("sent 1.25 TAO"), std::string::npos) << sent.output;
  auto got = client->account(dest.public_key());
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->free == 2'250'000'000ull) << u128_to_string(got->free);

  // Too much: the runtime's own error, by name, and a non-zero exit.
  auto broke = tessera("wallet transfer --name alice --to " + ss58_encode(dest.public_key()) + " --amount 100 --chain " +
                       Chopsticks::url);
  EXPECT_NE(broke.exit_code, 0);
  EXPECT_NE(broke.output.find("Balances::"), std::string::npos) << broke.output;
  std::cout << "refused transfer: " << broke.output;
  // A subnet that does not exist is named; creating one on this runtime takes the sudo key.
  auto show = tessera("subnet show --netuid 60 --chain " + Chopsticks::url);
  EXPECT_NE(show.exit_code, 0);
  EXPECT_NE(show.output.find("subnet 60 does not exist"), std::string::npos) << show.output;
  auto create = tessera("subnet create --spec " + (kSource / "examples/tiny.toml").string() + " --wallet alice --chain " +
                        Chopsticks::url);
  EXPECT_NE(create.exit_code, 0);
  EXPECT_NE(create.output.find("needs the chain's sudo key"), std::string::npos) << create.output;
}

// The roles' path through ChainClient on the real runtime: a subnet (made with sudo: this
// genesis has no ordinary subnet creation), neurons (sudo_register: burned registration
// is disabled here, which the ordinary path shows by name), weights from the validator,
// and the runtime's own epoch ranking the miners as the weights do.
TEST_F(Subtensor, WeightsSetThroughTheChainClientRankMinersInTheRuntimesEpoch) {
  auto chain = chain::connect_chain(Chopsticks::url);
  ASSERT_TRUE(chain.ok()) << chain.status().to_string();
  Keypair sudo = fresh_key(20), validator_cold = fresh_key(21), validator_hot = fresh_key(22);
  Keypair miner1 = fresh_key(23), miner2 = fresh_key(24), cold = fresh_key(25);
  fund(*client, sudo.public_key(), 1'000'000'000'000ull);
  fund(*client, validator_cold.public_key(), 1'000'000'000'000ull);
  fund(*client, validator_hot.public_key(), 1'000'000'000ull);
  fund(*client, cold.public_key(), 1'000'000'000'000ull);
  auto set_sudo = client->rpc().call("dev_setStorage", nlohmann::json::array({{{"Sudo", {{"Key", ss58_encode(sudo.public_key())}}}}}));
  ASSERT_TRUE(set_sudo.ok()) << set_sudo.status().to_string();
  // Long enough that no epoch runs during the set-up's blocks (Instant mode: one block
  // per extrinsic), so the validator has no permit until the first epoch below.
  const std::uint64_t tempo = 30;
  auto as_sudo = [&](const nlohmann::json& call) {
    auto r = client->submit(sudo, "Sudo", "sudo", {{"call", {{"SubtensorModule", call}}}});
    EXPECT_TRUE(r.ok()) << call.dump() << ": " << r.status().to_string();
    // Sudo.sudo succeeds even when the inner call fails; the Sudid event carries its result.
    if (r.ok())
      for (const auto& e : r->events) {
        if (e.name == "Sudid") {
          EXPECT_FALSE(e.fields.dump().find("Err") != std::string::npos) << call.dump() << ": " << e.fields.dump();
        }
      }
  };
  // Subnet creation through ChainClient: this runtime has no register_network, so it is
  // sudo_add_network, which only the sudo key may sign.
  proto::SubnetParams params;
  params.set_tempo(static_cast<std::uint32_t>(tempo));
  params.set_min_allowed_weights(1);
  params.set_max_weight_limit_u16(65535);
  params.set_weights_rate_limit(1);
  auto refused = (*chain)->create_subnet(cold, "", params);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("needs the chain's sudo key (" + ss58_encode(sudo.public_key()) + ")"),
            std::string::npos) << refused.status().message();
  auto created = (*chain)->create_subnet(sudo, "", params);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  const std::uint32_t netuid = *created;

  // Registrations and the first weights (5 blocks: one per extrinsic) must fall before
  // the next epoch, so that the validator has no permit yet: skip past an epoch that is
  // too close.
  auto now = client->best_header();
  ASSERT_TRUE(now.ok());
  const std::uint64_t until_epoch = (*chain)->next_epoch_block(netuid, tempo, now->number) - now->number;
  if (until_epoch <= 8) {
    ASSERT_TRUE(client->rpc().call("dev_newBlock", {{{"count", until_epoch + 1}}}).ok());
  }

  // The ordinary path: burned registration, refused by this genesis by name.
  auto burned = (*chain)->register_hotkey(cold, miner1.public_key(), netuid);
  ASSERT_FALSE(burned.ok());
  EXPECT_NE(burned.status().message().find("SubtensorModule::RegistrationDisabled"), std::string::npos)
      << burned.status().message();

  as_sudo({{"sudo_register", {{"netuid", netuid}, {"hotkey", hex_of(validator_hot.public_key())},
                              {"coldkey", hex_of(validator_cold.public_key())}, {"stake", 100'000'000'000ull}, {"balance", 0}}}});
  as_sudo({{"sudo_register", {{"netuid", netuid}, {"hotkey", hex_of(miner1.public_key())},
                              {"coldkey", hex_of(cold.public_key())}, {"stake", 0}, {"balance", 0}}}});
  as_sudo({{"sudo_register", {{"netuid", netuid}, {"hotkey", hex_of(miner2.public_key())},
                              {"coldkey", hex_of(cold.public_key())}, {"stake", 0}, {"balance", 0}}}});

  // The validator serves: its axon points at its endpoint-info service, whose record
  // (submission address, CURVE key and CheckpointService, signed by its hotkey) another
  // client reads back.
  std::string curve(32, '\x07');
  auto loopback = (*chain)->serve(validator_hot, netuid, "tcp://127.0.0.1:45999", curve, "");
  ASSERT_FALSE(loopback.ok());  // the runtime's rule, with the way around it
  EXPECT_NE(loopback.status().message().find("SubtensorModule::InvalidIpAddress"), std::string::npos);
  EXPECT_NE(loopback.status().message().find("127.0.0.2"), std::string::npos) << loopback.status().message();
  auto served = (*chain)->serve(validator_hot, netuid, "tcp://127.0.0.2:45999", curve, "127.0.0.2:45998");
  ASSERT_TRUE(served.ok()) << served.status().to_string();
  // A miner whose axon points at the validator's service gets nothing from it: the record
  // is signed by another hotkey.
  auto axon = client->storage("SubtensorModule", "Axons", {netuid, hex_of(validator_hot.public_key())});
  ASSERT_TRUE(axon.ok() && axon->is_object()) << axon.status().to_string();
  fund(*client, miner1.public_key(), 1'000'000'000ull);
  auto copied = client->submit(miner1, "SubtensorModule", "serve_axon",
                               {{"netuid", netuid}, {"version", 1}, {"ip", (*axon)["ip"]}, {"port", (*axon)["port"]},
                                {"ip_type", 4}, {"protocol", 0}, {"placeholder1", 0}, {"placeholder2", 0}});
  ASSERT_TRUE(copied.ok()) << copied.status().to_string();

  auto reader = chain::connect_chain(Chopsticks::url);
  ASSERT_TRUE(reader.ok());
  auto subnet = (*reader)->subnet(netuid);
  ASSERT_TRUE(subnet.ok()) << subnet.status().to_string();
  ASSERT_EQ(subnet->neurons.size(), 3u);
  EXPECT_EQ(subnet->params.tempo(), tempo);
  EXPECT_EQ(subnet->params.min_allowed_weights(), 1u);
  EXPECT_EQ(subnet->params.max_weight_limit_u16(), 65535u);
  EXPECT_EQ(subnet->params.weights_rate_limit(), 1u);
  auto v_uid = chain::find_uid(*subnet, validator_hot.public_key());
  auto m1 = chain::find_uid(*subnet, miner1.public_key());
  auto m2 = chain::find_uid(*subnet, miner2.public_key());
  ASSERT_TRUE(v_uid && m1 && m2);
  EXPECT_EQ(subnet->neurons[*v_uid].stake, 100'000'000'000ull);
  EXPECT_EQ(subnet->neurons[*m1].coldkey, std::string(cold.public_key().begin(), cold.public_key().end()));
  EXPECT_EQ(subnet->neurons[*v_uid].address, "tcp://127.0.0.2:45999");
  EXPECT_EQ(subnet->neurons[*v_uid].curve_public_key, curve);
  EXPECT_EQ(subnet->neurons[*v_uid].checkpoint_address, "127.0.0.2:45998");
  EXPECT_EQ(subnet->neurons[*m1].address, "");
  EXPECT_EQ(subnet->neurons[*m1].checkpoint_address, "");
  EXPECT_EQ(subnet->neurons[*m1].curve_public_key, "");
  EXPECT_EQ(subnet->neurons[*m2].address, "");

  // Checkpoint announcements: this runtime keeps none, so they are signed by the
  // aggregator the owner designated and served by the endpoint-info service its axon names.
  auto undesignated = (*reader)->checkpoint(netuid, std::nullopt);
  ASSERT_FALSE(undesignated.ok());
  EXPECT_NE(undesignated.status().message().find("--aggregator"), std::string::npos) << undesignated.status().message();
  ASSERT_TRUE((*chain)->designate_aggregator(netuid, validator_hot.public_key()).ok());
  const std::string c3(32, '\x33'), c4(32, '\x44');
  auto impostor = (*chain)->announce_checkpoint(miner1, netuid, 3, c3, "127.0.0.2:45998");
  ASSERT_FALSE(impostor.ok());
  EXPECT_NE(impostor.status().message().find("is not the aggregator designated"), std::string::npos);
  ASSERT_TRUE((*chain)->announce_checkpoint(validator_hot, netuid, 3, c3, "127.0.0.2:45998").ok());
  ASSERT_TRUE((*chain)->announce_checkpoint(validator_hot, netuid, 4, c4, "127.0.0.2:45998").ok());
  ASSERT_TRUE((*reader)->designate_aggregator(netuid, validator_hot.public_key()).ok());
  auto newest = (*reader)->checkpoint(netuid, std::nullopt);
  ASSERT_TRUE(newest.ok() && newest->has_value()) << newest.status().to_string();
  EXPECT_EQ((*newest)->window, 4u);
  EXPECT_EQ((*newest)->hash, c4);
  EXPECT_EQ((*newest)->address, "127.0.0.2:45998");
  EXPECT_EQ((*newest)->announcer, std::string(validator_hot.public_key().begin(), validator_hot.public_key().end()));
  auto third = (*reader)->checkpoint(netuid, 3);
  ASSERT_TRUE(third.ok() && third->has_value()) << third.status().to_string();
  EXPECT_EQ((*third)->hash, c3);
  auto absent = (*reader)->checkpoint(netuid, 9);
  ASSERT_TRUE(absent.ok()) << absent.status().to_string();
  EXPECT_FALSE(absent->has_value());
  auto designated = (*reader)->subnet(netuid);
  ASSERT_TRUE(designated.ok());
  EXPECT_EQ(designated->params.aggregator_hotkey(), (*newest)->announcer);
  // A reader told another aggregator (miner1, whose axon points at the validator's
  // service) accepts nothing from that service.
  auto misled = chain::connect_chain(Chopsticks::url);
  ASSERT_TRUE(misled.ok());
  ASSERT_TRUE((*misled)->designate_aggregator(netuid, miner1.public_key()).ok());
  auto withheld = (*misled)->checkpoint(netuid, std::nullopt);
  ASSERT_FALSE(withheld.ok());
  EXPECT_NE(withheld.status().message().find("not by the designated aggregator"), std::string::npos) << withheld.status().message();

  // Validator permits are handed out by an epoch: before one, weights are refused by name.
  auto early = (*chain)->set_weights(validator_hot, netuid, {*m1, *m2}, {60000, 20000}, subnet->params.version_key());
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.status().message().find("SubtensorModule::NoValidatorPermit"), std::string::npos) << early.status().message();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(client->rpc().call("dev_newBlock", {{{"count", tempo + 2}}}).ok());
  std::cout << tempo + 2 << " blocks built in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count() << " ms\n";
  auto permitted = (*chain)->subnet(netuid);
  ASSERT_TRUE(permitted.ok());
  EXPECT_TRUE(permitted->neurons[*v_uid].validator_permit);
  // The epoch ran in a block of the runtime's phase (the client's next_epoch_block), one
  // block before the embedded ledger's.
  const std::uint64_t epoch = permitted->last_epoch_block;
  ASSERT_GT(epoch, 0u);
  EXPECT_EQ((*chain)->next_epoch_block(netuid, tempo, epoch - 1), epoch);
  EXPECT_EQ(chain::subtensor_next_epoch_block(netuid, tempo, epoch - 1), epoch);
  const EpochSchedule ledger_phase{static_cast<std::uint16_t>(netuid), static_cast<std::uint16_t>(tempo)};
  EXPECT_FALSE(ledger_phase.is_epoch_block(epoch));
  EXPECT_TRUE(ledger_phase.is_epoch_block(epoch + 1));

  auto weights = (*chain)->set_weights(validator_hot, netuid, {*m1, *m2}, {60000, 20000}, subnet->params.version_key());
  ASSERT_TRUE(weights.ok()) << weights.status().to_string();
  // This runtime has no commit–reveal: the call is named, with what to do.
  auto commit = (*chain)->commit_weights(validator_hot, netuid, std::string(32, '\0'));
  ASSERT_FALSE(commit.ok());
  EXPECT_NE(commit.status().message().find("no SubtensorModule.commit_weights"), std::string::npos) << commit.status().message();
  auto built = client->rpc().call("dev_newBlock", {{{"count", 2 * (tempo + 1)}}});
  ASSERT_TRUE(built.ok()) << built.status().to_string();

  auto after = (*chain)->subnet(netuid);
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  const auto& n = after->neurons;
  std::cout << "runtime epoch: incentive uid" << *m1 << " " << n[*m1].incentive_u16 << ", uid" << *m2 << " "
            << n[*m2].incentive_u16 << "; emission " << n[*m1].last_emission << " / " << n[*m2].last_emission
            << "; validator dividends " << n[*v_uid].dividends_u16 << "\n";
  EXPECT_GT(n[*m1].incentive_u16, n[*m2].incentive_u16);
  EXPECT_GT(n[*m2].incentive_u16, 0u);
  EXPECT_GE(n[*m1].last_emission, n[*m2].last_emission);
}

// Subtensor's table of first epoch blocks (tempo, netuid → block) in its
// blocks_until_next_epoch: 1, 0 → 0; 1, 1 → 1; 2, 0 → 1; 2, 1 → 0; 100, 0 → 99; 100, 1 → 98.
TEST(SubtensorEpochPhase, MatchesTheRuntimesTable) {
  struct Row {
    std::uint32_t tempo, netuid;
    std::uint64_t first;
  };
  for (const Row& r : {Row{1, 0, 0}, Row{1, 1, 1}, Row{2, 0, 1}, Row{2, 1, 0}, Row{100, 0, 99}, Row{100, 1, 98}}) {
    const std::uint64_t after_0 = chain::subtensor_next_epoch_block(r.netuid, r.tempo, 0);
    // Block 0 is an epoch block exactly when the next one after it is a period later.
    EXPECT_EQ(after_0, r.first == 0 ? r.tempo + 1 : r.first) << "tempo " << r.tempo << ", netuid " << r.netuid;
    EXPECT_EQ(chain::subtensor_next_epoch_block(r.netuid, r.tempo, r.first), r.first + r.tempo + 1);
  }
  EXPECT_EQ(chain::subtensor_next_epoch_block(3, 0, 7), UINT64_MAX);
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A TLS terminator for the node, on `port` (0: any); returns its port.
struct TlsProxy {
  testing::TempDir dir;
  std::string key, cert;
  std::unique_ptr<testing::Process> process;
  std::string node;
  TlsProxy() : key((dir / "key.pem").string()), cert((dir / "cert.pem").string()) {
    auto made = testing::run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
                                     "-subj /CN=tessera-test -addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " +
                                     cert + " 2>&1");
    EXPECT_EQ(made.exit_code, 0) << made.output;
    auto which = testing::run_command("command -v node");
    node = which.output;
    while (!node.empty() && std::isspace(static_cast<unsigned char>(node.back()))) node.pop_back();
  }
  std::string start(const std::string& listen_port, int generation) {
    const std::string target = Chopsticks::url.substr(Chopsticks::url.rfind(':') + 1);
    const auto log = dir / ("proxy" + std::to_string(generation) + ".log");
    process = std::make_unique<testing::Process>(
        std::vector<std::string>{node, (kSource / "tests/subtensor/tls-proxy.mjs").string(), key, cert, target, listen_port}, log);
    return testing::wait_for_match(log, R"(tls proxy on (\d+))", std::chrono::seconds(20));
  }
};

// wss://: the same node behind a TLS terminator with a self-signed certificate for
// 127.0.0.1. Trusted (SSL_CERT_FILE, as for any OpenSSL client) it works end to end; not
// trusted, the handshake is refused and says why.
TEST_F(Subtensor, WssVerifiesTheServerCertificate) {
  TlsProxy proxy;
  const std::string tls_port = proxy.start("0", 0);
  ASSERT_FALSE(tls_port.empty());
  const std::string wss = "wss://127.0.0.1:" + tls_port;
  const std::string cert = proxy.cert;

  ::unsetenv("SSL_CERT_FILE");
  auto untrusted = SubstrateClient::connect(wss);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.status().message().find("TLS handshake"), std::string::npos) << untrusted.status().message();
  EXPECT_NE(untrusted.status().message().find("certificate verify failed"), std::string::npos) << untrusted.status().message();

  ::setenv("SSL_CERT_FILE", cert.c_str(), 1);
  auto trusted = SubstrateClient::connect(wss);
  ::unsetenv("SSL_CERT_FILE");
  ASSERT_TRUE(trusted.ok()) << trusted.status().to_string();
  EXPECT_EQ((*trusted)->identity().version.spec_version, 103u);
  Keypair a = fresh_key(30), b = fresh_key(31);
  fund(**trusted, a.public_key(), 1'000'000'000'000ull);
  auto sent = (*trusted)->submit(a, "Balances", "transfer_keep_alive", {{"dest", {{"Id", hex_of(b.public_key())}}}, {"value", 777}});
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  auto got = (*trusted)->account(b.public_key());
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->free == 777);
}

// scripts/subtensor-localnet.sh as a user runs it: funded wallets, a sudo key, a subnet
// from a run spec, blocks that advance on their own, and a clean stop on SIGTERM.
TEST_F(Subtensor, TheLocalnetScriptStartsFundsCreatesTicksAndStops) {
  testing::TempDir home;
  const std::string port = std::to_string(free_port());
  auto script = std::make_unique<testing::Process>(
      std::vector<std::string>{"/bin/bash", (kSource / "scripts/subtensor-localnet.sh").string(), "--port", port,
                               "--block-time-ms", "200", "--home", home.path().string(), "--fund", "owner=1000",
                               "--fund", "alice=7", "--sudo", "owner", "--subnet", (kSource / "examples/tiny.toml").string()},
      home / "localnet.log", fs::path{}, std::vector<std::string>{std::string("TESSERA=") + TESSERA_BINARY});
  std::string url = testing::wait_for_match(home / "localnet.log", R"(subtensor localnet on (ws://\S+))", std::chrono::seconds(120));
  ASSERT_FALSE(url.empty()) << testing::run_command("cat " + (home / "localnet.log").string()).output;
  EXPECT_NE(testing::run_command("cat " + (home / "localnet.log").string()).output.find("netuid 1"), std::string::npos);
  auto c = SubstrateClient::connect(url);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto first = (*c)->best_header();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(testing::wait_until(
      [&] {
        auto h = (*c)->best_header();
        return h.ok() && h->number >= first->number + 3;
      },
      std::chrono::seconds(30)))
      << "blocks do not advance on their own";
  auto shown = testing::run_command(std::string(TESSERA_BINARY) + " --home " + home.path().string() +
                                    " wallet balance --name alice --json --chain " + url + " 2>&1");
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_EQ(nlohmann::json::parse(shown.output)["coldkey_rao"], 7'000'000'000ull);
  auto chain = chain::connect_chain(url);
  ASSERT_TRUE(chain.ok());
  auto subnet = (*chain)->subnet(1);
  ASSERT_TRUE(subnet.ok()) << subnet.status().to_string();
  EXPECT_GT(subnet->params.tempo(), 0u);
  c->reset();
  chain->reset();
  script->signal(SIGTERM);
  int code = -1;
  ASSERT_TRUE(script->wait(std::chrono::seconds(20), &code));
  EXPECT_EQ(code, 0);
  RpcOptions quick;
  quick.connect_timeout = std::chrono::seconds(2);
  EXPECT_FALSE(RpcClient::connect(url, quick).ok()) << "chopsticks still answers after the script stopped";
}

// A connection that breaks: the next call retries with exponential backoff, reports the
// failure after the last attempt, and once the server is back the call after reconnects.
TEST_F(Subtensor, ALostConnectionIsRetriedWithBackoffAndRecovers) {
  TlsProxy proxy;
  const std::string port = std::to_string(free_port());
  ASSERT_EQ(proxy.start(port, 1), port);
  ::setenv("SSL_CERT_FILE", proxy.cert.c_str(), 1);
  RpcOptions options;
  options.reconnect_attempts = 3;
  options.backoff_initial = std::chrono::milliseconds(100);
  options.connect_timeout = std::chrono::seconds(2);
  auto rpc = RpcClient::connect("wss://127.0.0.1:" + port, options);
  ASSERT_TRUE(rpc.ok()) << rpc.status().to_string();
  ASSERT_TRUE((*rpc)->call("chain_getBlockHash", nlohmann::json::array({0})).ok());

  proxy.process.reset();  // the server goes away
  auto t0 = std::chrono::steady_clock::now();
  auto lost = (*rpc)->call("chain_getBlockHash", nlohmann::json::array({0}));
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().to_string();
  EXPECT_NE(lost.status().message().find("after 4 attempts"), std::string::npos) << lost.status().message();
  EXPECT_GE(waited, std::chrono::milliseconds(100 + 200 + 400)) << "backoff 100, 200, 400 ms between the attempts";

  ASSERT_EQ(proxy.start(port, 2), port);  // back, on the same port
  auto again = (*rpc)->call("chain_getBlockHash", nlohmann::json::array({0}));
  ::unsetenv("SSL_CERT_FILE");
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ((*rpc)->counters().reconnects, 1u);
}

TEST_F(Subtensor, AClosedPortAndABadUrlAreClearErrors) {
  RpcOptions quick;
  quick.connect_timeout = std::chrono::seconds(2);
  auto closed = RpcClient::connect("ws://127.0.0.1:1", quick);
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.status().code(), StatusCode::kUnavailable);
  auto bad = RpcClient::connect("http://127.0.0.1:9944");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("must start with ws:// or wss://"), std::string::npos);
}

TEST_F(Subtensor, AnAnswerOverTheSizeCapClosesTheConnectionAndTheNextCallReconnects) {
  RpcOptions small;
  small.max_message_bytes = 64 * 1024;  // the metadata is ~90 KB of hex
  auto rpc = RpcClient::connect(Chopsticks::url, small);
  ASSERT_TRUE(rpc.ok());
  auto big = (*rpc)->call("state_getMetadata", nlohmann::json::array());
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted) << big.status().to_string();
  auto again = (*rpc)->call("chain_getBlockHash", nlohmann::json::array({0}));
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ((*rpc)->counters().reconnects, 1u);
}

}  // namespace
}  // namespace tessera::substrate

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new tessera::substrate::Chopsticks);
  return RUN_ALL_TESTS();
}
