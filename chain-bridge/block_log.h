// Durable storage of the embedded chain: an append-only block log (one fsync per block)
// and atomic state snapshots. A record is [magic u32][length u32][checksum 8 bytes =
// BLAKE2b-256(payload)[0..8)][payload = serialised proto::Block], at most kMaxRecord
// bytes of payload (refused on write).
//
// Recovery keeps every acknowledged block: only a torn last record — a crash in the middle
// of the last append, which was never acknowledged (replies go out after the fsync) — is
// ever cut. Torn means the bytes after the last good record are an incomplete record, one
// complete final record that fails its checksum, or zeros. Damage anywhere else makes
// open() refuse with the offset; `tessera chain check` and `tessera chain recover` are the
// operator's tools then.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/hash.h"
#include "core/status.h"
#include "proto/chain.pb.h"

namespace tessera::chain {

inline constexpr std::uint32_t kMaxRecord = 16u << 20;

// What a block log holds, read without changing it.
struct LogContents {
  std::vector<proto::Block> blocks;  // every good record, in order
  std::vector<std::uint64_t> ends;   // the offset just past each of them
  std::uint64_t file_bytes = 0;
  std::uint64_t valid_bytes = 0;  // the prefix those records span
  bool torn_tail = false;         // the rest is a torn last record (safe to cut)
  std::string problem;            // why records stop before the end ("" when they do not)
};
Result<LogContents> read_block_log(const std::filesystem::path& path);

class BlockLog {
 public:
  BlockLog() = default;
  BlockLog(BlockLog&&) noexcept;
  BlockLog& operator=(BlockLog&&) noexcept;
  ~BlockLog();

  // Opens (creating) the log and returns every block in order. A torn last record is cut
  // (`truncated` says how many bytes); any other damage is a Corrupted error naming the
  // offset, and nothing is changed.
  static Result<BlockLog> open(const std::filesystem::path& path, std::vector<proto::Block>* blocks,
                               std::uint64_t* truncated = nullptr);
  Status append(const proto::Block& block);  // write + fdatasync; refuses records over kMaxRecord
  // Cuts the log to its first `bytes` bytes and syncs (`tessera chain recover`).
  static Status truncate(const std::filesystem::path& path, std::uint64_t bytes);

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
