#include "checkpoints/download.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <random>
#include <thread>

#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera::checkpoints {
namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Feeds `bytes[from, to)` into the buffer in uneven pieces, as recv() would.
Status feed(DownloadBuffer& b, const std::string& bytes, std::size_t from, std::size_t to) {
  std::mt19937 rng(from + to);
  for (std::size_t at = from; at < to;) {
    const std::size_t n = std::min<std::size_t>(to - at, 1 + rng() % 300000);
    std::memcpy(b.data() + at, bytes.data() + at, n);
    TESSERA_RETURN_IF_ERROR(b.advance(n));
    at += n;
  }
  return Status::Ok();
}

TEST(DownloadBuffer, TheFileHoldsExactlyTheBytesReceivedWhereverTheTransferEnds) {
  testing::TempDir dir;
  const std::size_t size = (3u << 20) + 123;
  const std::string bytes = random_bytes(size, 1);
  // Ends inside the first page, on and around page edges, past a MiB, and the whole file.
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
                          std::size_t{(1u << 20) + 77}, size}) {
    const auto path = dir.path() / ("partial-" + std::to_string(cut));
    auto b = DownloadBuffer::open(path, size, 0);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    ASSERT_TRUE(feed(**b, bytes, 0, cut).ok());
    (*b)->close(cut == size);
    ASSERT_TRUE((*b)->wait().ok());
    EXPECT_EQ(*read_file(path), bytes.substr(0, cut)) << "cut at " << cut;
    const auto stats = (*b)->stats();
    EXPECT_GE(stats.direct_bytes + stats.buffered_bytes, cut) << "cut at " << cut;
  }
}

TEST(DownloadBuffer, MemoryOfAReleasedDownloadIsReusedNeverWhileInUse) {
  testing::TempDir dir;
  const std::size_t size = (4u << 20) + 321;
  const std::string first = random_bytes(size, 5), second = random_bytes(size, 6);
  auto a = DownloadBuffer::open(dir.path() / "a", size, 0);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(feed(**a, first, 0, size).ok());
  (*a)->close(false);
  ASSERT_TRUE((*a)->wait().ok());
  // Tensors decoded from a download hold its memory: a second download gets other memory.
  std::shared_ptr<char[]> held = (*a)->memory();
  a->reset();
  auto b = DownloadBuffer::open(dir.path() / "b", size, 0);
  ASSERT_TRUE(b.ok());
  EXPECT_NE((*b)->data(), held.get());
  ASSERT_TRUE(feed(**b, second, 0, size).ok());
  (*b)->close(false);
  ASSERT_TRUE((*b)->wait().ok());
  EXPECT_EQ(std::memcmp(held.get(), first.data(), size), 0) << "the held download was overwritten";
  // Once released, a download of the same size (or somewhat smaller) takes it over.
  char* const was = held.get();
  held.reset();
  auto c = DownloadBuffer::open(dir.path() / "c", size - 5000, 0);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->data(), was);
  ASSERT_TRUE(feed(**c, second, 0, size - 5000).ok());
  (*c)->close(false);
  ASSERT_TRUE((*c)->wait().ok());
  EXPECT_EQ(*read_file(dir.path() / "c"), second.substr(0, size - 5000));
}

TEST(DownloadBuffer, ResumesFromAPartialFileAtAnUnalignedEnd) {
  testing::TempDir dir;
  const std::size_t size = (2u << 20) + 5000;
  const std::string bytes = random_bytes(size, 2);
  const auto path = dir.path() / "partial";
  // An interrupted download's 5000 bytes, then 100 stray bytes that must be cut off.
  testing::write_text(path, bytes.substr(0, 5000) + std::string(100, 'x'));
  auto b = DownloadBuffer::open(path, size, 5000);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ((*b)->received(), 5000u);
  EXPECT_EQ(std::string((*b)->data(), 5000), bytes.substr(0, 5000));  // read back for hashing
  ASSERT_TRUE(feed(**b, bytes, 5000, size).ok());
  (*b)->close(true);
  ASSERT_TRUE((*b)->wait().ok());
  EXPECT_EQ(*read_file(path), bytes);
}

TEST(DownloadBuffer, AWriteErrorStopsTheTransferNamingTheFile) {
  testing::TempDir dir;
  const auto path = dir.path() / "partial";
  const std::size_t size = 8u << 20;
  const std::string bytes = random_bytes(size, 3);
  // A file size limit of 1 MiB: writes beyond it fail with EFBIG (SIGXFSZ ignored).
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 1u << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto b = DownloadBuffer::open(path, size, 0);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  (void)feed(**b, bytes, 0, size / 2);
  // The receiver learns it while bytes are still arriving: the next piece is refused.
  Status next = Status::Ok();
  for (int i = 0; i < 10000 && next.ok(); ++i) {
    next = (*b)->advance(0);
    if (next.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  (*b)->close(true);
  const Status written = (*b)->wait();
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  ASSERT_FALSE(next.ok());
  EXPECT_NE(next.message().find("cannot write " + path.string()), std::string::npos) << next.message();
  EXPECT_EQ(written.message(), next.message());
}

}  // namespace
}  // namespace tessera::checkpoints
