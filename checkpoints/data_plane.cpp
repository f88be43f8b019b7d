#include "checkpoints/data_plane.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "checkpoints/serve_metrics.h"
#include "checkpoints/store.h"
#include "core/bytes.h"

namespace tessera::checkpoints {

namespace {
constexpr char kMagic[4] = {'T', 'S', 'D', '1'};
constexpr std::size_t kRequestBytes = 80, kReplyBytes = 16, kMaxMessage = 1024;
enum : std::uint32_t { kOk = 0, kBadRequest = 1, kNotFound = 2, kBadOffset = 3, kBusy = 4 };

void set_timeout(int fd, int option, std::chrono::seconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count());
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// Sends all of [p, p + n); false if the peer went away or a send timed out.
bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Receives exactly n bytes; false on EOF, error or timeout.
bool recv_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::recv(fd, p, n, 0);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

bool send_reply(int fd, std::uint32_t status, std::uint64_t length, const std::string& message = {}) {
  char head[kReplyBytes];
  std::memcpy(head, kMagic, 4);
  store_le(head + 4, status, 4);
  store_le(head + 8, status == kOk ? length : message.size(), 8);
  return send_all(fd, head, sizeof head) && (status == kOk || send_all(fd, message.data(), message.size()));
}

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list) ::freeaddrinfo(list);
  }
};
}  // namespace

std::string host_of(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

Result<std::unique_ptr<DataServer>> DataServer::start(const std::filesystem::path& objects, const std::string& host,
                                                      int port, int max_connections) {
  if (port < 0 || port > 65535) return InvalidArgument("data plane: port " + std::to_string(port) + " out of range");
  // sendfile() has no MSG_NOSIGNAL: a reader that hangs up mid-transfer must cost an
  // EPIPE, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<DataServer> s(new DataServer());
  s->objects_ = objects;
  s->max_connections_ = max_connections;
  // Every interface: "0.0.0.0" (or "", "*") is IPv4 like gRPC's; "::" is dual-stack.
  const bool any4 = host.empty() || host == "0.0.0.0" || host == "*", any6 = host == "::";
  const bool any = any4 || any6;
  addrinfo hints{};
  hints.ai_family = any4 ? AF_INET : any6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  AddrInfo ai;
  if (const int rc = ::getaddrinfo(any ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &ai.list); rc != 0) {
    return IoError("data plane: cannot resolve '" + host + "': " + ::gai_strerror(rc));
  }
  for (addrinfo* a = ai.list; a != nullptr && s->listener_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (a->ai_family == AF_INET6 && any6) {
      const int off = 0;  // IPv4 too
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
      s->listener_ = fd;
    } else {
      ::close(fd);
    }
  }
  if (s->listener_ < 0) return IoError("data plane: cannot listen on " + host + " port " + std::to_string(port) + " (in use?)");
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(s->listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  s->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->acceptor_ = std::thread([p = s.get()] { p->accept_loop(); });
  return s;
}

DataServer::~DataServer() { stop(); }

void DataServer::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  if (listener_ >= 0) ::close(listener_);
  std::unique_lock<std::mutex> lock(mu_);
  for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
  idle_.wait(lock, [&] { return open_.empty(); });
}

DataServer::Stats DataServer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {served_.load(), rejected_.load(), broken_.load(), open_.size()};
}

void DataServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    set_timeout(fd, SO_RCVTIMEO, std::chrono::seconds(10));  // a request must come promptly
    set_timeout(fd, SO_SNDTIMEO, std::chrono::seconds(60));  // a stalled reader is cut off
    std::unique_lock<std::mutex> lock(mu_);
    if (static_cast<int>(open_.size()) >= max_connections_) {
      lock.unlock();
      ++rejected_;
      send_reply(fd, kBusy, 0, "busy: " + std::to_string(max_connections_) + " downloads in progress, retry later");
      ::close(fd);
      continue;
    }
    open_.insert(fd);
    lock.unlock();
    std::thread([this, fd] {
      serve(fd);
      std::lock_guard<std::mutex> done(mu_);
      open_.erase(fd);
      ::close(fd);
      idle_.notify_all();
    }).detach();
  }
}

void DataServer::serve(int fd) {
  char req[kRequestBytes];
  auto reject = [&](std::uint32_t status, const std::string& why) {
    ++rejected_;
    metrics::registry()
        .counter("tessera_checkpoint_data_plane_rejected_total", "Data-plane requests refused (malformed, unknown, bad offset).")
        .inc();
    spdlog::warn("checkpoint data plane: rejected a request: {}", why);
    send_reply(fd, status, 0, why);
  };
  if (!recv_all(fd, req, sizeof req)) return reject(kBadRequest, "incomplete request");
  if (std::memcmp(req, kMagic, 4) != 0) return reject(kBadRequest, "not a TSD1 request");
  const std::string hash(req + 4, 64);
  const std::uint64_t offset = load_le(req + 68, 8);
  if (!is_checkpoint_hash(hash)) return reject(kBadRequest, "not a checkpoint hash");
  if (load_le(req + 76, 4) != 0) return reject(kBadRequest, "reserved bytes are not zero");
  const auto path = objects_ / hash / "model.safetensors";
  const int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file < 0) return reject(kNotFound, "no checkpoint " + hash);
  struct stat st{};
  ::fstat(file, &st);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (offset > size) {
    ::close(file);
    return reject(kBadOffset, "offset " + std::to_string(offset) + " beyond the model's " + std::to_string(size) + " bytes");
  }
  served_requests_metric("data_plane").inc();
  const metrics::Counter sent = sent_bytes_metric("tcp");
  bool ok = send_reply(fd, kOk, size - offset);
  off_t pos = static_cast<off_t>(offset);
  while (ok && static_cast<std::uint64_t>(pos) < size) {
    const ssize_t n = ::sendfile(fd, file, &pos, std::min<std::uint64_t>(size - static_cast<std::uint64_t>(pos), 1u << 30));
    ok = n > 0;
    if (ok) sent.inc(static_cast<double>(n));
  }
  ::close(file);
  if (ok) ++served_;
  else ++broken_;
}

Result<int> open_download(const std::string& host, int port, const std::string& hash, std::uint64_t offset,
                          std::uint64_t expect, std::chrono::seconds stall) {
  const std::string where = "data plane " + host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  AddrInfo ai;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &ai.list); rc != 0) {
    return IoError(where + ": cannot resolve: " + ::gai_strerror(rc));
  }
  // Connects within 5 s: a firewall that drops the data port must send the pull to gRPC
  // quickly, not after the kernel's two-minute connect timeout.
  int fd = -1;
  for (addrinfo* a = ai.list; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    bool connected = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!connected && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int error = 0;
      socklen_t len = sizeof error;
      connected = ::poll(&p, 1, 5000) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
    }
    if (connected) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    } else {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd < 0) return IoError(where + ": cannot connect within 5 s");
  set_timeout(fd, SO_RCVTIMEO, stall);
  set_timeout(fd, SO_SNDTIMEO, stall);
  const int big = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  char req[kRequestBytes] = {};
  std::memcpy(req, kMagic, 4);
  std::memcpy(req + 4, hash.data(), std::min<std::size_t>(hash.size(), 64));
  store_le(req + 68, offset, 8);
  char head[kReplyBytes];
  auto fail = [&](const std::string& why) -> Result<int> {
    ::close(fd);
    return IoError(where + ": " + why);
  };
  if (!send_all(fd, req, sizeof req)) return fail("cannot send the request");
  if (!recv_all(fd, head, sizeof head)) return fail("no reply");
  if (std::memcmp(head, kMagic, 4) != 0) return fail("the reply is not TSD1");
  const auto status = static_cast<std::uint32_t>(load_le(head + 4, 4));
  const std::uint64_t length = load_le(head + 8, 8);
  if (status != kOk) {
    std::string message(std::min<std::uint64_t>(length, kMaxMessage), '\0');
    if (!recv_all(fd, message.data(), message.size())) message = "(no message)";
    return fail("refused (status " + std::to_string(status) + "): " + message);
  }
  if (length != expect) {
    return fail("announces " + std::to_string(length) + " bytes, the manifest's model needs " + std::to_string(expect));
  }
  return fd;
}

}  // namespace tessera::checkpoints
