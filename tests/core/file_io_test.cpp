#include "core/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/test_util.h"

namespace tessera {
namespace {

TEST(FileIo, AtomicWriteReplacesContentsAndLeavesNoTemp) {
  testing::TempDir dir;
  const auto path = dir / "state";
  ASSERT_TRUE(write_file_atomic(path, "old").ok());
  ASSERT_TRUE(write_file_atomic(path, "new", 0600).ok());
  EXPECT_EQ(*read_file(path), "new");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(FileIo, ReadMissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_EQ(read_file(dir / "absent").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(write_file_atomic(dir / "no/such/dir/file", "x").code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace tessera
