// A split (train or val) of a prepared corpus held in memory, with the deterministic
// page assignment and batch sampling every role shares.
//
// A page is a contiguous span of `page_tokens` tokens of the training split; page p
// covers tokens [p·page_tokens, (p+1)·page_tokens). Miners train on the pages assigned
// to them; validators recompute the same assignment to check that they did.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"

namespace tessera::dataset {

class TokenDataset {
 public:
  // Loads every `<split>_*.bin` in `dir`, in name order. `split` is "train" or "val".
  static Result<TokenDataset> load(const std::filesystem::path& dir, const std::string& split);
  static TokenDataset from_tokens(std::vector<std::uint16_t> tokens);

  std::size_t size() const { return tokens_.size(); }
  const std::vector<std::uint16_t>& tokens() const { return tokens_; }
  std::uint64_t num_pages(std::uint64_t page_tokens) const { return tokens_.size() / page_tokens; }

  // Input/target pair [batch, seq_len] int64 starting at the given token offsets; an
  // offset with offset + seq_len + 1 > size() throws, naming it.
  std::pair<torch::Tensor, torch::Tensor> batch_at(const std::vector<std::uint64_t>& offsets,
                                                   std::int64_t seq_len) const;

  // Held-out / random sampling: `batch` windows at uniform offsets drawn from `seed`.
  std::pair<torch::Tensor, torch::Tensor> sample_batch(std::uint64_t seed, std::int64_t batch,
                                                       std::int64_t seq_len) const;

  // A batch drawn only from the given pages: each row is a window inside one page.
  std::pair<torch::Tensor, torch::Tensor> sample_from_pages(const std::vector<std::uint64_t>& pages,
                                                            std::uint64_t page_tokens, std::uint64_t seed,
                                                            std::int64_t batch, std::int64_t seq_len) const;

 private:
  std::vector<std::uint16_t> tokens_;
};

// Checks that `data` (a split loaded from `where`) is long enough for windows of
// `seq_len` + 1 tokens and holds only ids below `vocab_size`; the error names both.
Status check_split(const TokenDataset& data, const std::string& where, int seq_len, int vocab_size);

// pages(run_seed, window, uid, n): n distinct page ids, uniform over [0, num_pages), in
// draw order; identical on every machine. Error if n > num_pages or num_pages == 0.
Result<std::vector<std::uint64_t>> assign_pages(std::uint64_t run_seed, std::uint64_t window,
                                                std::uint64_t uid, std::uint64_t n, std::uint64_t num_pages);

// BLAKE2b-256 hex of the page ids — the "data digest" a miner signs.
std::string pages_digest(const std::vector<std::uint64_t>& pages);

// Seed of the batch a miner draws from its pages at inner step `step` of `window`.
// Validators recompute it to measure a delta on the exact data it was trained on.
std::uint64_t inner_batch_seed(std::uint64_t run_seed, std::uint64_t window, std::uint64_t uid, int step);

// The token offsets of the rows a miner trains on at inner step `step` of `window` when
// data.sampling = "disjoint". Each page is cut, from a phase drawn per page, into slots of
// train.seq_len tokens (a row reads seq_len + 1, so a row's last target is the next
// slot's first input); the window's slots are shuffled, and step s takes rows
// [s·B, (s+1)·B) of that order. No two rows of a window share an input token until the
// window needs more rows than its pages hold; the order then goes on with a fresh shuffle
// of the same slots. A function of (spec.seed, window, uid) and the pages alone.
std::vector<std::uint64_t> disjoint_row_offsets(const RunSpec& spec, const std::vector<std::uint64_t>& pages,
                                                std::uint64_t window, std::uint64_t uid, int step);

// The batch a miner trains on at inner step `step` of `window`: train.batch_size rows of
// train.seq_len from its `pages`, cut as data.sampling says ("uniform": drawn with
// inner_batch_seed; "disjoint": disjoint_row_offsets). The miner, the validators' replay
// of its own batches and the studies all draw it here, so they cannot disagree.
std::pair<torch::Tensor, torch::Tensor> inner_batch(const TokenDataset& train, const RunSpec& spec,
                                                    const std::vector<std::uint64_t>& pages, std::uint64_t window,
                                                    std::uint64_t uid, int step);

}  // namespace tessera::dataset
