#include "core/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera {
namespace {

TEST(Keypair, SignatureVerifiesAndDetectsTampering) {
  Keypair key = Keypair::generate();
  Signature sig = key.sign("window 7");
  EXPECT_TRUE(verify_signature(key.public_key(), "window 7", sig));
  EXPECT_FALSE(verify_signature(key.public_key(), "window 8", sig));
  sig[0] ^= 1;
  EXPECT_FALSE(verify_signature(key.public_key(), "window 7", sig));
  EXPECT_FALSE(verify_signature(Keypair::generate().public_key(), "window 7", key.sign("window 7")));
}

TEST(Keypair, SameSeedSameKey) {
  std::array<std::uint8_t, 32> seed{};
  seed[3] = 9;
  EXPECT_EQ(Keypair::from_seed(seed).public_hex(), Keypair::from_seed(seed).public_hex());
}

TEST(Wallet, CreatedKeyFilesAreOwnerOnlyAndLoadBack) {
  testing::TempDir home;
  auto created = create_wallet(home.path(), "alice");
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  for (const char* file : {"coldkey", "hotkey"}) {
    struct stat st {};
    ASSERT_EQ(::stat((wallet_dir(home.path(), "alice") / file).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
  auto loaded = load_wallet(home.path(), "alice");
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->hotkey.public_hex(), created->hotkey.public_hex());
  EXPECT_EQ(loaded->coldkey.public_hex(), created->coldkey.public_hex());
  EXPECT_NE(loaded->hotkey.public_hex(), loaded->coldkey.public_hex());
}

TEST(Wallet, RefusesKeyFileReadableByOthers) {
  testing::TempDir home;
  ASSERT_TRUE(create_wallet(home.path(), "bob").ok());
  const auto hotkey = wallet_dir(home.path(), "bob") / "hotkey";
  ASSERT_EQ(::chmod(hotkey.c_str(), 0644), 0);
  auto loaded = load_wallet(home.path(), "bob");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(loaded.status().message().find("0644"), std::string::npos) << loaded.status().message();
  EXPECT_NE(loaded.status().message().find("hotkey"), std::string::npos);
}

TEST(Wallet, RefusesToOverwriteAndRejectsBadNames) {
  testing::TempDir home;
  ASSERT_TRUE(create_wallet(home.path(), "carol").ok());
  EXPECT_EQ(create_wallet(home.path(), "carol").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(create_wallet(home.path(), "../evil").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(load_wallet(home.path(), "nobody").status().code(), StatusCode::kNotFound);
}

TEST(Wallet, DetectsTamperedKeyFile) {
  testing::TempDir home;
  ASSERT_TRUE(create_wallet(home.path(), "dave").ok());
  const auto coldkey = wallet_dir(home.path(), "dave") / "coldkey";
  auto text = read_file(coldkey);
  ASSERT_TRUE(text.ok());
  std::string tampered = *text;
  tampered[tampered.find("public_key") + 15] ^= 1;  // flip a hex digit of the public key
  ASSERT_TRUE(write_file_atomic(coldkey, tampered, 0600).ok());
  auto loaded = load_wallet(home.path(), "dave");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorrupted);
}

}  // namespace
}  // namespace tessera
