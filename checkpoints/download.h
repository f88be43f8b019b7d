// The client side of a model download: where the bytes go and how they are checked while
// they arrive.
//
// The bytes land once, in memory (`DownloadBuffer`): the tensors are decoded from there
// without a copy, two threads hash them there right behind the transfer
// (`StreamHasher`), and a writer thread copies them to the partial file with O_DIRECT
// (the disk reads the buffer; no page cache, no second copy by the CPU). Writing through
// the page cache instead (splice into the file, hash through a mapping of it) spent more
// of this machine's two cores on ext4's per-page bookkeeping and page faults than on the
// copy itself; see docs/checkpoints.md for the measurements.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace tessera::checkpoints {

class DownloadBuffer {
 public:
  // A buffer for a `size`-byte download into `partial`, whose first `resume_from` bytes
  // (an interrupted download's) are read back into it; anything beyond them in the file
  // is cut off.
  static Result<std::unique_ptr<DownloadBuffer>> open(const std::filesystem::path& partial, std::uint64_t size,
                                                      std::uint64_t resume_from);
  ~DownloadBuffer();  // close(false) and wait() if the caller did not
  DownloadBuffer(const DownloadBuffer&) = delete;
  DownloadBuffer& operator=(const DownloadBuffer&) = delete;

  // size() bytes, page-aligned; the first received() are final. Shared so that tensors
  // decoded from it keep it alive after the buffer object is gone.
  char* data() const { return memory_.get(); }
  const std::shared_ptr<char[]>& memory() const { return memory_; }
  std::uint64_t size() const { return size_; }
  std::uint64_t received() const { return received_.load(); }
  // The caller put n more bytes at data() + received(). Fails once a write to the file
  // failed (the transfer should stop: nothing more can be kept).
  Status advance(std::size_t n);
  // No more bytes will come: the writer writes what is left, and fdatasyncs the file when
  // `durable`, in the background. Then the file holds exactly the received bytes (what a
  // rerun resumes from), whichever way the transfer ended.
  void close(bool durable);
  // Waits for the writer; the first write or sync error, naming the file.
  Status wait();

  struct Stats {
    std::uint64_t direct_bytes = 0;    // written with O_DIRECT
    std::uint64_t buffered_bytes = 0;  // written through the page cache (tails, fallback)
  };
  Stats stats() const { return {direct_bytes_.load(), buffered_bytes_.load()}; }

 private:
  DownloadBuffer() = default;
  void write_loop();
  // Writes data()[begin, end) at `begin` (O_DIRECT while direct_); false after an error.
  bool write_range(std::uint64_t begin, std::uint64_t end);
  // Drops O_DIRECT: for the last partial page, or a filesystem that wants other alignment.
  void use_page_cache();

  std::filesystem::path path_;
  std::shared_ptr<char[]> memory_;
  std::uint64_t size_ = 0;
  int fd_ = -1;
  bool direct_ = false;  // fd_ is open with O_DIRECT
  std::atomic<std::uint64_t> received_{0};
  std::atomic<bool> failed_{false};
  std::uint64_t written_ = 0;   // writer thread only
  std::uint64_t notified_ = 0;  // receiving thread only: received() when the writer was last woken
  std::mutex mu_;
  std::condition_variable cv_;
  bool closing_ = false, durable_ = false, waited_ = false;
  Status status_;
  std::thread writer_;
  std::atomic<std::uint64_t> direct_bytes_{0}, buffered_bytes_{0};
};

// Hashes each tensor of a safetensors download as soon as its bytes have arrived, on two
// threads of its own (tensors in file order, one whole tensor per thread at a time), so
// that verification overlaps the transfer instead of following it.
class StreamHasher {
 public:
  StreamHasher(const char* buf, std::uint64_t size);
  ~StreamHasher() { finish(); }
  StreamHasher(const StreamHasher&) = delete;
  StreamHasher& operator=(const StreamHasher&) = delete;

  // Bytes [0, received) of the buffer are final.
  void arrived(std::uint64_t received);
  // No more bytes will come; waits for the hashing to end.
  void finish();
  // After finish(): one BLAKE3 hash (hex) per tensor in file order, or why there are none.
  Result<std::vector<std::string>> hashes() const;

 private:
  std::uint64_t wait_for(std::uint64_t want);
  void run();

  const char* buf_;
  const std::uint64_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t received_ = 0;
  bool done_ = false;
  Status status_;
  std::vector<std::string> hashes_;
  std::thread thread_;
};

// The limits of one pull: an overall deadline and, after a grace period, a minimum
// average rate, so that a server dripping bytes cannot hold a miner for its window.
class TransferPace {
 public:
  using Clock = std::chrono::steady_clock;
  TransferPace(std::chrono::milliseconds deadline, std::uint64_t min_bytes_per_second, std::chrono::milliseconds grace);
  // Ok while a transfer that has received `bytes` since this pace started may go on;
  // otherwise why not (naming the deadline or the rate).
  Status check(std::uint64_t bytes) const;
  std::chrono::milliseconds remaining() const;

 private:
  Clock::time_point start_;
  std::chrono::milliseconds deadline_, grace_;
  std::uint64_t min_rate_;
};

// Receives `total` bytes from a connected socket into `buffer` at its received() end;
// `arrived()` after every piece; stops as soon as `pace` says so (`pace_base`: bytes the
// pace already counted before this call). Errors say how far the download got (a rerun
// resumes).
Status receive_into(int sock, DownloadBuffer& buffer, std::uint64_t total, const std::function<void()>& arrived,
                    const TransferPace* pace = nullptr, std::uint64_t pace_base = 0);

}  // namespace tessera::checkpoints
