#include "dataset/corpus.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file_io.h"
#include "dataset/token_shard.h"
#include "dataset/tokenizer.h"

namespace tessera::dataset {

namespace fs = std::filesystem;

namespace {

Result<std::vector<fs::path>> collect_files(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      for (auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) files.push_back(it->path());
      }
      if (ec) return IoError("walking " + input.string() + ": " + ec.message());
    } else if (fs::is_regular_file(input, ec)) {
      files.push_back(input);
    } else {
      return NotFound("input " + input.string() + " is neither a file nor a folder");
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// One split's shards, written as the tokens arrive: at most one shard's tokens are held.
class ShardWriter {
 public:
  ShardWriter(fs::path dir, std::string split, std::size_t per_shard, std::vector<fs::path>* written)
      : dir_(std::move(dir)), split_(std::move(split)), per_shard_(per_shard), written_(written) {
    buffer_.reserve(std::min<std::size_t>(per_shard_, 1u << 20));
  }
  Status append(std::string_view text) {
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t take = std::min(text.size() - at, per_shard_ - buffer_.size());
      tokenizer_.encode_append(text.substr(at, take), &buffer_);
      at += take;
      total_ += take;
      if (buffer_.size() == per_shard_) TESSERA_RETURN_IF_ERROR(flush());
    }
    return Status::Ok();
  }
  // The last (possibly partial) shard; a split always has at least one shard.
  Status finish() { return buffer_.empty() && index_ > 0 ? Status::Ok() : flush(); }
  std::uint64_t tokens() const { return total_; }

 private:
  Status flush() {
    char name[64];
    std::snprintf(name, sizeof name, "%s_%06zu.bin", split_.c_str(), index_++);
    TESSERA_RETURN_IF_ERROR(write_token_shard(dir_ / name, buffer_));
    written_->push_back(dir_ / name);
    buffer_.clear();
    return Status::Ok();
  }
  fs::path dir_;
  std::string split_;
  std::size_t per_shard_;
  std::vector<fs::path>* written_;
  ByteTokenizer tokenizer_;
  std::vector<std::uint16_t> buffer_;
  std::size_t index_ = 0;
  std::uint64_t total_ = 0;
};

// What prepare_corpus writes into its folder; anything else there makes it refuse, because
// the folder is replaced whole.
bool is_prepared_file(const std::string& name) {
  const bool shard = (name.rfind("train_", 0) == 0 || name.rfind("val_", 0) == 0) && name.size() > 4 &&
                     name.compare(name.size() - 4, 4, ".bin") == 0;
  return shard || name == "meta.json";
}

// The folder that holds `path` ("." for a bare name).
fs::path folder_of(const fs::path& path) { return path.parent_path().empty() ? fs::path(".") : path.parent_path(); }

// Moves `staged` into place as `out`: one atomic exchange when `out` exists (readers see
// the old dataset or the new one, never a mix or none), a rename otherwise.
Status swap_into_place(const fs::path& staged, const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) != 0) {
      if (errno != EINVAL && errno != ENOSYS) {
        return IoError("cannot swap " + staged.string() + " with " + out.string() + ": " + std::strerror(errno));
      }
      // A filesystem without the exchange: the old folder aside, the new one in (a crash
      // between the two renames leaves the old dataset in `<out>.old-<pid>`).
      const fs::path aside = out.string() + ".old-" + std::to_string(::getpid());
      fs::rename(out, aside, ec);
      if (!ec) fs::rename(staged, out, ec);
      if (ec) return IoError("cannot move " + staged.string() + " to " + out.string() + ": " + ec.message());
      TESSERA_RETURN_IF_ERROR(fsync_directory(folder_of(out)));
      fs::remove_all(aside, ec);
      return Status::Ok();
    }
    TESSERA_RETURN_IF_ERROR(fsync_directory(folder_of(out)));
    fs::remove_all(staged, ec);  // now the previous dataset
    return Status::Ok();
  }
  fs::rename(staged, out, ec);
  if (ec) return IoError("cannot move " + staged.string() + " to " + out.string() + ": " + ec.message());
  return fsync_directory(folder_of(out));
}

}  // namespace

Result<PrepareReport> prepare_corpus(const PrepareOptions& options,
                                     const std::function<void(std::size_t, std::size_t)>& progress) {
  if (options.inputs.empty()) return InvalidArgument("no --input given");
  if (!(options.val_fraction > 0.0 && options.val_fraction < 1.0)) {
    return InvalidArgument("--val-fraction = " + std::to_string(options.val_fraction) + ": must be in (0, 1)");
  }
  if (options.max_tokens_per_shard == 0) return InvalidArgument("max tokens per shard must be > 0");
  TESSERA_ASSIGN_OR_RETURN(std::vector<fs::path> files, collect_files(options.inputs));

  // The new dataset is built beside the old one and swapped in only when complete, so a
  // failure halfway leaves the previous dataset as it was.
  std::error_code ec;
  const fs::path out = options.out_dir.has_filename() ? options.out_dir : options.out_dir.parent_path();
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) return InvalidArgument("--out " + out.string() + " is not a folder");
    for (const auto& entry : fs::directory_iterator(out, ec)) {
      const std::string name = entry.path().filename().string();
      if (!is_prepared_file(name)) {
        return FailedPrecondition("--out " + out.string() + " holds " + name +
                                  ", which is not a prepared shard; the folder is replaced whole, so give an empty "
                                  "folder or one this command prepared");
      }
    }
  }
  // Leftovers of runs that died (their pid is gone) go first.
  const std::string prefix = out.filename().string() + ".preparing-";
  for (const auto& entry : fs::directory_iterator(folder_of(out), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
  const fs::path staged = out.string() + ".preparing-" + std::to_string(::getpid());
  fs::remove_all(staged, ec);
  fs::create_directories(staged, ec);
  if (ec) return IoError("create " + staged.string() + ": " + ec.message());
  auto fail = [&](Status s) {
    std::error_code ignored;
    fs::remove_all(staged, ignored);
    return s;
  };

  PrepareReport report;
  ShardWriter train(staged, "train", options.max_tokens_per_shard, &report.shards);
  ShardWriter val(staged, "val", options.max_tokens_per_shard, &report.shards);
  std::set<fs::path> seen;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (progress) progress(i, files.size());
    const fs::path canonical = fs::canonical(files[i], ec);
    if (ec || !seen.insert(canonical).second) {
      ++report.files_skipped;
      continue;
    }
    auto text = read_file(files[i]);
    if (!text.ok()) return fail(text.status());
    const std::string& t = *text;
    if (t.empty() || t.find('\0') != std::string::npos) {
      ++report.files_skipped;
      continue;
    }
    std::size_t split = static_cast<std::size_t>(static_cast<double>(t.size()) * (1.0 - options.val_fraction));
    if (auto nl = t.rfind('\n', split); nl != std::string::npos && nl > 0) split = nl + 1;
    if (Status s = train.append(std::string_view(t).substr(0, split)); !s.ok()) return fail(s);
    if (Status s = val.append(std::string_view(t).substr(split)); !s.ok()) return fail(s);
    ++report.files_used;
  }
  if (progress) progress(files.size(), files.size());
  if (report.files_used == 0) return fail(InvalidArgument("no text files found in the inputs"));
  if (val.tokens() == 0 || train.tokens() == 0) {
    return fail(InvalidArgument("corpus too small to split into train and validation"));
  }
  if (Status s = train.finish(); !s.ok()) return fail(s);
  if (Status s = val.finish(); !s.ok()) return fail(s);
  report.train_tokens = train.tokens();
  report.val_tokens = val.tokens();

  nlohmann::json meta = {
      {"tokenizer", "byte"},
      {"vocab_size", ByteTokenizer::kVocabSize},
      {"files_used", report.files_used},
      {"train_tokens", report.train_tokens},
      {"val_tokens", report.val_tokens},
      {"val_fraction", options.val_fraction},
  };
  if (Status s = write_file_atomic(staged / "meta.json", meta.dump(2) + "\n"); !s.ok()) return fail(s);
  if (Status s = swap_into_place(staged, out); !s.ok()) return fail(s);
  for (auto& shard : report.shards) shard = out / shard.filename();
  return report;
}

}  // namespace tessera::dataset
