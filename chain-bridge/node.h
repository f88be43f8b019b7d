// The embedded ledger node (`tessera chain start`): produces a block every block_time,
// serves the gRPC ChainService, keeps the block log and snapshots, and on start-up
// restores the state from the latest snapshot plus a replay of the blocks after it —
// checking every block's parent hash and state hash on the way. Extrinsics are applied to
// the live state as they arrive (so callers learn at once whether they apply); before a
// block becomes durable the node recomputes it from the last durable state and refuses it
// if the two differ, so it never writes a block that a replay cannot reproduce.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chain-bridge/block_log.h"
#include "chain-bridge/ledger.h"

namespace tessera::net {
class GrpcServer;
}

namespace tessera::chain {

struct NodeOptions {
  std::filesystem::path data_dir;
  Genesis genesis;               // used when data_dir holds no chain yet
  int block_time_ms = 12000;
  std::uint64_t snapshot_every = 100;
  std::string listen = "127.0.0.1:7700";
  // Heads kept in memory for WatchBlocks. A watcher further behind than this is told how
  // many heights it missed (HeadReply.skipped) instead of receiving them.
  std::size_t recent_heads = 1024;
};


struct Head {
  std::uint64_t height = 0;
  std::string hash;  // 32 raw bytes
  std::uint64_t timestamp_ms = 0;
};

// A produced block's head as a watcher sees it.
struct HeadEvent {
  Head head;
  std::uint64_t total_issuance = 0;
};

class ChainNode {
 public:
  static Result<std::unique_ptr<ChainNode>> open(const NodeOptions& options);
  ~ChainNode();

  // Serves and produces blocks until stop() or an interrupt (SIGINT/SIGTERM); stops its
  // server before it returns.
  Status run();
  // Asks run() to return (from any thread) and fails the extrinsics still pending.
  void stop();
  bool stopping() const;

  Head head() const;
  std::string chain_id() const;
  // The address clients dial once run() serves (the port the OS picked for port 0); empty before.
  std::string address() const;
  std::uint64_t replayed_blocks() const { return replayed_; }

  // For the gRPC service.
  struct Pending {
    proto::Extrinsic ex;
    std::promise<proto::SubmitReply> reply;
    std::string result;
  };
  std::future<proto::SubmitReply> submit(const proto::Extrinsic& ex);
  template <typename Fn>
  auto read(Fn&& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    return fn(ledger_, head_);
  }
  // Blocks until the head passes `height` or `timeout`; returns the head.
  Head wait_for_block_after(std::uint64_t height, std::chrono::milliseconds timeout) const;
  // The kept heads above `height`, oldest first (empty while none is newer).
  std::vector<HeadEvent> heads_after(std::uint64_t height) const;

 private:
  ChainNode() = default;
  Status produce_block();
  Status self_check(const proto::Block& block) const;

  // The extrinsics of one block stay well under the block log's record cap.
  static constexpr std::size_t kMaxBlockExtrinsicBytes = 8u << 20;

  NodeOptions options_;
  mutable std::mutex mu_;
  mutable std::condition_variable block_cv_;
  Ledger ledger_;     // live: the last durable state plus the pending extrinsics
  Ledger committed_;  // the state after the last durable block
  std::size_t pending_bytes_ = 0;
  Head head_;
  BlockLog log_;
  std::deque<std::unique_ptr<Pending>> pending_;
  std::deque<HeadEvent> recent_;
  std::string bound_;  // the last recent_heads heads produced by this process
  std::uint64_t replayed_ = 0;
  bool stopping_ = false;
};

}  // namespace tessera::chain
