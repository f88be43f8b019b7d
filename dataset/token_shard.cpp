#include "dataset/token_shard.h"

#include <bit>
#include <cstring>
#include <fstream>

#include "core/file_io.h"

namespace tessera::dataset {

static_assert(std::endian::native == std::endian::little, "token shards assume a little-endian host");

Status write_token_shard(const std::filesystem::path& path, std::span<const std::uint16_t> tokens) {
  if (tokens.size() > static_cast<std::size_t>(INT32_MAX)) {
    return InvalidArgument("token shard " + path.string() + ": " + std::to_string(tokens.size()) +
                           " tokens exceed the format's int32 count");
  }
  std::string bytes(kShardHeaderBytes + tokens.size() * sizeof(std::uint16_t), '\0');
  std::int32_t header[kShardHeaderInts] = {};
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  header[2] = static_cast<std::int32_t>(tokens.size());
  std::memcpy(bytes.data(), header, kShardHeaderBytes);
  if (!tokens.empty()) std::memcpy(bytes.data() + kShardHeaderBytes, tokens.data(), tokens.size_bytes());
  return write_file_atomic(path, bytes);
}

Result<std::vector<std::uint16_t>> read_token_shard(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("token shard " + path.string() + ": " + ec.message());
  const std::string name = "token shard " + path.string();
  if (size < kShardHeaderBytes) {
    return Corrupted(name + ": " + std::to_string(size) + " bytes, shorter than the " +
                     std::to_string(kShardHeaderBytes) + "-byte header");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(name + ": cannot open");
  std::int32_t header[kShardHeaderInts];
  in.read(reinterpret_cast<char*>(header), kShardHeaderBytes);
  if (!in) return IoError(name + ": header read failed");
  if (header[0] != kShardMagic) {
    return Corrupted(name + ": bad magic " + std::to_string(header[0]) + " (expected " +
                     std::to_string(kShardMagic) + "); not an llm.c token shard");
  }
  if (header[1] != kShardVersion) {
    return Corrupted(name + ": unsupported version " + std::to_string(header[1]) + " (expected " +
                     std::to_string(kShardVersion) + ")");
  }
  if (header[2] < 0) return Corrupted(name + ": negative token count " + std::to_string(header[2]));
  const std::uint64_t count = static_cast<std::uint64_t>(header[2]);
  const std::uint64_t expected = kShardHeaderBytes + count * sizeof(std::uint16_t);
  if (size != expected) {
    return Corrupted(name + ": header claims " + std::to_string(count) + " tokens (" +
                     std::to_string(expected) + " bytes) but the file has " + std::to_string(size) +
                     " bytes");
  }
  std::vector<std::uint16_t> tokens(count);
  in.read(reinterpret_cast<char*>(tokens.data()), static_cast<std::streamsize>(count * sizeof(std::uint16_t)));
  if (!in) return IoError(name + ": token read failed");
  return tokens;
}

}  // namespace tessera::dataset
