// A chain that a restart can always rebuild: transactional extrinsics, replay from genesis
// and from a snapshot against every recorded state hash, a state hash that depends on
// the state alone, block-log recovery that keeps acknowledged blocks, the block 301
// fixture and a data folder written by the earlier build, and the emission rules.
#include <gtest/gtest.h>

#include <fstream>

#include "chain-bridge/block_log.h"
#include "chain-bridge/ledger.h"
#include "chain-bridge/node.h"
#include "chain-bridge/replay.h"
#include "core/file_io.h"
#include "core/rng.h"
#include "tests/test_util.h"

namespace tessera::chain {
namespace {

const std::filesystem::path kData = std::filesystem::path(TESSERA_SOURCE_DIR) / "tests/data/chain";

const char* kSpec = "[run]\nname = \"t\"\nseed = 1\n[model]\npreset = \"nano\"\n[data]\ndir = \"data/none\"\n"
                    "[schedule]\ntempo = 9\n";

Keypair key(std::uint64_t i) {
  std::array<std::uint8_t, 32> seed{};
  for (int b = 0; b < 8; ++b) seed[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
  seed[31] = 9;
  return Keypair::from_seed(seed);
}

// Builds blocks the way the node does: each extrinsic applied to the live state as it
// arrives, accepted ones kept for the block, the block's state hash recorded.
struct Chain {
  Genesis genesis;
  Ledger ledger;
  std::vector<proto::Block> blocks;
  std::string head_hash;
  std::vector<proto::Extrinsic> pending;
  std::map<std::uint64_t, std::string> snapshots;  // height → Ledger::serialize()

  explicit Chain(const std::vector<Keypair>& funded) {
    for (const auto& k : funded) genesis.balances.push_back({key_of(k.public_key()), 1000 * kRaoPerTao});
    ledger = Ledger::from_genesis(genesis);
    head_hash = *from_hex(genesis.id());
  }
  std::uint64_t height() const { return blocks.size() + 1; }  // of the block being built
  Result<std::string> submit(const Keypair& signer, const proto::Call& call, std::uint64_t nonce_offset = 0) {
    const Account* a = ledger.account(key_of(signer.public_key()));
    const auto ex = make_extrinsic(signer, ledger.state().chain_id, (a ? a->nonce : 0) + nonce_offset, call);
    const Hash256 before = ledger.state_hash();
    auto r = ledger.apply(ex, height());
    if (r.ok()) {
      pending.push_back(ex);
    } else {
      EXPECT_EQ(ledger.state_hash(), before) << "a rejected extrinsic changed the state: " << r.status().message();
    }
    return r;
  }
  void seal() {
    proto::Block b;
    b.set_height(height());
    b.set_parent_hash(head_hash);
    b.set_timestamp_ms(1000 * b.height());
    b.set_state_format(Ledger::kStateFormat);
    for (const auto& ex : pending) *b.add_extrinsics() = ex;
    pending.clear();
    ledger.end_block(b.height());
    ASSERT_EQ(ledger.state().total_issuance, ledger.accounted_total()) << "at block " << b.height();
    b.set_state_hash(raw_bytes(ledger.state_hash()));
    head_hash = raw_bytes(block_hash(b));
    blocks.push_back(b);
    if (b.height() % 7 == 0) snapshots[b.height()] = ledger.serialize();
  }
};

proto::Call transfer(const Keypair& to, std::uint64_t amount) {
  proto::Call c;
  c.mutable_transfer()->set_to(key_of(to.public_key()));
  c.mutable_transfer()->set_amount(amount);
  return c;
}

TEST(Replay, RandomValidAndInvalidExtrinsicsReplayFromGenesisAndFromSnapshots) {
  std::vector<Keypair> colds, hots;
  for (int i = 0; i < 6; ++i) {
    colds.push_back(key(100 + static_cast<std::uint64_t>(i)));
    hots.push_back(key(200 + static_cast<std::uint64_t>(i)));
  }
  Chain chain(colds);
  Rng rng(7);
  proto::Call create;
  create.mutable_create_subnet()->set_spec_toml(kSpec);
  proto::SubnetParams params;
  params.set_commit_reveal(true);
  params.set_reveal_delay(2);
  params.set_reveal_window(3);
  params.set_weights_rate_limit(2);
  params.set_max_uids(4);
  params.set_immunity_period(6);
  *create.mutable_create_subnet()->mutable_params() = params;
  ASSERT_TRUE(chain.submit(colds[0], create).ok());
  std::map<int, std::pair<std::vector<std::uint32_t>, std::string>> commits;  // hot index → (uids, salt)
  int accepted = 0, rejected = 0;
  for (int block = 0; block < 120; ++block) {
    for (int n = 0; n < 4; ++n) {
      const int who = static_cast<int>(rng.uniform(colds.size()));
      const Keypair& cold = colds[static_cast<std::size_t>(who)];
      const Keypair& hot = hots[static_cast<std::size_t>(who)];
      proto::Call c;
      std::uint64_t nonce_offset = 0;
      switch (rng.uniform(9)) {
        case 0:  // transfers, some beyond the balance
          c = transfer(colds[rng.uniform(colds.size())], rng.uniform(2) ? rng.uniform(5 * kRaoPerTao) + 1 : 5000 * kRaoPerTao);
          break;
        case 1:  // registrations (the subnet fills up; replacements after immunity)
          c.mutable_register_()->set_netuid(1);
          c.mutable_register_()->set_hotkey(key_of(hot.public_key()));
          break;
        case 2:  // stake, some to unregistered hotkeys or beyond the balance
          c.mutable_add_stake()->set_netuid(1);
          c.mutable_add_stake()->set_hotkey(key_of(hot.public_key()));
          c.mutable_add_stake()->set_amount(rng.uniform(2) ? 2 * kRaoPerTao : 9000 * kRaoPerTao);
          break;
        case 3: {  // commit, then reveal (sometimes early, late or wrong)
          const std::vector<std::uint32_t> uids = {static_cast<std::uint32_t>(rng.uniform(4))};
          const std::string salt(8, static_cast<char>('a' + rng.uniform(26)));
          c.mutable_commit_weights()->set_netuid(1);
          c.mutable_commit_weights()->set_commit_hash(weights_commit_hash(key_of(hot.public_key()), 1, uids, {7}, salt, 0));
          auto r = chain.submit(hot, c);
          if (r.ok()) commits[who] = {uids, salt};
          r.ok() ? ++accepted : ++rejected;
          continue;
        }
        case 4: {
          auto it = commits.find(who);
          if (it == commits.end()) continue;
          c.mutable_reveal_weights()->set_netuid(1);
          for (auto u : it->second.first) c.mutable_reveal_weights()->add_uids(u);
          c.mutable_reveal_weights()->add_values(7);
          c.mutable_reveal_weights()->set_salt(rng.uniform(5) == 0 ? std::string("wrong") : it->second.second);
          auto r = chain.submit(hot, c);
          r.ok() ? ++accepted : ++rejected;
          continue;
        }
        case 5:  // plain weights: always refused on a commit-reveal subnet
          c.mutable_set_weights()->set_netuid(1);
          c.mutable_set_weights()->add_uids(0);
          c.mutable_set_weights()->add_values(1);
          break;
        case 6:  // a wrong nonce
          c = transfer(colds[0], 1);
          nonce_offset = 1 + rng.uniform(3);
          break;
        case 7:  // announcements by the owner and by others (refused)
          c.mutable_announce_checkpoint()->set_netuid(1);
          c.mutable_announce_checkpoint()->set_window(static_cast<std::uint64_t>(block) / 2);
          c.mutable_announce_checkpoint()->set_hash(std::string(32, 'h'));
          break;
        default: {  // parameter changes by the owner and by others (refused), some invalid
          c.mutable_set_subnet_params()->set_netuid(1);
          c.mutable_set_subnet_params()->mutable_params()->set_weights_rate_limit(1 + rng.uniform(3));
          if (rng.uniform(3) == 0) c.mutable_set_subnet_params()->mutable_params()->set_owner_cut_ppm(900000);
          break;
        }
      }
      auto r = chain.submit(who == 0 || rng.uniform(2) ? cold : hot, c, nonce_offset);
      r.ok() ? ++accepted : ++rejected;
    }
    chain.seal();
  }
  EXPECT_GT(accepted, 50);
  EXPECT_GT(rejected, 50);

  // From genesis: every block's recorded hash.
  ReplayReport from_genesis;
  Ledger ledger = Ledger::from_genesis(chain.genesis);
  std::string head = *from_hex(chain.genesis.id());
  replay_blocks(chain.blocks, 0, &ledger, &head, &from_genesis);
  EXPECT_FALSE(from_genesis.diverged_at) << from_genesis.divergence;
  EXPECT_EQ(from_genesis.verified, chain.blocks.size());
  EXPECT_EQ(ledger.state_hash(), chain.ledger.state_hash());
  // From each snapshot: the rest of the log.
  for (const auto& [height, bytes] : chain.snapshots) {
    auto snapshot = Ledger::deserialize(bytes);
    ASSERT_TRUE(snapshot.ok());
    ReplayReport rest;
    std::string at = raw_bytes(block_hash(chain.blocks[height - 1]));
    replay_blocks(chain.blocks, height, &*snapshot, &at, &rest);
    EXPECT_FALSE(rest.diverged_at) << "from the snapshot at " << height << ": " << rest.divergence;
    EXPECT_EQ(snapshot->state_hash(), chain.ledger.state_hash());
  }
}

TEST(StateHash, DependsOnTheStateNotOnPaddingBytes) {
  Chain chain({key(1), key(2)});
  proto::Call create;
  create.mutable_create_subnet()->set_spec_toml(kSpec);
  ASSERT_TRUE(chain.submit(key(1), create).ok());
  proto::Call reg;
  reg.mutable_register_()->set_netuid(1);
  reg.mutable_register_()->set_hotkey(key_of(key(3).public_key()));
  ASSERT_TRUE(chain.submit(key(2), reg).ok());
  proto::Call stake;
  stake.mutable_add_stake()->set_netuid(1);
  stake.mutable_add_stake()->set_hotkey(key_of(key(3).public_key()));
  stake.mutable_add_stake()->set_amount(kRaoPerTao);
  ASSERT_TRUE(chain.submit(key(2), stake).ok());
  while (!chain.ledger.subnet(1)->neurons[0].validator_permit) chain.seal();
  proto::Call weights;
  weights.mutable_set_weights()->set_netuid(1);
  weights.mutable_set_weights()->add_uids(0);
  weights.mutable_set_weights()->add_values(5);
  ASSERT_TRUE(chain.submit(key(3), weights).ok());
  chain.seal();
  // The snapshot archive holds the weight entry as raw memory (column, value, 2 padding
  // bytes); a copy of the state whose padding holds other bytes is the same state.
  std::string bytes = chain.ledger.serialize();
  // A vector of one entry: its 8-byte count, then column 0, value 65535 (max-upscaled), padding.
  const std::string entry = std::string("\x01\0\0\0\0\0\0\0", 8) + std::string("\0\0\0\0\xff\xff\0\0", 8);
  const auto at = bytes.find(entry);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bytes.find(entry, at + 1), std::string::npos) << "the pattern must be the weight entry alone";
  bytes[at + 14] = '\x31';
  bytes[at + 15] = '\x65';
  auto garbled = Ledger::deserialize(bytes);
  ASSERT_TRUE(garbled.ok());
  EXPECT_EQ(garbled->state_hash(), chain.ledger.state_hash());
  // What earlier builds hashed, the archive, carries the garbage: it differs.
  EXPECT_NE(garbled->serialize(), chain.ledger.serialize());
}

TEST(ChainCheck, NamesBlock301OfTheFixtureAndProvesItsCause) {
  testing::TempDir dir;
  std::filesystem::copy(kData / "diverged-301", dir.path() / "chain", std::filesystem::copy_options::recursive);
  auto report = check_data_dir(dir.path() / "chain");
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->verified, 300u);
  ASSERT_TRUE(report->diverged_at);
  EXPECT_EQ(*report->diverged_at, 301u);
  EXPECT_NE(report->divergence.find("padding bytes of the bond of uid 0 for uid 1 on subnet 1 to 0x3165"),
            std::string::npos)
      << report->divergence;
  // The node refuses it the same way, naming the block.
  NodeOptions options;
  options.data_dir = dir.path() / "chain";
  auto refused = ChainNode::open(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("block 301 does not replay"), std::string::npos) << refused.status().message();
}

TEST(Upgrade, ADataFolderOfTheEarlierBuildOpensAndKeepsItsRules) {
  testing::TempDir dir;
  std::filesystem::copy(kData / "legacy-v1", dir.path() / "chain", std::filesystem::copy_options::recursive);
  NodeOptions options;
  options.data_dir = dir.path() / "chain";
  auto node = ChainNode::open(options);
  ASSERT_TRUE(node.ok()) << node.status().to_string();
  EXPECT_EQ((*node)->head().height, 212u);
  (*node)->read([](const Ledger& l, const Head&) {
    EXPECT_EQ(l.state().rules.version, 1u);  // its genesis predates the rules
    EXPECT_EQ(l.state().total_issuance, l.accounted_total());
    const SubnetState* s = l.subnet(1);
    EXPECT_NE(s, nullptr);
    if (s != nullptr) {
      EXPECT_EQ(s->neurons.size(), 2u);
      EXPECT_EQ(s->neurons[0].stake, 2 * kRaoPerTao);
      EXPECT_EQ(s->hyper.emission_per_block, kRaoPerTao);  // a version-1 subnet keeps its own emission
    }
    return 0;
  });
  auto report = check_data_dir(dir.path() / "chain");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->to_text();
}

// Appends raw bytes to a file.
void append(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

TEST(BlockLog, KeepsAcknowledgedBlocksAndCutsOnlyATornLastRecord) {
  testing::TempDir dir;
  const auto path = dir / "blocks.log";
  {
    std::vector<proto::Block> none;
    auto log = BlockLog::open(path, &none);
    ASSERT_TRUE(log.ok());
    for (std::uint64_t h = 1; h <= 3; ++h) {
      proto::Block b;
      b.set_height(h);
      ASSERT_TRUE(log->append(b).ok());
    }
    proto::Block huge;
    huge.set_height(4);
    huge.add_extrinsics()->set_body(std::string(kMaxRecord + 1, 'x'));
    const Status refused = log->append(huge);
    EXPECT_FALSE(refused.ok());
    EXPECT_NE(refused.message().find("over the log's record cap"), std::string::npos) << refused.message();
  }
  const auto good = std::filesystem::file_size(path);
  const std::string intact = *read_file(path);
  // An incomplete last record, and zeros past the end: torn, cut on open.
  for (const std::string tail : {intact.substr(0, 9), std::string(40, '\0')}) {
    testing::write_text(path, intact);
    append(path, tail);
    std::vector<proto::Block> blocks;
    std::uint64_t cut = 0;
    ASSERT_TRUE(BlockLog::open(path, &blocks, &cut).ok());
    EXPECT_EQ(blocks.size(), 3u);
    EXPECT_EQ(cut, tail.size());
    EXPECT_EQ(std::filesystem::file_size(path), good);
  }
  // A flipped byte in the second record, with a good record after it: refused, nothing cut.
  std::string damaged = intact;
  const std::size_t second = intact.find("TBLK", 4);
  ASSERT_NE(second, std::string::npos);
  damaged[second + 17] ^= 0x40;
  testing::write_text(path, damaged);
  std::vector<proto::Block> blocks;
  auto refused = BlockLog::open(path, &blocks);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kCorrupted);
  EXPECT_NE(refused.status().message().find("damage at offset " + std::to_string(second)), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(*read_file(path), damaged);
}

struct Funded {
  Keypair owner = key(11), other = key(12), hot_a = key(21), hot_b = key(22);
  Ledger ledger;
  explicit Funded(const Genesis& base) {
    Genesis g = base;
    g.balances = {{key_of(owner.public_key()), 1000 * kRaoPerTao}, {key_of(other.public_key()), 1000 * kRaoPerTao}};
    ledger = Ledger::from_genesis(g);
  }
  Result<std::string> submit(const Keypair& k, const proto::Call& c) {
    const Account* a = ledger.account(key_of(k.public_key()));
    return ledger.apply(make_extrinsic(k, ledger.state().chain_id, a ? a->nonce : 0, c), 1);
  }
  Result<std::string> create(const std::string& spec) {
    proto::Call c;
    c.mutable_create_subnet()->set_spec_toml(spec);
    return submit(owner, c);
  }
};

TEST(Emission, TheChainMintsAndSplitsItEquallyOwnersCannotMintOrTakeMoreThanTheLimit) {
  Genesis g;
  g.rules.emission_per_block = 3 * kRaoPerTao + 1;
  Funded f(g);
  // A spec asking for a huge emission and more than the chain's owner-cut limit.
  const std::string greedy = std::string(kSpec) + "[emission]\ntao_per_block = 1000000\nowner_share = 0.5\n"
                                                  "miner_share = 0.25\nvalidator_share = 0.25\n";
  auto refused = f.create(greedy);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("exceeds the chain's limit of 180000 ppm"), std::string::npos)
      << refused.status().message();
  const std::string asks = std::string(kSpec) + "[emission]\ntao_per_block = 1000000\n";
  ASSERT_TRUE(f.create(asks).ok());
  ASSERT_TRUE(f.create(asks).ok());
  const std::uint64_t issuance = f.ledger.state().total_issuance;
  f.ledger.end_block(1);  // no subnet has neurons yet: nothing is minted
  EXPECT_EQ(f.ledger.state().total_issuance, issuance);
  for (std::uint32_t netuid : {1u, 2u}) {
    proto::Call reg;
    reg.mutable_register_()->set_netuid(netuid);
    reg.mutable_register_()->set_hotkey(key_of((netuid == 1 ? f.hot_a : f.hot_b).public_key()));
    ASSERT_TRUE(f.submit(f.other, reg).ok());
  }
  const std::uint64_t before1 = f.ledger.subnet(1)->pending_emission, before2 = f.ledger.subnet(2)->pending_emission;
  f.ledger.end_block(2);
  EXPECT_EQ(f.ledger.state().total_issuance, issuance + 3 * kRaoPerTao + 1);  // the genesis amount, no more
  EXPECT_EQ(f.ledger.subnet(1)->pending_emission - before1, 3 * kRaoPerTao / 2 + 1);  // the odd rao to the lower netuid
  EXPECT_EQ(f.ledger.subnet(2)->pending_emission - before2, 3 * kRaoPerTao / 2);
  EXPECT_EQ(f.ledger.state().total_issuance, f.ledger.accounted_total());
  // Owners cannot raise their cut past the limit afterwards either.
  proto::Call raise;
  raise.mutable_set_subnet_params()->set_netuid(1);
  raise.mutable_set_subnet_params()->mutable_params()->set_owner_cut_ppm(180001);
  EXPECT_FALSE(f.submit(f.owner, raise).ok());
}

TEST(Ledger, SwitchesChangeOnlyWhenSet) {
  Funded f(Genesis{});
  proto::Call create;
  create.mutable_create_subnet()->set_spec_toml(kSpec);
  create.mutable_create_subnet()->mutable_params()->set_commit_reveal(true);
  ASSERT_TRUE(f.submit(f.owner, create).ok());
  // Naming the aggregator (as `tessera subnet set-aggregator` does) leaves commit-reveal on.
  proto::Call aggregator;
  aggregator.mutable_set_subnet_params()->set_netuid(1);
  aggregator.mutable_set_subnet_params()->mutable_params()->set_aggregator_hotkey(key_of(f.hot_a.public_key()));
  ASSERT_TRUE(f.submit(f.owner, aggregator).ok());
  EXPECT_TRUE(f.ledger.subnet(1)->hyper.commit_reveal);
  EXPECT_TRUE(f.ledger.subnet(1)->hyper.yuma3);
  // Yuma3 and commit-reveal can be turned off explicitly.
  proto::Call off;
  off.mutable_set_subnet_params()->set_netuid(1);
  off.mutable_set_subnet_params()->mutable_params()->set_yuma3(false);
  off.mutable_set_subnet_params()->mutable_params()->set_commit_reveal(false);
  ASSERT_TRUE(f.submit(f.owner, off).ok());
  EXPECT_FALSE(f.ledger.subnet(1)->hyper.yuma3);
  EXPECT_FALSE(f.ledger.subnet(1)->hyper.commit_reveal);
}

TEST(Ledger, ALateRevealChangesNothing) {
  Funded f(Genesis{});
  proto::Call create;
  create.mutable_create_subnet()->set_spec_toml(kSpec);
  auto* p = create.mutable_create_subnet()->mutable_params();
  p->set_commit_reveal(true);
  p->set_reveal_delay(1);
  p->set_reveal_window(1);
  ASSERT_TRUE(f.submit(f.owner, create).ok());
  proto::Call reg;
  reg.mutable_register_()->set_netuid(1);
  reg.mutable_register_()->set_hotkey(key_of(f.hot_a.public_key()));
  ASSERT_TRUE(f.submit(f.other, reg).ok());
  const Key hot = key_of(f.hot_a.public_key());
  proto::Call commit;
  commit.mutable_commit_weights()->set_netuid(1);
  commit.mutable_commit_weights()->set_commit_hash(weights_commit_hash(hot, 1, {0}, {1}, "s", 0));
  ASSERT_TRUE(f.ledger.apply(make_extrinsic(f.hot_a, f.ledger.state().chain_id, 0, commit), 1).ok());
  proto::Call reveal;
  reveal.mutable_reveal_weights()->set_netuid(1);
  reveal.mutable_reveal_weights()->add_uids(0);
  reveal.mutable_reveal_weights()->add_values(1);
  reveal.mutable_reveal_weights()->set_salt("s");
  const Hash256 before = f.ledger.state_hash();
  auto late = f.ledger.apply(make_extrinsic(f.hot_a, f.ledger.state().chain_id, 1, reveal), 10);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("too late"), std::string::npos);
  EXPECT_EQ(f.ledger.state_hash(), before);
  EXPECT_EQ(f.ledger.subnet(1)->commits.count(hot), 1u);
}

TEST(Ledger, BalanceOverflowIsRejected) {
  Genesis g;
  g.balances = {{key_of(key(1).public_key()), ~std::uint64_t{0} - 5}, {key_of(key(2).public_key()), 10}};
  Ledger l = Ledger::from_genesis(g);
  const Hash256 before = l.state_hash();
  auto r = l.apply(make_extrinsic(key(2), l.state().chain_id, 0, transfer(key(1), 10)), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("would overflow"), std::string::npos) << r.status().message();
  EXPECT_EQ(l.state_hash(), before);
  // A genesis whose balances overflow is refused.
  Genesis bad = g;
  bad.balances.push_back({key_of(key(3).public_key()), 10});
  EXPECT_FALSE(Genesis::from_json(bad.to_json()).ok());
}

}  // namespace
}  // namespace tessera::chain
