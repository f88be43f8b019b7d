#include "dataset/corpus.h"

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

Status write_split(const fs::path& dir, const std::string& split, const std::vector<std::uint16_t>& tokens,
                   std::size_t per_shard, std::vector<fs::path>* written) {
  std::size_t index = 0;
  for (std::size_t begin = 0; begin < tokens.size() || index == 0; begin += per_shard, ++index) {
    const std::size_t end = std::min(tokens.size(), begin + per_shard);
    char name[64];
    std::snprintf(name, sizeof name, "%s_%06zu.bin", split.c_str(), index);
    const fs::path path = dir / name;
    TESSERA_RETURN_IF_ERROR(write_token_shard(
        path, std::span<const std::uint16_t>(tokens.data() + begin, end - begin)));
    written->push_back(path);
    if (end == tokens.size()) break;
  }
  return Status::Ok();
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

  ByteTokenizer tokenizer;
  std::vector<std::uint16_t> train, val;
  PrepareReport report;
  std::set<fs::path> seen;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (progress) progress(i, files.size());
    std::error_code ec;
    const fs::path canonical = fs::canonical(files[i], ec);
    if (ec || !seen.insert(canonical).second) {
      ++report.files_skipped;
      continue;
    }
    auto text = read_file(files[i]);
    if (!text.ok()) return text.status();
    const std::string& t = *text;
    if (t.empty() || t.find('\0') != std::string::npos) {
      ++report.files_skipped;
      continue;
    }
    std::size_t split = static_cast<std::size_t>(static_cast<double>(t.size()) * (1.0 - options.val_fraction));
    if (auto nl = t.rfind('\n', split); nl != std::string::npos && nl > 0) split = nl + 1;
    tokenizer.encode_append(std::string_view(t).substr(0, split), &train);
    tokenizer.encode_append(std::string_view(t).substr(split), &val);
    ++report.files_used;
  }
  if (progress) progress(files.size(), files.size());
  if (report.files_used == 0) return InvalidArgument("no text files found in the inputs");
  if (val.empty() || train.empty()) return InvalidArgument("corpus too small to split into train and validation");

  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) return IoError("create " + options.out_dir.string() + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(options.out_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if ((name.rfind("train_", 0) == 0 || name.rfind("val_", 0) == 0) && entry.path().extension() == ".bin") {
      fs::remove(entry.path(), ec);
    }
  }
  TESSERA_RETURN_IF_ERROR(write_split(options.out_dir, "train", train, options.max_tokens_per_shard, &report.shards));
  TESSERA_RETURN_IF_ERROR(write_split(options.out_dir, "val", val, options.max_tokens_per_shard, &report.shards));
  report.train_tokens = train.size();
  report.val_tokens = val.size();

  nlohmann::json meta = {
      {"tokenizer", "byte"},
      {"vocab_size", ByteTokenizer::kVocabSize},
      {"files_used", report.files_used},
      {"train_tokens", report.train_tokens},
      {"val_tokens", report.val_tokens},
      {"val_fraction", options.val_fraction},
  };
  TESSERA_RETURN_IF_ERROR(write_file_atomic(options.out_dir / "meta.json", meta.dump(2) + "\n"));
  return report;
}

}  // namespace tessera::dataset
