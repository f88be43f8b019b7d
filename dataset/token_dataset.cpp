#include "dataset/token_dataset.h"

#include <algorithm>
#include <unordered_set>

#include "core/hash.h"
#include "core/rng.h"
#include "dataset/token_shard.h"

namespace tessera::dataset {

namespace fs = std::filesystem;

Result<TokenDataset> TokenDataset::load(const fs::path& dir, const std::string& split) {
  if (split != "train" && split != "val") return InvalidArgument("split must be \"train\" or \"val\", got \"" + split + "\"");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFound("data folder " + dir.string() +
                    " does not exist (prepare it with: tessera data prepare --input PATH --out " + dir.string() + ")");
  }
  std::vector<fs::path> shards;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(split + "_", 0) == 0 && entry.path().extension() == ".bin") shards.push_back(entry.path());
  }
  std::sort(shards.begin(), shards.end());
  if (shards.empty()) return NotFound("no " + split + "_*.bin shards in " + dir.string());
  TokenDataset ds;
  for (const auto& path : shards) {
    TESSERA_ASSIGN_OR_RETURN(auto tokens, read_token_shard(path));
    ds.tokens_.insert(ds.tokens_.end(), tokens.begin(), tokens.end());
  }
  return ds;
}

TokenDataset TokenDataset::from_tokens(std::vector<std::uint16_t> tokens) {
  TokenDataset ds;
  ds.tokens_ = std::move(tokens);
  return ds;
}

std::pair<torch::Tensor, torch::Tensor> TokenDataset::batch_at(const std::vector<std::uint64_t>& offsets,
                                                               std::int64_t seq_len) const {
  const auto batch = static_cast<std::int64_t>(offsets.size());
  auto x = torch::empty({batch, seq_len}, torch::kLong);
  auto y = torch::empty({batch, seq_len}, torch::kLong);
  auto* xp = x.data_ptr<std::int64_t>();
  auto* yp = y.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::uint64_t offset = offsets[static_cast<std::size_t>(b)];
    TORCH_CHECK(offset + static_cast<std::uint64_t>(seq_len) + 1 <= tokens_.size(), "a row at token ", offset,
                " is past the end of the split");
    const std::uint16_t* src = tokens_.data() + offset;
    for (std::int64_t t = 0; t < seq_len; ++t) {
      xp[b * seq_len + t] = src[t];
      yp[b * seq_len + t] = src[t + 1];
    }
  }
  return {x, y};
}

std::pair<torch::Tensor, torch::Tensor> TokenDataset::sample_batch(std::uint64_t seed, std::int64_t batch,
                                                                   std::int64_t seq_len) const {
  TORCH_CHECK(tokens_.size() > static_cast<std::size_t>(seq_len) + 1, "split of ", tokens_.size(),
              " tokens is too small for sequences of ", seq_len);
  Rng rng = Rng::derive("tessera/sample/v1", seed);
  const std::uint64_t span = tokens_.size() - static_cast<std::uint64_t>(seq_len);
  std::vector<std::uint64_t> offsets(static_cast<std::size_t>(batch));
  for (auto& o : offsets) o = rng.uniform(span);
  return batch_at(offsets, seq_len);
}

std::pair<torch::Tensor, torch::Tensor> TokenDataset::sample_from_pages(const std::vector<std::uint64_t>& pages,
                                                                        std::uint64_t page_tokens,
                                                                        std::uint64_t seed, std::int64_t batch,
                                                                        std::int64_t seq_len) const {
  TORCH_CHECK(!pages.empty(), "no pages to sample from");
  TORCH_CHECK(page_tokens >= static_cast<std::uint64_t>(seq_len) + 1, "page of ", page_tokens,
              " tokens is shorter than a sequence of ", seq_len, " + 1");
  Rng rng = Rng::derive("tessera/page-sample/v1", seed);
  const std::uint64_t span = page_tokens - static_cast<std::uint64_t>(seq_len);
  std::vector<std::uint64_t> offsets(static_cast<std::size_t>(batch));
  for (auto& o : offsets) {
    const std::uint64_t page = pages[rng.uniform(pages.size())];
    o = page * page_tokens + rng.uniform(span);
    TORCH_CHECK(o + static_cast<std::uint64_t>(seq_len) + 1 <= tokens_.size(), "page ", page, " is out of range");
  }
  return batch_at(offsets, seq_len);
}

Result<std::vector<std::uint64_t>> assign_pages(std::uint64_t run_seed, std::uint64_t window, std::uint64_t uid,
                                                std::uint64_t n, std::uint64_t num_pages) {
  if (num_pages == 0) return FailedPrecondition("the training split has no full page");
  if (n > num_pages) {
    return InvalidArgument("cannot assign " + std::to_string(n) + " distinct pages out of " +
                           std::to_string(num_pages));
  }
  Rng rng = Rng::derive("tessera/pages/v1", run_seed, window, uid);
  std::vector<std::uint64_t> pages;
  pages.reserve(n);
  std::unordered_set<std::uint64_t> taken;
  while (pages.size() < n) {
    const std::uint64_t p = rng.uniform(num_pages);
    if (taken.insert(p).second) pages.push_back(p);
  }
  return pages;
}

std::string pages_digest(const std::vector<std::uint64_t>& pages) {
  Blake2b256 h;
  h.update("tessera/pages-digest/v1");
  for (auto p : pages) h.update_u64(p);
  Hash256 d = h.finish();
  return to_hex(d);
}

std::uint64_t inner_batch_seed(std::uint64_t run_seed, std::uint64_t window, std::uint64_t uid, int step) {
  return Rng::derive("tessera/inner-batch", run_seed, window, uid * 65536 + static_cast<std::uint64_t>(step)).next_u64();
}

std::vector<std::uint64_t> disjoint_row_offsets(const RunSpec& spec, const std::vector<std::uint64_t>& pages,
                                                std::uint64_t window, std::uint64_t uid, int step) {
  const auto page_tokens = static_cast<std::uint64_t>(spec.data.page_tokens);
  const auto seq_len = static_cast<std::uint64_t>(spec.train.seq_len);
  TORCH_CHECK(!pages.empty(), "no pages to sample from");
  TORCH_CHECK(page_tokens >= seq_len + 1, "page of ", page_tokens, " tokens is shorter than a sequence of ", seq_len,
              " + 1");
  // A page holds `per_page` slots; the `spare` tokens left over place the first one.
  const std::uint64_t per_page = (page_tokens - 1) / seq_len;
  const std::uint64_t spare = page_tokens - 1 - per_page * seq_len;
  Rng rng = Rng::derive("tessera/disjoint-rows/v1", spec.seed, window, uid);
  std::vector<std::uint64_t> slots;
  slots.reserve(pages.size() * per_page);
  for (const std::uint64_t page : pages) {
    const std::uint64_t first = page * page_tokens + rng.uniform(spare + 1);
    for (std::uint64_t k = 0; k < per_page; ++k) slots.push_back(first + k * seq_len);
  }
  const auto batch = static_cast<std::uint64_t>(spec.train.batch_size);
  const std::uint64_t begin = static_cast<std::uint64_t>(step) * batch;
  std::vector<std::uint64_t> offsets;
  offsets.reserve(batch);
  // Shuffle pass p orders rows [p·n, (p+1)·n); passes before the step's first row are
  // drawn too, so that the order is the same whichever step asks.
  std::vector<std::uint64_t> order;
  const std::uint64_t n = slots.size();
  for (std::uint64_t pass = 0; offsets.size() < batch; ++pass) {
    order = slots;
    for (std::uint64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.uniform(i + 1)]);
    for (std::uint64_t r = std::max(begin, pass * n); r < std::min(begin + batch, (pass + 1) * n); ++r) {
      offsets.push_back(order[r - pass * n]);
    }
  }
  return offsets;
}

std::pair<torch::Tensor, torch::Tensor> inner_batch(const TokenDataset& train, const RunSpec& spec,
                                                    const std::vector<std::uint64_t>& pages, std::uint64_t window,
                                                    std::uint64_t uid, int step) {
  if (spec.data.sampling == "disjoint") {
    return train.batch_at(disjoint_row_offsets(spec, pages, window, uid, step), spec.train.seq_len);
  }
  return train.sample_from_pages(pages, static_cast<std::uint64_t>(spec.data.page_tokens),
                                 inner_batch_seed(spec.seed, window, uid, step), spec.train.batch_size, spec.train.seq_len);
}

Status check_split(const TokenDataset& data, const std::string& where, int seq_len, int vocab_size) {
  if (data.size() <= static_cast<std::size_t>(seq_len) + 1) {
    return FailedPrecondition("data in " + where + " is too small for train.seq_len = " + std::to_string(seq_len));
  }
  for (auto t : data.tokens()) {
    if (t >= vocab_size) {
      return InvalidArgument("data in " + where + " holds token " + std::to_string(t) +
                             " outside the model's vocabulary of " + std::to_string(vocab_size));
    }
  }
  return Status::Ok();
}

}  // namespace tessera::dataset
