#include "core/blake3.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tessera {
namespace {

// Input of the BLAKE3 test vectors: byte i is i % 251.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}

// Expected digests computed with the `b3sum` tool (Debian package b3sum 1.2.0), an
// implementation independent of ours. The lengths cover the empty input, partial and
// whole blocks and chunks, one to many chunks (trees that are and are not complete),
// the eight-chunk batches of the AVX2 path and their remainders, whole 64-chunk subtrees
// (reduced eight parents at a time) alone, after and between partial ones.
struct Vector {
  std::size_t len;
  const char* hex;
};
constexpr Vector kVectors[] = {
    {0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
    {1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
    {63, "e9bc37a594daad83be9470df7f7b3798297c3d834ce80ba85d6e207627b7db7b"},
    {64, "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98"},
    {65, "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee"},
    {1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
    {1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
    {1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
    {2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a"},
    {2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"},
    {3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2"},
    {7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a"},
    {8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63"},
    {8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b"},
    {16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"},
    {31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
    {102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"},
    {66560, "ac803d7940a0bb6c8c8c2bd5235da72b3aa79af0738707c1fa7230714bdc9579"},
    {196613, "93f8f897b87996606f1d1b95997805a1d1873d70642c208909b78da4f82e5b13"},
    {1048577, "2f053cd7472cf0cd2f9adaf45c1180255b91b9a865404a63671a0ee5f792ed33"},
    {4195304, "485e9cd8961aa7047101a4d572507e416a63b0b0a5b1b8cf1498c286334d1da2"},
    {9437184, "8516f8a0ae9a7a21cdd69df13aaa9b2a22a499848fb3185cea4cae496ce4d91a"},
};

TEST(Blake3, MatchesB3sumOnTheTestVectorInputs) {
  for (const auto& v : kVectors) EXPECT_EQ(to_hex(blake3_256(pattern(v.len))), v.hex) << v.len << " bytes";
}

TEST(Blake3, IncrementalUpdatesOfAnySizeMatchOneShot) {
  std::mt19937_64 rng(7);
  for (const auto& v : kVectors) {
    const std::string data = pattern(v.len);
    for (int trial = 0; trial < 4; ++trial) {
      Blake3 h;
      for (std::size_t pos = 0; pos < data.size();) {
        // Pieces from one byte to a few chunks, so updates end inside blocks, on block and
        // chunk edges, and feed the eight-chunk path and whole 64-chunk subtrees.
        const std::size_t piece = std::min<std::size_t>(data.size() - pos, 1 + rng() % (trial < 2 ? 100 : trial == 2 ? 20000 : 300000));
        h.update(std::string_view(data).substr(pos, piece));
        pos += piece;
      }
      EXPECT_EQ(to_hex(h.finish()), v.hex) << v.len << " bytes, trial " << trial;
    }
  }
}

TEST(Blake3, UpdatesEndingOnChunkEdgesMatchOneShot) {
  // Whole chunks are taken at once when earlier chunks exist, so the last node of such an
  // input sits on the stack at finish(); one chunk, 64-chunk subtrees and odd multiples.
  for (const auto& v : kVectors) {
    const std::string data = pattern(v.len);
    for (std::size_t piece : {std::size_t{1024}, std::size_t{2048}, std::size_t{7 * 1024}, std::size_t{64 * 1024},
                              std::size_t{256 * 1024}, std::size_t{1024 * 1024}}) {
      Blake3 h;
      for (std::size_t pos = 0; pos < data.size(); pos += piece) h.update(std::string_view(data).substr(pos, piece));
      EXPECT_EQ(to_hex(h.finish()), v.hex) << v.len << " bytes in pieces of " << piece;
    }
  }
}

TEST(Blake3, EightLanePathMatchesPortableChunks) {
  if (!detail::blake3_avx2_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(3);
  std::string data(1024 * 19, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::uint32_t wide[19][8], narrow[19][8];
  // A counter above 2^32 checks the high counter word in every lane.
  for (std::uint64_t first : {0ull, 5ull, (1ull << 32) - 3}) {
    detail::blake3_chunks(reinterpret_cast<const std::uint8_t*>(data.data()), 19, first, wide, true);
    detail::blake3_chunks(reinterpret_cast<const std::uint8_t*>(data.data()), 19, first, narrow, false);
    for (int i = 0; i < 19; ++i) {
      for (int w = 0; w < 8; ++w) ASSERT_EQ(wide[i][w], narrow[i][w]) << "chunk " << i << " word " << w << " first " << first;
    }
  }
}

TEST(Blake3, EightLaneParentsMatchPortableParents) {
  if (!detail::blake3_avx2_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(5);
  std::uint32_t children[38][8], wide[19][8], narrow[19][8];
  for (auto& cv : children) {
    for (auto& w : cv) w = static_cast<std::uint32_t>(rng());
  }
  detail::blake3_parents(children, 19, wide, true);
  detail::blake3_parents(children, 19, narrow, false);
  for (int p = 0; p < 19; ++p) {
    for (int w = 0; w < 8; ++w) ASSERT_EQ(wide[p][w], narrow[p][w]) << "parent " << p << " word " << w;
  }
  // In place, as the subtree reduction uses it.
  detail::blake3_parents(children, 19, children, true);
  for (int p = 0; p < 19; ++p) {
    for (int w = 0; w < 8; ++w) ASSERT_EQ(children[p][w], narrow[p][w]) << "in place, parent " << p << " word " << w;
  }
}

}  // namespace
}  // namespace tessera
