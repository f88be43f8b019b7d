// BLAKE3 (unkeyed, 32-byte output): the per-tensor hash of checkpoints, chosen because a
// pull hashes every byte while the transfer runs and BLAKE2b cannot keep up with it
// (docs/checkpoints.md). Eight 1 KiB chunks at once with AVX2, a portable path elsewhere.
// Manifests, blocks and payloads keep BLAKE2b-256 (core/hash.h). Our own implementation
// from the BLAKE3 specification; tests compare it with the `b3sum` tool.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/hash.h"

namespace tessera {

Hash256 blake3_256(std::string_view data);

// BLAKE3's chunk: updates in whole chunks (after the first) take the eight-lane path.
inline constexpr std::size_t kBlake3ChunkBytes = 1024;

// Incremental BLAKE3: update() any number of times, then finish() once.
class Blake3 {
 public:
  Blake3();
  Blake3& update(std::string_view data);
  Hash256 finish();

 private:
  void push_subtree_cv(const std::uint32_t cv[8], std::uint64_t chunks);
  void merge_complete();
  void compress_chunk_blocks(const std::uint8_t* data, std::size_t len);

  std::uint32_t stack_[55][8];  // chaining values of subtrees (2^54 chunks max; one more while unmerged)
  std::size_t stack_len_ = 0;
  std::uint64_t chunks_done_ = 0;  // complete chunks pushed so far
  // The chunk being filled.
  std::uint32_t cv_[8];
  std::uint8_t block_[64];
  std::size_t block_len_ = 0;
  std::size_t blocks_compressed_ = 0;
};

namespace detail {
// Chaining values of `n` whole 1 KiB chunks at `data` with counters first, first + 1, ...
// (none of them the root). `avx2` picks the eight-lane path when the CPU has it.
void blake3_chunks(const std::uint8_t* data, std::size_t n, std::uint64_t first, std::uint32_t (*out)[8], bool avx2);
// Parent nodes: out[p] from the children in[2p], in[2p + 1], for p < n (not the root);
// out may be in.
void blake3_parents(const std::uint32_t (*in)[8], std::size_t n, std::uint32_t (*out)[8], bool avx2);
bool blake3_avx2_available();
}  // namespace detail

}  // namespace tessera
