// Durable storage of the embedded chain: an append-only block log (one fsync per block)
// and atomic state snapshots. A record is [magic u32][length u32][checksum 8 bytes =
// BLAKE2b-256(payload)[0..8)][payload = serialised proto::Block]. A torn or corrupt tail
// — a crash in the middle of an append — is cut off on open: such a block was never
// acknowledged (replies go out only after the fsync).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/hash.h"
#include "core/status.h"
#include "proto/chain.pb.h"

namespace tessera::chain {

class BlockLog {
 public:
  BlockLog() = default;
  BlockLog(BlockLog&&) noexcept;
  BlockLog& operator=(BlockLog&&) noexcept;
  ~BlockLog();

  // Opens (creating) the log and returns every complete block in order. `truncated` is
  // set to the number of bytes cut off the end.
  static Result<BlockLog> open(const std::filesystem::path& path, std::vector<proto::Block>* blocks,
                               std::uint64_t* truncated = nullptr);
  Status append(const proto::Block& block);  // write + fdatasync

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

struct Snapshot {
  std::uint64_t height = 0;
  std::string head_hash;  // 32 bytes
  std::string ledger;     // Ledger::serialize()
};

Status write_snapshot(const std::filesystem::path& path, const Snapshot& snapshot);
// NotFound when absent; Corrupted (with the reason) when it does not verify.
Result<Snapshot> read_snapshot(const std::filesystem::path& path);

}  // namespace tessera::chain
