// Token shards in llm.c's format, so shards prepared by other tools work as they are:
// a header of 256 little-endian int32 (magic 20240520, version 1, token count, the rest
// zero) followed by `count` uint16 tokens.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "core/status.h"

namespace tessera::dataset {

inline constexpr std::int32_t kShardMagic = 20240520;
inline constexpr std::int32_t kShardVersion = 1;
inline constexpr std::size_t kShardHeaderInts = 256;
inline constexpr std::size_t kShardHeaderBytes = kShardHeaderInts * sizeof(std::int32_t);

// Writes atomically (temp, fsync, rename).
Status write_token_shard(const std::filesystem::path& path, std::span<const std::uint16_t> tokens);

// Reads and validates: file at least one header long, magic, version, token count >= 0,
// file size exactly header + 2·count. Each failure names the file and what was wrong.
Result<std::vector<std::uint16_t>> read_token_shard(const std::filesystem::path& path);

}  // namespace tessera::dataset
