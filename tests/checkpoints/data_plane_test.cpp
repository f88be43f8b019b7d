#include "checkpoints/data_plane.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "core/file_io.h"
#include "tests/test_util.h"

namespace tessera::checkpoints {
namespace {

const std::string kHash(64, 'a');

struct Objects {
  testing::TempDir dir;
  std::string model = std::string(300000, 'm') + "end";
  Objects() {
    std::filesystem::create_directories(dir.path() / kHash);
    testing::write_text(dir.path() / kHash / "model.safetensors", model);
  }
};

// A raw connection to the server, for requests the client library would never send.
int connect_raw(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// Everything the server sends until it closes.
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

std::string read_download(int fd, std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t got = 0; got < n;) {
    const ssize_t k = ::recv(fd, out.data() + got, n - got, 0);
    if (k <= 0) break;
    got += static_cast<std::size_t>(k);
  }
  ::close(fd);
  return out;
}

TEST(DataPlane, ServesAFileFromAnOffset) {
  Objects o;
  auto server = DataServer::start(o.dir.path(), "127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  auto fd = open_download("127.0.0.1", (*server)->port(), kHash, 0, o.model.size());
  ASSERT_TRUE(fd.ok()) << fd.status().to_string();
  EXPECT_EQ(read_download(*fd, o.model.size()), o.model);
  auto tail = open_download("127.0.0.1", (*server)->port(), kHash, 299999, 4);
  ASSERT_TRUE(tail.ok()) << tail.status().to_string();
  EXPECT_EQ(read_download(*tail, 4), "mend");
}

TEST(DataPlane, RejectsBadRequestsWithReasonsAndKeepsServing) {
  Objects o;
  auto server = DataServer::start(o.dir.path(), "127.0.0.1");
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  // Garbage instead of a request.
  int fd = connect_raw(port);
  const std::string garbage(80, 'x');
  ASSERT_EQ(::send(fd, garbage.data(), garbage.size(), 0), 80);
  EXPECT_NE(read_all(fd).find("not a TSD1 request"), std::string::npos);
  // A request cut short: the server answers once the client stops sending.
  fd = connect_raw(port);
  ASSERT_EQ(::send(fd, "TSD1", 4, 0), 4);
  ::shutdown(fd, SHUT_WR);
  EXPECT_NE(read_all(fd).find("incomplete request"), std::string::npos);
  // Unknown checkpoint, malformed hash, offset past the end, wrong announced size.
  auto unknown = open_download("127.0.0.1", port, std::string(64, 'b'), 0, 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no checkpoint bbbb"), std::string::npos) << unknown.status().message();
  auto bad_hash = open_download("127.0.0.1", port, "../../etc/passwd", 0, 1);
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_NE(bad_hash.status().message().find("not a checkpoint hash"), std::string::npos) << bad_hash.status().message();
  auto far = open_download("127.0.0.1", port, kHash, o.model.size() + 1, 0);
  ASSERT_FALSE(far.ok());
  EXPECT_NE(far.status().message().find("beyond the model"), std::string::npos) << far.status().message();
  auto size = open_download("127.0.0.1", port, kHash, 0, 5);
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.status().message().find("announces 300003 bytes"), std::string::npos) << size.status().message();
  // Still serving.
  auto fine = open_download("127.0.0.1", port, kHash, 0, o.model.size());
  ASSERT_TRUE(fine.ok()) << fine.status().to_string();
  EXPECT_EQ(read_download(*fine, o.model.size()), o.model);
  auto settled = [&] { return (*server)->stats().served + (*server)->stats().broken; };
  testing::wait_until([&] { return settled() >= 2; }, std::chrono::seconds(2));
  const auto stats = (*server)->stats();
  EXPECT_EQ(stats.rejected, 5u);
  // The client refused the size mismatch after the header: that transfer is served or cut
  // (the client hung up), depending on whether it fitted in the socket buffers.
  EXPECT_GE(stats.served, 1u);
  EXPECT_EQ(stats.served + stats.broken, 2u);
}

TEST(DataPlane, RefusesConnectionsBeyondItsLimitAndStopsDespiteAnIdlePeer) {
  Objects o;
  auto server = DataServer::start(o.dir.path(), "127.0.0.1", 0, 1);
  ASSERT_TRUE(server.ok());
  const int idle = connect_raw((*server)->port());  // holds the only slot, sends nothing
  ASSERT_TRUE(testing::wait_until([&] { return (*server)->stats().open == 1; }, std::chrono::seconds(5)));
  auto second = open_download("127.0.0.1", (*server)->port(), kHash, 0, o.model.size());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("busy"), std::string::npos) << second.status().message();
  const auto t0 = std::chrono::steady_clock::now();
  (*server)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  ::close(idle);
}

TEST(DataPlane, NothingListeningIsAClearError) {
  int port = 0;
  {
    Objects o;
    auto server = DataServer::start(o.dir.path(), "127.0.0.1");
    ASSERT_TRUE(server.ok());
    port = (*server)->port();
  }  // stopped: the port is closed now
  auto fd = open_download("127.0.0.1", port, kHash, 0, 1);
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.status().message().find("cannot connect"), std::string::npos) << fd.status().message();
}

TEST(DataPlane, ListensOnEveryInterfaceWhenAskedTo) {
  Objects o;
  for (const char* host : {"0.0.0.0", "::"}) {
    auto server = DataServer::start(o.dir.path(), host);
    if (!server.ok() && std::string(host) == "::") continue;  // a host without IPv6
    ASSERT_TRUE(server.ok()) << host << ": " << server.status().to_string();
    auto fd = open_download("127.0.0.1", (*server)->port(), kHash, 0, o.model.size());
    ASSERT_TRUE(fd.ok()) << host << ": " << fd.status().to_string();
    EXPECT_EQ(read_download(*fd, o.model.size()), o.model);
  }
}

TEST(DataPlane, HostOfStripsPortAndBrackets) {
  EXPECT_EQ(host_of("127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(host_of("[::1]:5000"), "::1");
  EXPECT_EQ(host_of("example.org:1"), "example.org");
}

}  // namespace
}  // namespace tessera::checkpoints
