#include "core/hash.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(Blake2b256, KnownVectors) {
  EXPECT_EQ(to_hex(blake2b_256("")), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(to_hex(blake2b_256("abc")), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

TEST(Blake2b256, IncrementalMatchesOneShot) {
  Hash256 a = Blake2b256().update("a").update("bc").finish();
  EXPECT_EQ(a, blake2b_256("abc"));
}

TEST(Hex, RoundTripAndRejectsBadInput) {
  const std::string raw("\x00\x01\xfe\xff\x00", 5);
  auto hex = to_hex(std::span(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
  EXPECT_EQ(hex, "0001feff00");
  EXPECT_EQ(*from_hex(hex), raw);
  EXPECT_FALSE(from_hex("abc").ok());
  EXPECT_FALSE(from_hex("zz").ok());
}

}  // namespace
}  // namespace tessera
