#include "dataset/token_dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace tessera::dataset {
namespace {

TEST(AssignPages, DeterministicDistinctAndInRange) {
  auto a = assign_pages(1234, 7, 3, 16, 1000);
  auto b = assign_pages(1234, 7, 3, 16, 1000);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  std::set<std::uint64_t> unique(a->begin(), a->end());
  EXPECT_EQ(unique.size(), 16u);
  for (auto p : *a) EXPECT_LT(p, 1000u);
  EXPECT_NE(*a, *assign_pages(1234, 8, 3, 16, 1000));  // another window
  EXPECT_NE(*a, *assign_pages(1234, 7, 4, 16, 1000));  // another miner
  EXPECT_NE(*a, *assign_pages(1235, 7, 3, 16, 1000));  // another run
  EXPECT_EQ(pages_digest(*a), pages_digest(*b));
  EXPECT_NE(pages_digest(*a), pages_digest(*assign_pages(1234, 8, 3, 16, 1000)));
}

TEST(AssignPages, UniformOverPages) {
  // 20000 draws of 5 pages over 50 pages: each page expected 2000 times.
  const std::uint64_t num_pages = 50;
  std::vector<int> counts(num_pages, 0);
  for (std::uint64_t w = 0; w < 20000; ++w) {
    auto pages = assign_pages(99, w, w % 64, 5, num_pages);
    ASSERT_TRUE(pages.ok());
    for (auto p : *pages) ++counts[p];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += (c - 2000.0) * (c - 2000.0) / 2000.0;
  EXPECT_LT(chi2, 100.0) << "49 degrees of freedom; p < 1e-5 above ~100";
}

TEST(AssignPages, Errors) {
  EXPECT_FALSE(assign_pages(1, 1, 1, 11, 10).ok());
  EXPECT_FALSE(assign_pages(1, 1, 1, 1, 0).ok());
  EXPECT_TRUE(assign_pages(1, 1, 1, 10, 10).ok());
}

TEST(TokenDataset, BatchesAreShiftedWindowsFromThePages) {
  std::vector<std::uint16_t> tokens(1000);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::uint16_t>(i % 251);
  auto ds = TokenDataset::from_tokens(tokens);
  EXPECT_EQ(ds.num_pages(100), 10u);
  auto [x, y] = ds.sample_from_pages({3, 7}, 100, 5, 32, 20);
  EXPECT_EQ(x.sizes(), (std::vector<std::int64_t>{32, 20}));
  for (std::int64_t b = 0; b < 32; ++b) {
    EXPECT_TRUE(torch::equal(x[b].slice(0, 1), y[b].slice(0, 0, 19)));
  }
  // Same seed → same batch; different seed → different batch.
  EXPECT_TRUE(torch::equal(ds.sample_batch(1, 4, 16).first, ds.sample_batch(1, 4, 16).first));
  EXPECT_FALSE(torch::equal(ds.sample_batch(1, 4, 16).first, ds.sample_batch(2, 4, 16).first));
}

TEST(TokenDataset, PageSamplingStaysInsideAssignedPages) {
  std::vector<std::uint16_t> tokens(1000);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::uint16_t>(i / 100);  // token = page id
  auto ds = TokenDataset::from_tokens(tokens);
  auto [x, y] = ds.sample_from_pages({2, 6}, 100, 11, 64, 50);
  auto values = std::get<0>(torch::_unique(torch::cat({x.flatten(), y.flatten()})));
  EXPECT_EQ(values.numel(), 2);
  std::set<std::int64_t> seen;
  for (std::int64_t i = 0; i < values.numel(); ++i) seen.insert(values[i].item<std::int64_t>());
  EXPECT_EQ(seen, (std::set<std::int64_t>{2, 6}));
}

RunSpec disjoint_spec() {
  RunSpec spec;
  spec.seed = 77;
  spec.data.page_tokens = 100;
  spec.data.sampling = "disjoint";
  spec.train.seq_len = 20;  // 4 slots a page, 19 tokens to place the first
  spec.train.batch_size = 3;
  return spec;
}

TEST(DisjointRows, AWindowsRowsAreDistinctSlotsInsideItsPages) {
  const RunSpec spec = disjoint_spec();
  const std::vector<std::uint64_t> pages{2, 6, 9};  // 12 slots: steps 0–3 take each once
  std::vector<std::uint64_t> rows;
  for (int step = 0; step < 4; ++step) {
    const auto offsets = disjoint_row_offsets(spec, pages, 5, 1, step);
    ASSERT_EQ(offsets.size(), 3u);
    EXPECT_EQ(offsets, disjoint_row_offsets(spec, pages, 5, 1, step)) << "the same rows whichever role asks";
    rows.insert(rows.end(), offsets.begin(), offsets.end());
  }
  std::map<std::uint64_t, int> per_page;
  for (const auto o : rows) {
    EXPECT_EQ(o / 100, (o + 20) / 100) << "row at " << o << " reads past its page";
    ++per_page[o / 100];
  }
  EXPECT_EQ(per_page, (std::map<std::uint64_t, int>{{2, 4}, {6, 4}, {9, 4}}));
  std::sort(rows.begin(), rows.end());
  for (std::size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i] - rows[i - 1], 20u) << "inputs overlap";
  // Another window, miner or run cuts and orders the slots anew.
  EXPECT_NE(disjoint_row_offsets(spec, pages, 6, 1, 0), disjoint_row_offsets(spec, pages, 5, 1, 0));
  EXPECT_NE(disjoint_row_offsets(spec, pages, 5, 2, 0), disjoint_row_offsets(spec, pages, 5, 1, 0));
}

TEST(DisjointRows, AWindowThatNeedsMoreRowsThanItsPagesHoldShufflesThemAgain) {
  const RunSpec spec = disjoint_spec();
  const std::vector<std::uint64_t> pages{3, 4};  // 8 slots
  std::vector<std::uint64_t> rows;
  for (int step = 0; step < 8; ++step) {  // 24 rows: three passes over the slots
    const auto offsets = disjoint_row_offsets(spec, pages, 0, 0, step);
    rows.insert(rows.end(), offsets.begin(), offsets.end());
  }
  for (int pass = 0; pass < 3; ++pass) {
    std::set<std::uint64_t> slots(rows.begin() + pass * 8, rows.begin() + (pass + 1) * 8);
    EXPECT_EQ(slots.size(), 8u) << "pass " << pass << " repeats a slot before it used them all";
    if (pass > 0) EXPECT_EQ(slots, std::set<std::uint64_t>(rows.begin(), rows.begin() + 8));
  }
  EXPECT_NE(std::vector<std::uint64_t>(rows.begin(), rows.begin() + 8),
            std::vector<std::uint64_t>(rows.begin() + 8, rows.begin() + 16));
}

TEST(DisjointRows, InnerBatchFollowsTheSpecsSampling) {
  std::vector<std::uint16_t> tokens(1000);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::uint16_t>(i % 251);
  const auto ds = TokenDataset::from_tokens(tokens);
  RunSpec spec = disjoint_spec();
  const std::vector<std::uint64_t> pages{1, 8};
  const auto [x, y] = inner_batch(ds, spec, pages, 3, 2, 1);
  const auto expected = ds.batch_at(disjoint_row_offsets(spec, pages, 3, 2, 1), 20);
  EXPECT_TRUE(torch::equal(x, expected.first));
  EXPECT_TRUE(torch::equal(y, expected.second));
  EXPECT_NO_THROW(ds.batch_at({979}, 20));
  EXPECT_THROW(ds.batch_at({980}, 20), c10::Error) << "a row that reads past the split";
  spec.data.sampling = "uniform";
  EXPECT_TRUE(torch::equal(inner_batch(ds, spec, pages, 3, 2, 1).first,
                           ds.sample_from_pages(pages, 100, inner_batch_seed(77, 3, 2, 1), 3, 20).first));
}

}  // namespace
}  // namespace tessera::dataset
