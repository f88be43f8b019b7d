// The embedded chain node as a real process: kill -9 in the middle of a stream of
// transfers, restart, and check that every acknowledged transfer survived and that the
// replayed state matches the block log.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "chain-bridge/client.h"
#include "chain-bridge/node.h"
#include "tests/test_util.h"

namespace tessera::chain {
namespace {

pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& home, const std::filesystem::path& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("TESSERA_HOME", home.c_str(), 1);
    FILE* out = std::fopen(log.c_str(), "a");
    if (out != nullptr) {
      dup2(fileno(out), 1);
      dup2(fileno(out), 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

TEST(ChainNode, SurvivesKill9WithoutLosingAcknowledgedTransfers) {
  testing::TempDir dir;
  const auto home = dir.path() / "home";
  const auto data = dir.path() / "chain";
  const std::vector<std::string> args = {TESSERA_BINARY, "chain", "start", "--listen", "127.0.0.1:0", "--data-dir",
                                         data.string(), "--block-time-ms", "40", "--snapshot-every", "7", "--fund",
                                         "alice=1000"};
  // Each start logs to its own file: the address is the port the OS picked that time.
  const auto started = [&](const std::filesystem::path& log) {
    const std::string port = testing::wait_for_match(log, "chain node ready on 127\\.0\\.0\\.1:([0-9]+)",
                                                     std::chrono::seconds(20));
    return port.empty() ? std::string() : "127.0.0.1:" + port;
  };
  pid_t pid = spawn(args, home, dir.path() / "node.log");
  const std::string address = started(dir.path() / "node.log");
  ASSERT_FALSE(address.empty()) << "the node printed no address";
  auto client = connect_embedded_chain(address, std::chrono::seconds(20));
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  auto alice = load_wallet(home, "alice");
  ASSERT_TRUE(alice.ok()) << alice.status().to_string();
  const Keypair bob = Keypair::generate();

  // Transfers of 1..n rao, one at a time; each acknowledged one is counted.
  std::atomic<std::uint64_t> acked_sum{0}, acked_count{0}, last_acked_block{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (std::uint64_t i = 1; !stop; ++i) {
      auto r = (*client)->transfer(alice->coldkey, bob.public_key(), i);
      if (!r.ok()) break;  // the node died under us
      acked_sum += i;
      ++acked_count;
      last_acked_block = r->block;
    }
  });
  ASSERT_TRUE(testing::wait_until([&] { return acked_count >= 15; }, std::chrono::seconds(30)));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  stop = true;
  sender.join();
  client->reset();

  // Offline: what the log holds, and the state its replay gives.
  std::vector<proto::Block> blocks;
  {
    auto log = BlockLog::open(data / "blocks.log", &blocks);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
  }
  ASSERT_FALSE(blocks.empty());
  NodeOptions opt;
  opt.data_dir = data;
  auto replayed = ChainNode::open(opt);
  ASSERT_TRUE(replayed.ok()) << replayed.status().to_string();
  const Head head = (*replayed)->head();
  EXPECT_EQ(head.height, blocks.back().height());
  const Hash256 last = block_hash(blocks.back());
  EXPECT_EQ(head.hash, std::string(reinterpret_cast<const char*>(last.data()), last.size()));
  EXPECT_GE(head.height, last_acked_block.load());
  const std::uint64_t bob_balance =
      (*replayed)->read([&](const Ledger& l, const Head&) { return l.balance_of(key_of(bob.public_key())); });
  // Every acknowledged transfer is there; at most the one in flight is extra.
  EXPECT_GE(bob_balance, acked_sum.load());
  EXPECT_LE(bob_balance, acked_sum.load() + acked_count.load() + 1);
  const bool invariant = (*replayed)->read([](const Ledger& l, const Head&) {
    return l.state().total_issuance == l.accounted_total();
  });
  EXPECT_TRUE(invariant);
  replayed->reset();

  // The node restarts as a process and keeps producing blocks on top.
  pid = spawn(args, home, dir.path() / "node-restarted.log");
  const std::string restarted = started(dir.path() / "node-restarted.log");
  ASSERT_FALSE(restarted.empty()) << "the restarted node printed no address";
  auto again = connect_embedded_chain(restarted, std::chrono::seconds(20));
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  auto account = (*again)->account(bob.public_key());
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(account->balance, bob_balance);
  auto t = (*again)->transfer(alice->coldkey, bob.public_key(), 1);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_GT(t->block, head.height);
  // Block watching: three consecutive new heads, in order.
  std::vector<std::uint64_t> seen;
  auto watched = (*again)->watch_blocks(
      [&](const HeadInfo& h) {
        seen.push_back(h.height);
        return seen.size() < 3;
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(watched.ok()) << watched.to_string();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1], seen[0] + 1);
  EXPECT_EQ(seen[2], seen[1] + 1);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status)) << "node did not exit cleanly on SIGTERM";
}

// A node in this process with fast blocks, for the block watcher.
struct RunningNode {
  testing::TempDir dir;
  std::unique_ptr<ChainNode> node;
  std::thread thread;
  std::unique_ptr<ChainClient> client;
  explicit RunningNode(std::size_t recent_heads) {
    NodeOptions o;
    o.data_dir = dir.path() / "chain";
    o.block_time_ms = 20;
    o.listen = "127.0.0.1:0";
    o.recent_heads = recent_heads;
    auto n = ChainNode::open(o);
    EXPECT_TRUE(n.ok()) << n.status().to_string();
    node = std::move(*n);
    thread = std::thread([this] { (void)node->run(); });
    EXPECT_TRUE(testing::wait_until([&] { return !node->address().empty(); }, std::chrono::seconds(10)));
    auto c = connect_embedded_chain(node->address(), std::chrono::seconds(10));
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    client = std::move(*c);
  }
  ~RunningNode() {
    node->stop();
    thread.join();
  }
};

TEST(WatchBlocks, AWatcherGetsEveryHeightInOrderEvenWhenSlow) {
  RunningNode n(1024);
  std::vector<HeadInfo> seen;
  auto st = n.client->watch_blocks(
      [&](const HeadInfo& h) {
        seen.push_back(h);
        std::this_thread::sleep_for(std::chrono::milliseconds(60));  // three blocks per callback
        return seen.size() < 12;
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(st.ok()) << st.to_string();
  ASSERT_EQ(seen.size(), 12u);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].height, seen[i - 1].height + 1);
    EXPECT_EQ(seen[i].skipped, 0u);
    EXPECT_GE(seen[i].total_issuance, seen[i - 1].total_issuance);
  }
}

TEST(WatchBlocks, AWatcherBehindWhatTheNodeKeepsIsToldWhatItMissed) {
  RunningNode n(3);  // keeps the last 3 heads
  ASSERT_TRUE(testing::wait_until([&] { return n.node->head().height >= 10; }, std::chrono::seconds(10)));
  std::vector<HeadInfo> seen;
  auto st = n.client->watch_blocks(
      [&](const HeadInfo& h) {
        seen.push_back(h);
        return seen.size() < 5;
      },
      std::chrono::seconds(20), 0);
  ASSERT_TRUE(st.ok()) << st.to_string();
  ASSERT_EQ(seen.size(), 5u);
  // Heights 1.. are gone: the first reply says how many, and every reply accounts for
  // the heights between it and the one before.
  EXPECT_EQ(seen[0].skipped, seen[0].height - 1);
  EXPECT_GE(seen[0].skipped, 7u);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_EQ(seen[i].height, seen[i - 1].height + seen[i].skipped + 1);
}

}  // namespace
}  // namespace tessera::chain
