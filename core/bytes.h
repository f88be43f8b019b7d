// Little-endian fixed-width integers in byte buffers: the wire formats and file headers
// of the project (block log, sealed state files, safetensors header, checkpoint data plane).
#pragma once

#include <cstdint>
#include <string>

namespace tessera {

// The low `n` bytes of v (n <= 8) at p, least significant first.
inline void store_le(char* p, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
inline void append_le(std::string* out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
// The n-byte (n <= 8) little-endian integer at p.
inline std::uint64_t load_le(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace tessera
