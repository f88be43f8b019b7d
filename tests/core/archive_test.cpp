#include "core/archive.h"

#include <gtest/gtest.h>

#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace tessera {
namespace {

struct Record {
  std::string name;
  std::vector<std::uint64_t> values;
  std::map<std::string, std::vector<std::pair<std::uint32_t, std::uint16_t>>> rows;
  template <class Ar>
  void serialize(Ar& ar, unsigned) {
    ar & name & values & rows;
  }
};

Record sample() {
  Record r;
  r.name = "subnet 1";
  r.values = {1, 2, 3, 1ull << 40};
  r.rows["alice"] = {{0, 65535}, {7, 3}};
  r.rows["bob"] = {};
  return r;
}

// Boost's binary format: a string is its 8-byte length, then its bytes; a vector of
// plain values its 8-byte count, then the values.
void put_u64(std::string* bytes, std::size_t at, std::uint64_t v) { std::memcpy(bytes->data() + at, &v, 8); }

TEST(Archive, RecordsRoundTripInBoostsBinaryFormat) {
  const Record r = sample();
  const std::string bytes = to_archive(r);
  // The format is Boost's binary_oarchive, which records of earlier builds were written
  // with: the bounded reader decodes it unchanged.
  Record back;
  ASSERT_TRUE(from_archive(bytes, &back, "record").ok());
  EXPECT_EQ(back.name, r.name);
  EXPECT_EQ(back.values, r.values);
  EXPECT_EQ(back.rows, r.rows);
  EXPECT_EQ(to_archive(back), bytes);
}

TEST(Archive, ALengthOrCountBeyondTheInputIsRefusedBeforeAnyAllocation) {
  const std::string bytes = to_archive(sample());
  const std::size_t name_at = bytes.find("subnet 1");
  ASSERT_GE(name_at, 8u);
  // A string length of 2^62 (Boost's reader would have asked for that much) and one of
  // 4 GiB, which an overcommitting kernel grants and Boost then zero-fills.
  for (const std::uint64_t length : {std::uint64_t{1} << 62, std::uint64_t{4} << 30, std::uint64_t{bytes.size()}}) {
    std::string forged = bytes;
    put_u64(&forged, name_at - 8, length);
    Record back;
    const Status s = from_archive(forged, &back, "record");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("record does not decode: a string of " + std::to_string(length)), std::string::npos)
        << s.message();
  }
  // The vector's element count follows the name.
  std::string forged = bytes;
  put_u64(&forged, name_at + 8, std::uint64_t{1} << 61);
  Record back;
  const Status s = from_archive(forged, &back, "record");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("a count of " + std::to_string(std::uint64_t{1} << 61)), std::string::npos) << s.message();
}

TEST(Archive, TruncatedOrForeignBytesAreCorrupted) {
  const std::string bytes = to_archive(sample());
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    Record back;
    EXPECT_FALSE(from_archive(bytes.substr(0, cut), &back, "record").ok()) << "cut at " << cut;
  }
  Record back;
  const Status s = from_archive(std::string("definitely not a record"), &back, "record");
  EXPECT_EQ(s.code(), StatusCode::kCorrupted);
}

}  // namespace
}  // namespace tessera
