// The run spec a role follows on a chain that keeps none (subtensor): the file given must
// hash to the hash the subnet's owner published; on a chain that keeps one, a file given
// must be that spec.
#include "subnet/join.h"

#include <gtest/gtest.h>

#include "core/hash.h"
#include "tests/test_util.h"

namespace tessera::subnet {
namespace {

TEST(ResolveSpec, AFileMustHashToThePublishedHash) {
  testing::TempDir dir;
  const std::string spec = "[run]\nname = \"s\"\n", other = "[run]\nname = \"t\"\n";
  testing::write_text(dir / "spec.toml", spec);
  const std::string published = to_hex(blake2b_256(spec));
  JoinOptions o;
  o.netuid = 3;

  auto none = resolve_spec(o, "", "");  // subtensor, nothing given
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("--spec FILE"), std::string::npos) << none.status().message();

  o.spec_file = dir / "spec.toml";
  auto unhashed = resolve_spec(o, "", "");
  ASSERT_FALSE(unhashed.ok());
  EXPECT_NE(unhashed.status().message().find("--spec-hash"), std::string::npos);

  o.spec_hash = to_hex(blake2b_256(other));
  auto wrong = resolve_spec(o, "", "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("is not the run spec of subnet 3"), std::string::npos) << wrong.status().message();

  o.spec_hash = "0x" + published;
  auto right = resolve_spec(o, "", "");
  ASSERT_TRUE(right.ok()) << right.status().to_string();
  EXPECT_EQ(*right, spec);

  // A chain that keeps the spec: its own, unless a file is given, which must be it.
  o = JoinOptions{};
  o.netuid = 3;
  EXPECT_EQ(*resolve_spec(o, other, raw_bytes(blake2b_256(other))), other);
  o.spec_file = dir / "spec.toml";
  auto differs = resolve_spec(o, other, raw_bytes(blake2b_256(other)));
  ASSERT_FALSE(differs.ok());
  EXPECT_EQ(*resolve_spec(o, spec, raw_bytes(blake2b_256(spec))), spec);
  // A hash given as typed ("0x", upper case) is the same hash on either kind of chain.
  o.spec_hash = "0x" + published;
  for (auto& c : o.spec_hash) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  o.spec_hash[1] = 'x';
  EXPECT_EQ(*resolve_spec(o, spec, raw_bytes(blake2b_256(spec))), spec);
  EXPECT_FALSE(resolve_spec(o, other, raw_bytes(blake2b_256(other))).ok());
}

}  // namespace
}  // namespace tessera::subnet
