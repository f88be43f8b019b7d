#include "checkpoints/download.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "checkpoints/safetensors.h"
#include "core/blake3.h"
#include "core/file_io.h"
#include "core/hash.h"

namespace tessera::checkpoints {

namespace {
constexpr std::uint64_t kPage = 4096;          // O_DIRECT offsets, lengths and addresses are multiples of it
constexpr std::uint64_t kStep = 1u << 20;      // the writer wakes for every MiB received
constexpr std::uint64_t kHuge = 2u << 20;      // the buffer is aligned for transparent huge pages
constexpr std::uint64_t kMaxWrite = 64u << 20;  // one pwrite() at most
// The hashers take at least this much at a time (or the rest of a tensor): whole 64-chunk
// subtrees take BLAKE3's fastest path.
constexpr std::uint64_t kHashStep = 256u << 10;

// Download memory: anonymous memory in 2 MiB pages where the kernel allows (a fault per
// 2 MiB instead of per 4 KiB while the transfer fills it), the mapping rounded up and
// aligned by hand. Fresh memory costs the kernel a page fault and the zeroing of every
// page as the transfer first touches it (~14% of a pull's CPU in perf on 2 cores), so the
// memory of the last download whose tensors were all released is kept for the next one
// (a follower pulls a model of the same size every window), marked MADV_FREE: the kernel
// may still take its pages back under memory pressure (they then come back zeroed, which
// is fine: every byte is received again before it is read).
struct Region {
  void* base = nullptr;
  std::size_t len = 0;
  char* aligned = nullptr;
  std::uint64_t rounded = 0;
};

class MemoryPool {
 public:
  static MemoryPool& instance() {
    static auto* pool = new MemoryPool();  // never destroyed: tensors may outlive static destruction
    return *pool;
  }
  // A region of at least `rounded` bytes and not far more (a kept region more than twice
  // the size asked for is unmapped rather than held for a small download).
  std::optional<Region> take(std::uint64_t rounded) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!kept_) return std::nullopt;
    Region r = *kept_;
    kept_.reset();
    if (r.rounded >= rounded && r.rounded <= 2 * rounded) return r;
    ::munmap(r.base, r.len);
    return std::nullopt;
  }
  void give_back(const Region& r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (kept_) {
      // One region is kept: the larger (the next pull of the same run needs as much).
      if (kept_->rounded >= r.rounded) {
        ::munmap(r.base, r.len);
        return;
      }
      ::munmap(kept_->base, kept_->len);
    }
    // Only the region that is kept is marked (before anyone can take it).
    ::madvise(r.aligned, r.rounded, MADV_FREE);
    kept_ = r;
  }

 private:
  std::mutex mu_;
  std::optional<Region> kept_;
};

Result<std::shared_ptr<char[]>> download_memory(std::uint64_t size) {
  const std::uint64_t rounded = (std::max<std::uint64_t>(size, 1) + kHuge - 1) / kHuge * kHuge;
  std::optional<Region> r = MemoryPool::instance().take(rounded);
  if (!r) {
    Region fresh;
    fresh.len = rounded + kHuge;
    fresh.base = ::mmap(nullptr, fresh.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh.base == MAP_FAILED) {
      return IoError("cannot allocate " + std::to_string(size) + " bytes for the download: " + errno_text());
    }
    fresh.aligned = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(fresh.base) + kHuge - 1) / kHuge * kHuge);
    fresh.rounded = rounded;
    ::madvise(fresh.aligned, rounded, MADV_HUGEPAGE);  // advice only: 4 KiB pages also work
    r = fresh;
  }
  return std::shared_ptr<char[]>(r->aligned, [region = *r](char*) { MemoryPool::instance().give_back(region); });
}
}  // namespace

Result<std::unique_ptr<DownloadBuffer>> DownloadBuffer::open(const std::filesystem::path& partial, std::uint64_t size,
                                                             std::uint64_t resume_from) {
  if (resume_from > size) {
    return InvalidArgument("resuming " + partial.string() + " at byte " + std::to_string(resume_from) + " of a " +
                           std::to_string(size) + "-byte download");
  }
  std::unique_ptr<DownloadBuffer> b(new DownloadBuffer());
  b->path_ = partial;
  b->size_ = size;
  TESSERA_ASSIGN_OR_RETURN(b->memory_, download_memory(size));

  const int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open " + partial.string() + ": " + errno_text());
  auto fail = [&](const std::string& what) {
    const std::string why = errno_text();
    ::close(fd);
    return IoError(what + " " + partial.string() + ": " + why);
  };
  if (::ftruncate(fd, static_cast<off_t>(resume_from)) != 0) return fail("cannot truncate");
  for (std::uint64_t got = 0; got < resume_from;) {
    const ssize_t k = ::pread(fd, b->data() + got, resume_from - got, static_cast<off_t>(got));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return fail("cannot read back the partial download");
    got += static_cast<std::uint64_t>(k);
  }
  // Writes bypass the page cache where the filesystem allows it (tmpfs, some FUSE and
  // network filesystems refuse O_DIRECT: then the page cache it is).
  const int direct = ::open(partial.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (direct >= 0) {
    ::close(fd);
    b->fd_ = direct;
    b->direct_ = true;
  } else {
    b->fd_ = fd;
  }
  b->received_ = resume_from;
  b->notified_ = resume_from;
  b->written_ = resume_from / kPage * kPage;  // the last partial page is rewritten whole
  b->writer_ = std::thread([p = b.get()] { p->write_loop(); });
  return b;
}

DownloadBuffer::~DownloadBuffer() {
  close(false);
  (void)wait();
  if (fd_ >= 0) ::close(fd_);
}

Status DownloadBuffer::advance(std::size_t n) {
  const std::uint64_t now = received_ += n;
  if (now - notified_ >= kStep) {
    notified_ = now;
    { std::lock_guard<std::mutex> lock(mu_); }  // the writer is waiting or will see `now`
    cv_.notify_one();
  }
  if (failed_) {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  return Status::Ok();
}

void DownloadBuffer::close(bool durable) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
    closing_ = true;
    durable_ = durable;
  }
  cv_.notify_one();
}

Status DownloadBuffer::wait() {
  if (writer_.joinable()) writer_.join();
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void DownloadBuffer::write_loop() {
  for (;;) {
    bool closing, durable;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return closing_ || (!failed_ && received_.load() - written_ >= kStep); });
      closing = closing_;
      durable = durable_;
    }
    const std::uint64_t got = received_.load();
    // Whole pages straight from the buffer; the last partial page only once the transfer
    // has ended, through the page cache (O_DIRECT cannot write it), so that the file
    // never holds bytes that were not received.
    const std::uint64_t pages_end = got / kPage * kPage;
    bool ok = !failed_ && (pages_end <= written_ || write_range(written_, pages_end));
    if (!closing) continue;
    if (ok && got > written_) {
      use_page_cache();
      ok = write_range(written_, got);
    }
    if (ok && durable && ::fdatasync(fd_) != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = IoError("cannot sync " + path_.string() + ": " + errno_text());
      failed_ = true;
    }
    return;
  }
}

void DownloadBuffer::use_page_cache() {
  if (!direct_) return;
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_DIRECT);
  direct_ = false;
}

bool DownloadBuffer::write_range(std::uint64_t begin, std::uint64_t end) {
  while (begin < end) {
    const ssize_t k = ::pwrite(fd_, data() + begin, std::min(end - begin, kMaxWrite), static_cast<off_t>(begin));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EINVAL && direct_) {  // the filesystem wants other alignment: page cache
      use_page_cache();
      continue;
    }
    if (k <= 0) {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = IoError("cannot write " + path_.string() + ": " + (k == 0 ? std::string("nothing written") : errno_text()));
      failed_ = true;
      return false;
    }
    (direct_ ? direct_bytes_ : buffered_bytes_) += static_cast<std::uint64_t>(k);
    begin += static_cast<std::uint64_t>(k);
    written_ = begin;
  }
  return true;
}

StreamHasher::StreamHasher(const char* buf, std::uint64_t size) : buf_(buf), size_(size) {
  thread_ = std::thread([this] { run(); });
}

void StreamHasher::arrived(std::uint64_t received) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    received_ = received;
  }
  cv_.notify_all();
}

void StreamHasher::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::vector<std::string>> StreamHasher::hashes() const {
  if (!status_.ok()) return status_;
  return hashes_;
}

std::uint64_t StreamHasher::wait_for(std::uint64_t want) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return received_ >= want || done_; });
  return received_;
}

void StreamHasher::run() {
  const Status incomplete = IoError("the download ended before every tensor arrived");
  if (wait_for(8) < 8) return void(status_ = incomplete);
  auto header_end = safetensors_header_end(std::string_view(buf_, 8), size_);
  if (!header_end.ok()) return void(status_ = header_end.status());
  if (wait_for(*header_end) < *header_end) return void(status_ = incomplete);
  auto layout = safetensors_layout(std::string_view(buf_, *header_end), size_);
  if (!layout.ok()) return void(status_ = layout.status());
  // Two hashing threads take the tensors in file order, one whole tensor at a time: during
  // the transfer they share the cores with it, and once it ends the hashing left over
  // runs on both cores instead of one.
  hashes_.assign(layout->tensors.size(), std::string());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (std::size_t i; !failed && (i = next++) < layout->tensors.size();) {
      const auto& e = layout->tensors[i];
      Blake3 h;
      std::uint64_t pos = layout->data_begin + e.begin;
      const std::uint64_t end = layout->data_begin + e.end;
      while (pos < end) {
        std::uint64_t avail = std::min(wait_for(std::min(pos + kHashStep, end)), end);
        // Whole chunks until the tensor's end: a piece that stopped inside a chunk would
        // send the rest of that chunk through BLAKE3's one-block-at-a-time path.
        if (avail < end) avail = pos + (avail - pos) / kBlake3ChunkBytes * kBlake3ChunkBytes;
        if (avail <= pos) return void(failed = true);
        h.update(std::string_view(buf_ + pos, avail - pos));
        pos = avail;
      }
      hashes_[i] = to_hex(h.finish());
    }
  };
  std::thread helper(work);
  work();
  helper.join();
  if (failed) status_ = incomplete;
}

TransferPace::TransferPace(std::chrono::milliseconds deadline, std::uint64_t min_bytes_per_second,
                           std::chrono::milliseconds grace)
    : start_(Clock::now()), deadline_(deadline), grace_(grace), min_rate_(min_bytes_per_second) {}

std::chrono::milliseconds TransferPace::remaining() const {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
  return elapsed >= deadline_ ? std::chrono::milliseconds(0) : deadline_ - elapsed;
}

Status TransferPace::check(std::uint64_t bytes) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  if (remaining().count() == 0) {
    return DeadlineExceeded("the pull's deadline of " + std::to_string(deadline_.count() / 1000) + " s passed after " +
                            std::to_string(bytes) + " bytes");
  }
  const double grace = std::chrono::duration<double>(grace_).count();
  if (min_rate_ > 0 && elapsed > grace && static_cast<double>(bytes) < static_cast<double>(min_rate_) * (elapsed - grace)) {
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.0f", static_cast<double>(bytes) / elapsed);
    return DeadlineExceeded("the server sends " + std::string(rate) + " bytes/s, under the minimum of " +
                            std::to_string(min_rate_) + " (" + std::to_string(bytes) + " bytes in " +
                            std::to_string(static_cast<long>(elapsed)) + " s)");
  }
  return Status::Ok();
}

Status receive_into(int sock, DownloadBuffer& buffer, std::uint64_t total, const std::function<void()>& arrived,
                    const TransferPace* pace, std::uint64_t pace_base) {
  const std::uint64_t start = buffer.received();
  const std::uint64_t end = start + total;
  if (end > buffer.size()) return InvalidArgument("receive_into: more bytes than the buffer holds");
  while (buffer.received() < end) {
    const std::uint64_t at = buffer.received();
    if (pace != nullptr) {
      TESSERA_RETURN_IF_ERROR(pace->check(pace_base + at - start));
      // Wake at least once a second, so that the pace is checked while nothing arrives.
      pollfd p{sock, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(pace->remaining().count(), 1000)));
      if (rc == 0 || (rc < 0 && errno == EINTR)) continue;
    }
    const ssize_t k = ::recv(sock, buffer.data() + at, std::min<std::uint64_t>(end - at, 4u << 20), 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      return IoError(std::string(k == 0 ? "the server closed the download"
                                        : "the download stalled or failed (" + errno_text() + ")") +
                     " with " + std::to_string(end - at) + " bytes to go (rerun to resume)");
    }
    TESSERA_RETURN_IF_ERROR(buffer.advance(static_cast<std::size_t>(k)));
    if (arrived) arrived();
  }
  return Status::Ok();
}

}  // namespace tessera::checkpoints
