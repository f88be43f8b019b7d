#include "chain-bridge/client.h"
#include "chain-bridge/ledger.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/rng.h"

namespace tessera::chain {
namespace {

const char* kSpec = R"([run]
name = "t"
seed = 1
[model]
preset = "nano"
[data]
dir = "data/none"
[schedule]
tempo = 9
)";

Keypair key(std::uint64_t i) {
  std::array<std::uint8_t, 32> seed{};
  for (int b = 0; b < 8; ++b) seed[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
  seed[31] = 7;
  return Keypair::from_seed(seed);
}

// A ledger with funded accounts and a helper that signs with the right nonce.
struct Fixture {
  Ledger ledger;
  std::uint64_t block = 1;
  std::map<std::string, std::uint64_t> nonces;
  Keypair owner = key(1), alice = key(2), bob = key(3), alice_hot = key(12), bob_hot = key(13), val = key(4),
          val_hot = key(14);

  Fixture() {
    Genesis g;
    for (const Keypair* k : {&owner, &alice, &bob, &val}) g.balances.push_back({key_of(k->public_key()), 1000 * kRaoPerTao});
    ledger = Ledger::from_genesis(g);
  }
  Result<std::string> submit(const Keypair& signer, const proto::Call& call) {
    const Key k = key_of(signer.public_key());
    const Account* a = ledger.account(k);
    return ledger.apply(make_extrinsic(signer, ledger.state().chain_id, a ? a->nonce : 0, call), block);
  }
  void next_block() {
    ledger.end_block(block);
    ASSERT_EQ(ledger.state().total_issuance, ledger.accounted_total()) << "issuance invariant broken at block " << block;
    ++block;
  }
  std::uint32_t create_subnet(proto::SubnetParams params = {}) {
    proto::Call c;
    c.mutable_create_subnet()->set_spec_toml(kSpec);
    *c.mutable_create_subnet()->mutable_params() = params;
    auto r = submit(owner, c);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return static_cast<std::uint32_t>(std::stoul(r->substr(7)));
  }
  Result<std::string> reg(const Keypair& cold, const Keypair& hot, std::uint32_t netuid) {
    proto::Call c;
    c.mutable_register_()->set_netuid(netuid);
    c.mutable_register_()->set_hotkey(key_of(hot.public_key()));
    return submit(cold, c);
  }
  Result<std::string> weights(const Keypair& hot, std::uint32_t netuid, std::vector<std::uint32_t> uids,
                              std::vector<std::uint32_t> values) {
    proto::Call c;
    c.mutable_set_weights()->set_netuid(netuid);
    for (auto u : uids) c.mutable_set_weights()->add_uids(u);
    for (auto v : values) c.mutable_set_weights()->add_values(v);
    return submit(hot, c);
  }
  std::uint64_t balance(const Keypair& k) { return ledger.balance_of(key_of(k.public_key())); }
  Result<std::string> stake(const Keypair& cold, const Keypair& hot, std::uint32_t netuid, std::uint64_t amount) {
    proto::Call c;
    c.mutable_add_stake()->set_netuid(netuid);
    c.mutable_add_stake()->set_hotkey(key_of(hot.public_key()));
    c.mutable_add_stake()->set_amount(amount);
    return submit(cold, c);
  }
  // Blocks up to and through the next epoch of `netuid` (validator permits are granted there).
  void through_epoch(std::uint32_t netuid) {
    const std::uint64_t epoch = ledger.subnet(netuid)->last_epoch_block;
    while (ledger.subnet(netuid)->last_epoch_block == epoch) next_block();
  }
};

proto::Call transfer_call(const Keypair& to, std::uint64_t amount) {
  proto::Call c;
  c.mutable_transfer()->set_to(key_of(to.public_key()));
  c.mutable_transfer()->set_amount(amount);
  return c;
}

void expect_rejected(const Result<std::string>& r, const std::string& fragment) {
  ASSERT_FALSE(r.ok()) << "accepted, wanted rejection containing '" << fragment << "'";
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
}

TEST(Ledger, RejectsBadExtrinsicsWithTheirReasonAndChangesNothing) {
  Fixture f;
  const Hash256 before = f.ledger.state_hash();
  const std::string chain = f.ledger.state().chain_id;
  // Forged signature: a valid extrinsic with one bit of the body flipped.
  auto ex = make_extrinsic(f.alice, chain, 0, transfer_call(f.bob, 5));
  ex.mutable_body()->back() ^= 1;
  expect_rejected(f.ledger.apply(ex, 1), "signature");
  ex = make_extrinsic(f.alice, chain, 0, transfer_call(f.bob, 5));
  ex.mutable_signature()->at(0) ^= 1;
  expect_rejected(f.ledger.apply(ex, 1), "bad signature");
  ex.set_signature("short");
  expect_rejected(f.ledger.apply(ex, 1), "64 bytes");
  ex.set_body("\xff\xff garbage");
  expect_rejected(f.ledger.apply(ex, 1), "not a valid ExtrinsicBody");
  expect_rejected(f.ledger.apply(make_extrinsic(f.alice, chain, 5, transfer_call(f.bob, 5)), 1), "wrong nonce 5 (expected 0)");
  expect_rejected(f.ledger.apply(make_extrinsic(f.alice, "another-chain", 0, transfer_call(f.bob, 5)), 1), "is for chain");
  expect_rejected(f.submit(f.alice, transfer_call(f.bob, 2000 * kRaoPerTao)), "insufficient balance");
  expect_rejected(f.submit(f.alice, transfer_call(f.bob, 0)), "positive");
  expect_rejected(f.submit(f.alice, proto::Call()), "no call");
  expect_rejected(f.reg(f.alice, f.alice_hot, 42), "unknown subnet 42");
  proto::Call bad_spec;
  bad_spec.mutable_create_subnet()->set_spec_toml("[model]\npreset = 3\n");
  expect_rejected(f.submit(f.owner, bad_spec), "model.preset");
  EXPECT_EQ(f.ledger.state_hash(), before);
  // A replay of an accepted extrinsic fails on its nonce.
  ex = make_extrinsic(f.alice, chain, 0, transfer_call(f.bob, 5));
  ASSERT_TRUE(f.ledger.apply(ex, 1).ok());
  expect_rejected(f.ledger.apply(ex, 1), "wrong nonce 0 (expected 1)");
  EXPECT_EQ(f.balance(f.bob), 1000 * kRaoPerTao + 5);
}

TEST(Ledger, WeightsAreValidatedUpscaledAndRateLimited) {
  Fixture f;
  proto::SubnetParams p;
  p.set_weights_rate_limit(5);
  const auto netuid = f.create_subnet(p);
  ASSERT_TRUE(f.reg(f.alice, f.alice_hot, netuid).ok());
  ASSERT_TRUE(f.reg(f.bob, f.bob_hot, netuid).ok());
  expect_rejected(f.reg(f.bob, f.bob_hot, netuid), "already registered");
  expect_rejected(f.weights(f.val_hot, netuid, {0}, {1}), "not registered");
  expect_rejected(f.weights(f.alice_hot, netuid, {0, 7}, {1, 1}), "uid 7 does not exist");
  expect_rejected(f.weights(f.alice_hot, netuid, {1, 1}, {1, 1}), "repeated");
  expect_rejected(f.weights(f.alice_hot, netuid, {1}, {70000}), "exceeds u16");
  expect_rejected(f.weights(f.alice_hot, netuid, {1}, {1, 2}), "differ in length");
  expect_rejected(f.weights(f.alice_hot, netuid, {0, 1}, {100, 300}), "no validator permit");
  ASSERT_TRUE(f.stake(f.alice, f.alice_hot, netuid, kRaoPerTao).ok());
  f.through_epoch(netuid);  // the stake earns a validator permit
  ASSERT_TRUE(f.weights(f.alice_hot, netuid, {0, 1}, {100, 300}).ok());
  const auto& w = f.ledger.subnet(netuid)->neurons[0].weights;
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].second, 65535);  // max-upscaled
  EXPECT_EQ(w[0].second, 21845);
  f.next_block();
  expect_rejected(f.weights(f.alice_hot, netuid, {1}, {1}), "rate-limited");
  for (int i = 0; i < 5; ++i) f.next_block();
  EXPECT_TRUE(f.weights(f.alice_hot, netuid, {1}, {1}).ok());
}

TEST(Ledger, CommitRevealChecksHashTimingAndMode) {
  Fixture f;
  proto::SubnetParams p;
  p.set_commit_reveal(true);
  p.set_reveal_delay(3);
  p.set_reveal_window(4);
  p.set_weights_rate_limit(1);
  const auto netuid = f.create_subnet(p);
  ASSERT_TRUE(f.reg(f.alice, f.alice_hot, netuid).ok());
  ASSERT_TRUE(f.reg(f.bob, f.bob_hot, netuid).ok());
  ASSERT_TRUE(f.stake(f.alice, f.alice_hot, netuid, kRaoPerTao).ok());
  f.through_epoch(netuid);
  expect_rejected(f.weights(f.alice_hot, netuid, {1}, {1}), "commit-reveal");
  const Key hot = key_of(f.alice_hot.public_key());
  const std::string hash = weights_commit_hash(hot, netuid, {1}, {9}, "salt", 0);
  proto::Call commit;
  commit.mutable_commit_weights()->set_netuid(netuid);
  commit.mutable_commit_weights()->set_commit_hash(hash);
  ASSERT_TRUE(f.submit(f.alice_hot, commit).ok());
  auto reveal = [&](std::string salt) {
    proto::Call c;
    c.mutable_reveal_weights()->set_netuid(netuid);
    c.mutable_reveal_weights()->add_uids(1);
    c.mutable_reveal_weights()->add_values(9);
    c.mutable_reveal_weights()->set_salt(salt);
    return f.submit(f.alice_hot, c);
  };
  expect_rejected(reveal("salt"), "too early");
  for (int i = 0; i < 3; ++i) f.next_block();
  expect_rejected(reveal("pepper"), "do not match the commit");
  ASSERT_TRUE(reveal("salt").ok());
  EXPECT_EQ(f.ledger.subnet(netuid)->neurons[0].weights.size(), 1u);
  expect_rejected(reveal("salt"), "no weight commit");
  // A commit left too long expires.
  f.next_block();
  ASSERT_TRUE(f.submit(f.alice_hot, commit).ok());
  for (int i = 0; i < 9; ++i) f.next_block();
  expect_rejected(reveal("salt"), "too late");
}

TEST(Ledger, FullSubnetReplacesTheLowestEmissionNonImmuneUid) {
  Fixture f;
  proto::SubnetParams p;
  p.set_max_uids(2);
  p.set_immunity_period(5);
  const auto netuid = f.create_subnet(p);
  ASSERT_TRUE(f.reg(f.alice, f.alice_hot, netuid).ok());
  ASSERT_TRUE(f.reg(f.bob, f.bob_hot, netuid).ok());
  proto::Call stake;
  stake.mutable_add_stake()->set_netuid(netuid);
  stake.mutable_add_stake()->set_hotkey(key_of(f.bob_hot.public_key()));
  stake.mutable_add_stake()->set_amount(7 * kRaoPerTao);
  expect_rejected(f.submit(f.alice, stake), "only the coldkey");
  ASSERT_TRUE(f.submit(f.bob, stake).ok());
  const std::uint64_t bob_before = f.balance(f.bob);
  expect_rejected(f.reg(f.val, f.val_hot, netuid), "every uid is still immune");
  // Alice's hotkey earns at the epoch (it is the only staked... no: give emission by hand through weights).
  for (int i = 0; i < 12; ++i) f.next_block();  // past immunity and through an epoch (tempo 9)
  const auto* s = f.ledger.subnet(netuid);
  // Bob's neuron holds stake and so earns dividends; Alice's earns nothing: she is replaced.
  ASSERT_GT(s->neurons[1].last_emission, 0u);
  ASSERT_EQ(s->neurons[0].last_emission, 0u);
  auto r = f.reg(f.val, f.val_hot, netuid);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, "uid 0");
  EXPECT_EQ(f.ledger.subnet(netuid)->neurons[0].hotkey, key_of(f.val_hot.public_key()));
  EXPECT_EQ(f.balance(f.bob), bob_before);  // bob untouched
  f.next_block();
}

TEST(Ledger, EpochPaysOwnerMinersAndValidatorsAndKeepsIssuanceExact) {
  Fixture f;
  const auto netuid = f.create_subnet();  // tempo 9, 1 TAO per block, owner 18%
  ASSERT_TRUE(f.reg(f.val, f.val_hot, netuid).ok());      // uid 0: validator
  ASSERT_TRUE(f.reg(f.alice, f.alice_hot, netuid).ok());  // uid 1: miner
  ASSERT_TRUE(f.reg(f.bob, f.bob_hot, netuid).ok());      // uid 2: miner
  proto::Call stake;
  stake.mutable_add_stake()->set_netuid(netuid);
  stake.mutable_add_stake()->set_hotkey(key_of(f.val_hot.public_key()));
  stake.mutable_add_stake()->set_amount(100 * kRaoPerTao);
  ASSERT_TRUE(f.submit(f.val, stake).ok());
  const std::uint64_t owner_before = f.balance(f.owner);
  // Run until the validator holds a permit (first epoch), then weight the miners 3:1.
  while (!f.ledger.subnet(netuid)->neurons[0].validator_permit) f.next_block();
  ASSERT_TRUE(f.weights(f.val_hot, netuid, {1, 2}, {3, 1}).ok());
  const std::uint64_t epoch_before = f.ledger.subnet(netuid)->last_epoch_block;
  while (f.ledger.subnet(netuid)->last_epoch_block == epoch_before) f.next_block();
  for (int i = 0; i < 10; ++i) f.next_block();  // a second paid epoch
  const auto* s = f.ledger.subnet(netuid);
  const double a = static_cast<double>(s->neurons[1].last_emission), b = static_cast<double>(s->neurons[2].last_emission);
  EXPECT_NEAR(a / b, 3.0, 0.01);
  EXPECT_GT(s->neurons[0].last_emission, 0u);  // dividends
  // Miners share ~41%, validator ~41%, owner 18% of each epoch's 10 TAO.
  EXPECT_NEAR((a + b) / 1e9, 4.1, 0.05);
  EXPECT_NEAR(static_cast<double>(s->neurons[0].last_emission) / 1e9, 4.1, 0.05);
  EXPECT_GT(f.balance(f.owner), owner_before);
  EXPECT_EQ(f.balance(f.alice_hot), s->neurons[1].total_earned);
}

TEST(Ledger, GenesisStakeThresholdAndTheOwnerReachTheEpoch) {
  Fixture f;
  Genesis g;
  for (const Keypair* k : {&f.owner, &f.alice, &f.bob, &f.val}) g.balances.push_back({key_of(k->public_key()), 1000 * kRaoPerTao});
  g.rules.stake_threshold = 50 * kRaoPerTao;
  auto back = Genesis::from_json(g.to_json());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->rules.stake_threshold, 50 * kRaoPerTao);
  f.ledger = Ledger::from_genesis(g);
  const auto netuid = f.create_subnet();
  ASSERT_TRUE(f.reg(f.val, f.val_hot, netuid).ok());     // uid 0: stakes 10 TAO, below the threshold
  ASSERT_TRUE(f.reg(f.alice, f.alice_hot, netuid).ok());  // uid 1
  ASSERT_TRUE(f.reg(f.owner, f.owner, netuid).ok());      // uid 2: the owner's own key, no stake
  ASSERT_TRUE(f.stake(f.val, f.val_hot, netuid, 10 * kRaoPerTao).ok());
  f.through_epoch(netuid);
  const auto* s = f.ledger.subnet(netuid);
  EXPECT_FALSE(s->neurons[0].validator_permit);  // below the chain's stake threshold
  EXPECT_TRUE(s->neurons[2].validator_permit);   // the owner always holds one
}

// A genesis file is read like any file someone else wrote: a count of rao or a version is
// a non-negative JSON integer that fits, or the file is refused naming the field.
// nlohmann's get<std::uint64_t>() read -1 as 2^64 − 1 and 1.5 as 1 without a word.
TEST(Ledger, HostileGenesisNumbersAreRefusedWithTheirName) {
  Fixture f;
  Genesis g;
  for (const Keypair* k : {&f.owner, &f.alice}) g.balances.push_back({key_of(k->public_key()), 1000 * kRaoPerTao});
  const auto good = nlohmann::json::parse(g.to_json());
  ASSERT_TRUE(Genesis::from_json(good.dump()).ok());
  struct Case {
    std::string field;
    nlohmann::json value;
  };
  const std::vector<Case> cases = {
      {"subnet_lock_cost_rao", -1},          {"subnet_lock_cost_rao", 1.5},     {"subnet_lock_cost_rao", "100"},
      {"emission_rao_per_block", 1e30},      {"max_owner_cut_ppm", 4294967296}, {"rules_version", -2},
      {"stake_threshold_rao", nullptr},
  };
  for (const auto& c : cases) {
    auto bad = good;
    bad[c.field] = c.value;
    auto r = Genesis::from_json(bad.dump());
    ASSERT_FALSE(r.ok()) << c.field << " = " << c.value.dump();
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
  for (const nlohmann::json& rao : {nlohmann::json(-5), nlohmann::json(2.5), nlohmann::json("7"), nlohmann::json(1e20)}) {
    auto bad = good;
    bad["balances"][0]["rao"] = rao;
    auto r = Genesis::from_json(bad.dump());
    ASSERT_FALSE(r.ok()) << rao.dump();
    EXPECT_NE(r.status().message().find("rao"), std::string::npos) << r.status().message();
  }
  auto missing = good;
  missing["balances"][0].erase("rao");
  EXPECT_FALSE(Genesis::from_json(missing.dump()).ok());
  EXPECT_FALSE(Genesis::from_json("[1, 2]").ok());
}

TEST(Ledger, LiquidAlphaBoundsAreSubtensors) {
  Fixture f;
  proto::SubnetParams p;
  p.set_alpha_low_u16(1000);
  proto::Call c;
  c.mutable_create_subnet()->set_spec_toml(kSpec);
  *c.mutable_create_subnet()->mutable_params() = p;
  expect_rejected(f.submit(f.owner, c), "alpha_low_u16");
  p.set_alpha_low_u16(40000);
  p.set_alpha_high_u16(30000);
  *c.mutable_create_subnet()->mutable_params() = p;
  expect_rejected(f.submit(f.owner, c), "alpha_low_u16 <= alpha_high_u16");
  p.set_alpha_high_u16(50000);
  p.set_alpha_steepness(-300);
  const auto netuid = f.create_subnet(p);
  const auto& h = f.ledger.subnet(netuid)->hyper;
  EXPECT_EQ(h.alpha_low_u16, 40000u);
  EXPECT_EQ(h.alpha_steepness, -300);
}

// A neuron's CheckpointService address: kept by serve, in snapshots and in the state hash
// of format 3; format 2 (blocks written before it existed) leaves it out, so those blocks
// keep verifying.
TEST(Ledger, TheCheckpointAddressIsStateInFormat3Only) {
  // Two chains alike but for one neuron's checkpoint address.
  Fixture with, without;
  const auto serve = [](Fixture& f, std::uint32_t netuid, const std::string& checkpoint_address) {
    proto::Call c;
    c.mutable_serve()->set_netuid(netuid);
    c.mutable_serve()->set_address("tcp://10.0.0.1:4000");
    c.mutable_serve()->set_checkpoint_address(checkpoint_address);
    return f.submit(f.alice_hot, c);
  };
  for (Fixture* f : {&with, &without}) {
    const auto netuid = f->create_subnet();
    ASSERT_TRUE(f->reg(f->alice, f->alice_hot, netuid).ok());
    ASSERT_TRUE(serve(*f, netuid, f == &with ? "10.0.0.1:4001" : "").ok());
  }
  EXPECT_EQ(with.ledger.subnet(1)->neurons[0].checkpoint_address, "10.0.0.1:4001");
  EXPECT_EQ(with.ledger.state_hash(2), without.ledger.state_hash(2));
  EXPECT_NE(with.ledger.state_hash(3), without.ledger.state_hash(3));
  EXPECT_NE(with.ledger.state_hash(2), with.ledger.state_hash(3));
  auto back = Ledger::deserialize(with.ledger.serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->state_hash(3), with.ledger.state_hash(3));
  expect_rejected(serve(with, 1, std::string(300, 'a')), "checkpoint address must be at most 256 characters");
  EXPECT_THROW((void)with.ledger.state_hash(7), std::logic_error);
}

TEST(Ledger, SerialisedStateRoundTripsToTheSameHash) {
  Fixture f;
  const auto netuid = f.create_subnet();
  ASSERT_TRUE(f.reg(f.alice, f.alice_hot, netuid).ok());
  for (int i = 0; i < 12; ++i) f.next_block();
  auto back = Ledger::deserialize(f.ledger.serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->state_hash(), f.ledger.state_hash());
  EXPECT_FALSE(Ledger::deserialize("definitely not a ledger").ok());
}

}  // namespace
}  // namespace tessera::chain

namespace tessera::chain {
namespace {

// TAO amounts: exact where every rao matters, 4 aligned decimals in tables.
TEST(Tao, ExactAndShortFormats) {
  EXPECT_EQ(format_tao(75779318664), "75.779318664 TAO");
  EXPECT_EQ(format_tao(12500000000), "12.5 TAO");
  EXPECT_EQ(format_tao_short(75779318664), "75.7793 TAO");
  EXPECT_EQ(format_tao_short(75779350000, false), "75.7794");  // half up
  EXPECT_EQ(format_tao_short(999999950000, false), "1000.0000");
  EXPECT_EQ(format_tao_short(0, false), "0.0000");
  EXPECT_EQ(*parse_tao(format_tao(75779318664).substr(0, 12)), 75779318664u);
}

}  // namespace
}  // namespace tessera::chain
