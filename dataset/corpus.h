// Corpus preparation: text files and folders → train/validation token shards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::dataset {

struct PrepareOptions {
  std::vector<std::filesystem::path> inputs;  // files or folders (walked recursively)
  std::filesystem::path out_dir;
  double val_fraction = 0.05;
  std::size_t max_tokens_per_shard = 64u << 20;
};

struct PrepareReport {
  std::size_t files_used = 0;
  std::size_t files_skipped = 0;  // binary (NUL bytes), empty or duplicate (symlinks)
  std::uint64_t train_tokens = 0;
  std::uint64_t val_tokens = 0;
  std::vector<std::filesystem::path> shards;
};

// Every text file contributes its head to the training split and its tail (the last
// `val_fraction` of its bytes, cut at a line boundary) to the validation split, so the
// validation split covers every source. Files are visited in sorted path order; symlinks
// to an already visited file and files with NUL bytes (binary indexes such as fortune's
// .dat files) are skipped. Writes `<out>/train_NNNNNN.bin`, `<out>/val_NNNNNN.bin` (llm.c
// shards, byte tokenizer) and `<out>/meta.json`. Streams: one input file and at most one
// shard per split are in memory at a time. The new dataset is built in
// `<out>.preparing-<pid>` and swapped in atomically when complete (renameat2 exchange), so
// readers see the old dataset or the new one and a failure leaves the old one as it was;
// because `<out>` is replaced whole, it must hold nothing but prepared files.
// `progress` receives (files done, files total).
Result<PrepareReport> prepare_corpus(const PrepareOptions& options,
                                     const std::function<void(std::size_t, std::size_t)>& progress = {});

}  // namespace tessera::dataset
