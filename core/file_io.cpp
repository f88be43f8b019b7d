#include "core/file_io.h"

#include <atomic>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/bytes.h"
#include "core/fault.h"
#include "core/hash.h"

namespace tessera {

std::string errno_text() { return std::strerror(errno); }

Status fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return IoError("open directory " + dir.string() + ": " + errno_text());
  int rc = ::fsync(fd);
  std::string err = rc != 0 ? errno_text() : "";
  ::close(fd);
  if (rc != 0) return IoError("fsync directory " + dir.string() + ": " + err);
  return Status::Ok();
}

Status write_file_synced(const std::filesystem::path& tmp, std::string_view contents, unsigned mode) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return IoError("create " + tmp.string() + ": " + errno_text());
  auto fail = [&](const char* what) {
    std::string err = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return IoError(what + (" " + tmp.string()) + ": " + err);
  };
  if (::fchmod(fd, mode) != 0) return fail("chmod");
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  ::close(fd);
  return Status::Ok();
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view contents,
                         unsigned mode) {
  // Unique per process and call: two threads writing the same path must not share a temp.
  static std::atomic<std::uint64_t> counter{0};
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(static_cast<long>(::getpid())) + "." +
                                    std::to_string(counter++);
  TESSERA_RETURN_IF_ERROR(write_file_synced(tmp, contents, mode));
  fault_point("file:written");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = errno_text();
    ::unlink(tmp.c_str());
    return IoError("rename " + tmp.string() + " -> " + path.string() + ": " + err);
  }
  fault_point("file:renamed");
  return fsync_directory(path.parent_path());
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return NotFound("no such file: " + path.string());
    return IoError("cannot open " + path.string() + ": " + errno_text());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("read " + path.string() + " failed");
  return ss.str();
}

}  // namespace tessera

namespace tessera {

Status write_sealed_file(const std::filesystem::path& path, std::string_view kind, std::string_view body) {
  std::string out;
  out.reserve(kind.size() + 1 + 8 + 32 + body.size());
  out.append(kind);
  out.push_back('\n');
  const std::uint64_t n = body.size();
  append_le(&out, n, 8);
  out.append(raw_bytes(blake2b_256(body)));
  out.append(body);
  return write_file_atomic(path, out, 0600);
}

Result<std::string> read_sealed_file(const std::filesystem::path& path, std::string_view kind) {
  if (!std::filesystem::exists(path)) return NotFound("no state file " + path.string());
  TESSERA_ASSIGN_OR_RETURN(std::string data, read_file(path));
  const std::string at = "state file " + path.string() + ": ";
  const std::size_t head = kind.size() + 1;
  if (data.size() < head + 40 || data.compare(0, kind.size(), kind) != 0 || data[kind.size()] != '\n') {
    return Corrupted(at + "not a " + std::string(kind) + " file (or truncated)");
  }
  const std::uint64_t n = load_le(data.data() + head, 8);
  if (n != data.size() - head - 40) return Corrupted(at + "length field says " + std::to_string(n) + " bytes, holds " +
                                                     std::to_string(data.size() - head - 40));
  std::string body = data.substr(head + 40);
  if (raw_bytes(blake2b_256(body)) != std::string_view(data).substr(head + 8, 32)) return Corrupted(at + "checksum mismatch");
  return body;
}

}  // namespace tessera
