#include "chain-bridge/block_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/bytes.h"
#include "core/fault.h"
#include "core/file_io.h"

namespace tessera::chain {

namespace {
constexpr std::uint32_t kRecordMagic = 0x4b4c4254;    // "TBLK"
constexpr std::uint32_t kSnapshotMagic = 0x50534e54;  // "TNSP"
constexpr std::size_t kHeader = 16;

std::string checksum(std::string_view payload) {
  const Hash256 h = blake2b_256(payload);
  return std::string(reinterpret_cast<const char*>(h.data()), 8);
}
Status errno_status(const std::string& what) { return IoError(what + ": " + std::strerror(errno)); }
}  // namespace

BlockLog::BlockLog(BlockLog&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
BlockLog& BlockLog::operator=(BlockLog&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}
BlockLog::~BlockLog() {
  if (fd_ >= 0) ::close(fd_);
}

Result<LogContents> read_block_log(const std::filesystem::path& path) {
  LogContents out;
  std::string data;
  if (std::filesystem::exists(path)) {
    TESSERA_ASSIGN_OR_RETURN(data, read_file(path));
  }
  out.file_bytes = data.size();
  std::size_t pos = 0;
  std::string why;  // why the record at `pos` is not good
  bool complete = true;  // whether that record's bytes are all present
  while (pos < data.size()) {
    if (pos + kHeader > data.size()) {
      why = "an incomplete record header";
      complete = false;
      break;
    }
    const char* h = data.data() + pos;
    if (load_le(h, 4) != kRecordMagic) {
      why = "no record magic";
      break;
    }
    const auto len = static_cast<std::uint32_t>(load_le(h + 4, 4));
    if (len > kMaxRecord) {
      why = "a record length of " + std::to_string(len) + " bytes, over the cap of " + std::to_string(kMaxRecord);
      break;
    }
    if (pos + kHeader + len > data.size()) {
      why = "a record of " + std::to_string(len) + " bytes cut short by the end of the file";
      complete = false;
      break;
    }
    const std::string_view payload(data.data() + pos + kHeader, len);
    if (checksum(payload) != std::string_view(h + 8, 8)) {
      why = "a record failing its checksum";
      break;
    }
    proto::Block b;
    if (!b.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      why = "a record that does not parse as a block";
      break;
    }
    out.blocks.push_back(std::move(b));
    pos += kHeader + len;
    out.ends.push_back(pos);
  }
  out.valid_bytes = pos;
  if (pos == data.size()) return out;
  const std::string_view rest(data.data() + pos, data.size() - pos);
  const bool zeros = rest.find_first_not_of('\0') == std::string_view::npos;
  const bool last_record = !complete || (why == "a record failing its checksum" &&
                                         pos + kHeader + load_le(data.data() + pos + 4, 4) == data.size());
  out.torn_tail = zeros || last_record;
  out.problem = (out.torn_tail ? "a torn last record at offset " : "damage at offset ") + std::to_string(pos) + " (" +
                (zeros ? "zeros" : why) + "), " + std::to_string(rest.size()) + " bytes to the end";
  return out;
}

Result<BlockLog> BlockLog::open(const std::filesystem::path& path, std::vector<proto::Block>* blocks,
                                std::uint64_t* truncated) {
  TESSERA_ASSIGN_OR_RETURN(LogContents contents, read_block_log(path));
  if (!contents.problem.empty() && !contents.torn_tail) {
    return Corrupted("block log " + path.string() + ": " + contents.problem +
                     "; refusing to start, since only a torn last record is ever cut. `tessera chain check --data-dir " +
                     path.parent_path().string() + "` shows what replays; `tessera chain recover` keeps the verified prefix");
  }
  BlockLog log;
  log.path_ = path;
  log.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log.fd_ < 0) return errno_status("opening block log " + path.string());
  if (truncated) *truncated = contents.file_bytes - contents.valid_bytes;
  if (contents.torn_tail) {
    if (::ftruncate(log.fd_, static_cast<off_t>(contents.valid_bytes)) != 0) {
      return errno_status("truncating the torn tail of " + path.string());
    }
    if (::fsync(log.fd_) != 0) return errno_status("fsync " + path.string());
  }
  TESSERA_RETURN_IF_ERROR(fsync_directory(path.parent_path().empty() ? "." : path.parent_path()));
  *blocks = std::move(contents.blocks);
  return log;
}

Status BlockLog::truncate(const std::filesystem::path& path, std::uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("opening block log " + path.string());
  const bool ok = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (!ok) return errno_status("truncating " + path.string());
  return fsync_directory(path.parent_path().empty() ? "." : path.parent_path());
}

Status BlockLog::append(const proto::Block& block) {
  std::string payload;
  if (!block.SerializeToString(&payload)) return Internal("serialising block " + std::to_string(block.height()) + " failed");
  if (payload.size() > kMaxRecord) {
    return InvalidArgument("block " + std::to_string(block.height()) + " serialises to " + std::to_string(payload.size()) +
                           " bytes, over the log's record cap of " + std::to_string(kMaxRecord));
  }
  std::string record;
  append_le(&record, kRecordMagic, 4);
  append_le(&record, static_cast<std::uint32_t>(payload.size()), 4);
  record += checksum(payload);
  record += payload;
  std::size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("appending block " + std::to_string(block.height()) + " to " + path_.string());
    }
    done += static_cast<std::size_t>(n);
  }
  fault_point("log:written");
  if (::fdatasync(fd_) != 0) return errno_status("fdatasync " + path_.string());
  fault_point("log:synced");
  return Status::Ok();
}

Status write_snapshot(const std::filesystem::path& path, const Snapshot& s) {
  std::string out;
  append_le(&out, kSnapshotMagic, 4);
  append_le(&out, s.height, 8);
  out += s.head_hash;
  append_le(&out, s.ledger.size(), 8);
  out += s.ledger;
  out += checksum(out);
  return write_file_atomic(path, out, 0600);
}

Result<Snapshot> read_snapshot(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return NotFound("no snapshot at " + path.string());
  TESSERA_ASSIGN_OR_RETURN(std::string data, read_file(path));
  if (data.size() < 4 + 8 + 32 + 8 + 8) return Corrupted("snapshot " + path.string() + " is truncated");
  if (load_le(data.data(), 4) != kSnapshotMagic) return Corrupted("snapshot " + path.string() + " has a bad magic number");
  const std::string_view body(data.data(), data.size() - 8);
  if (checksum(body) != std::string_view(data.data() + data.size() - 8, 8)) {
    return Corrupted("snapshot " + path.string() + " fails its checksum");
  }
  Snapshot s;
  s.height = load_le(data.data() + 4, 8);
  s.head_hash = data.substr(12, 32);
  const std::uint64_t len = load_le(data.data() + 44, 8);
  if (52 + len + 8 != data.size()) return Corrupted("snapshot " + path.string() + " has a bad length");
  s.ledger = data.substr(52, len);
  return s;
}

}  // namespace tessera::chain
