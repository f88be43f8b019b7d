// Evaluating one window's submissions (DESIGN.md §1 step 3, §6). Every submission goes
// through the same checks, in this order, and ends with exactly one outcome:
//   stale        its base checkpoint is not C_w
//   wrong-codec  encoded with other settings than the run's
//   wrong-data   its data digest is not the digest of the pages assigned to its uid
//   wrong-shard  the run is sharded and its header does not name the shards assigned to
//                its uid for the window, or the delta updates a parameter outside them
//   duplicate    the same payload bytes as an earlier submission or as another uid's
//                earlier commitment (net::Submission::earlier_committer), or a second
//                submission of a uid
//   malformed    the strict decoder rejects it (shapes, indices, non-finite values, …)
//   copy         its cosine similarity with an earlier submission's delta, or with a
//                public delta of the previous window (its merged update, its merged
//                deltas: a replay), exceeds validator.copy_similarity (the later one
//                loses; arrival order is commitment order, docs/protocol.md)
//   norm-outlier its L2 norm exceeds validator.max_norm_ratio × the norm reference the
//                base checkpoint carries (a scaled, poisoning delta)
//
// When miners train parts of the model (model.shards_per_miner < model.shards), the
// copy comparison, the norm reference and the clip work per shard (a shard's part of a
// delta against the same shard's part of the others and that shard's reference), and a
// scored delta's score is normalised within its cohort (the miners assigned the same
// shards): score × (median score of the window) / (median score of its cohort), so
// that a shard whose deltas lower the loss less, for the same work, pays the same.
//   no-gain      applying it does not lower the loss on the random held-out batch
//   not-own-data it helps the held-out batch at least as much as the miner's own pages:
//                it was not trained on its assignment. Its score is g_O − g_R ≤ 0 (the
//                formula below, unclamped), and it counts in the uid's moving average:
//                a delta trained elsewhere passes this test now and then by noise alone,
//                and must average about zero, not the sum of its lucky draws. It is
//                still merged (merged_into_update): the test decides pay, not safety
//   scored       everything passed: score = min(g_R, g_O − g_R), where g_R and g_O are the
//                loss gains on the held-out batch and on the miner's own batch — the
//                part of the improvement that is both useful on data nobody trained on
//                and specific to the miner's assignment
//
// The own-pages batch is validator.own_batches of the exact batches the miner's inner
// steps drew (consecutive steps from one chosen with the validator's private seed), as
// one batch: a delta trained on them helps them far more than held-out data; one trained
// elsewhere does not. More rows make that comparison less noisy, at proportional cost.
//
// R_w is drawn from training pages that none of the window's evaluated miners was
// assigned: the same distribution as their own pages, so "helps its own pages more than
// R_w" measures what the miner learned from its assignment, not a difference between
// corpus splits.
//
// Cost: the "before" loss on the window's random held-out batch R_w is computed once;
// each decoded submission then costs 3 forward passes (own pages before, R_w and own
// pages after applying −η_eval·clip(Δ)). Each loss is the forward pass followed by the
// fused cross-entropy kernel (kernels/cross_entropy.h: CUDA for GPU logits, else CPU).
// The delta is applied with the codec's sparse apply and undone from its undo log, so
// the model is restored bit for bit.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"
#include "dataset/token_dataset.h"
#include "gradients/codec.h"
#include "gradients/norm.h"
#include "model/gpt.h"
#include "net/submission.h"

namespace tessera::verification {

enum class Outcome {
  kScored, kStale, kWrongCodec, kWrongData, kDuplicate, kMalformed, kCopy, kNormOutlier, kNoGain, kNotOwnData, kWrongShard
};
const char* outcome_name(Outcome outcome);

struct Evaluation {
  std::uint32_t uid = 0;
  std::string hotkey;        // raw 32 bytes
  std::string payload_hash;  // raw 32 bytes
  Outcome outcome = Outcome::kMalformed;
  std::string reason;  // readable: why, with the figures
  double score = 0.0;
  double raw_score = 0.0;  // before the cohort normalisation (equal to score when unsharded)
  double gain_random = 0.0, gain_own = 0.0;
  double norm = 0.0, clip_scale = 1.0;  // whole-delta norm; the smallest clip of its parts
  std::vector<int> shards;               // the shards it trains (its header's; empty: unsharded)
  std::vector<double> part_norms;        // per parameter group (one group when unsharded)
  std::vector<double> part_clips;
  std::shared_ptr<const gradients::DecodedDelta> delta;  // decoded (kept for aggregation)
};

// Gains measured while the window is still open (prejudge_window), for evaluate_window to
// take at the close instead of measuring them again, so that the judging left after the
// close is the screening and the arrivals of the last moments. An entry is taken only
// where everything its measurement depends on is the same at the close: the window, the
// base, R_w's pages (they avoid the pages of every evaluated miner, so a later arrival can
// change them) and the delta's clips. The report is then the one evaluate_window makes
// without it, bit for bit. Bounded by the arrivals of one window (one delivery per
// registered hotkey, docs/protocol.md); reset when the window or base changes.
struct Prejudged {
  using Key = std::pair<std::uint32_t, std::string>;  // uid, raw payload hash
  struct Entry {
    bool screened = false;   // passed the model-free checks (its pages keep out of R_w)
    bool evaluated = false;  // and the norm check: its gains are measured
    bool measured = false;   // on R_w = random_pages
    bool finite = false;
    double gain_random = 0.0, gain_own = 0.0;
    std::vector<double> clips;
    std::vector<std::uint64_t> pages;
    std::vector<gradients::DecodedDelta> parts;  // the decoded delta per parameter group
  };
  using Entries = std::map<Key, Entry>;
  std::uint64_t window = 0;
  std::string base_hash;
  std::vector<std::uint64_t> random_pages;
  bool has_before = false;
  double before_random = 0.0;
  Entries entries;
  std::uint64_t forward_passes = 0;  // spent ahead, with those of dropped measurements
  std::uint64_t discarded = 0;       // measurements dropped because R_w changed
};

// What evaluate_window reads. The pointers are borrowed, never owned: the caller keeps
// the spec and the splits alive for the call. The model handle is shared; the call
// changes its parameters and restores them bit for bit before it returns.
struct WindowContext {
  const RunSpec* spec = nullptr;
  std::uint64_t window = 0;
  std::string base_hash;  // hex hash of C_w
  model::GPT model{nullptr};  // holds C_w's parameters, on the device evaluation runs on
  const dataset::TokenDataset* train = nullptr;
  const dataset::TokenDataset* val = nullptr;
  std::uint64_t eval_seed = 0;  // private to the validator until the window closed
  gradients::CodecSettings codec;
  // The base checkpoint's norm references, one per parameter group
  // (checkpoints::norm_references; 0: none yet). Missing entries count as 0.
  std::vector<double> norm_references;
  // What a replay would resubmit: the previous window's merged update first, then the
  // deltas merged in it (empty: nothing known, e.g. the first window).
  std::vector<std::shared_ptr<const gradients::DecodedDelta>> public_deltas;
  // Gains measured ahead for this window (nullptr: none); borrowed, read only.
  const Prejudged* prejudged = nullptr;
};

struct WindowReport {
  std::vector<Evaluation> evaluations;  // in arrival order
  double before_random = 0.0;
  // What outliers and clips were measured against, per parameter group (0: none), and
  // the groups (the shards when the run is sharded, else one).
  std::vector<double> norm_references;
  gradients::ParamGroups groups;
  std::size_t loss_evaluated = 0;  // submissions whose loss gains were measured
  std::uint64_t forward_passes = 0;  // at the close (not those of prejudge_window)
  std::size_t prejudged = 0;         // evaluated submissions whose gains were measured ahead
  double seconds = 0.0;
  std::size_t count(Outcome o) const;
};

// Evaluates `submissions` (arrival order) against C_w. The model's parameters are
// unchanged afterwards (bit for bit).
Result<WindowReport> evaluate_window(const WindowContext& context, const std::vector<net::Submission>& submissions);

// Measures the gains of up to `budget` arrivals of the open window that `ahead` does not
// hold yet, against C_w (the context's model) and the R_w their pages leave; `arrived` in
// any order. Returns how many it measured. The model is unchanged afterwards (bit for bit).
Result<std::size_t> prejudge_window(const WindowContext& context, const std::vector<net::Submission>& arrived,
                                    Prejudged* ahead, std::size_t budget);

// Whether a judged delta goes into the window's merged update: the scored ones, and those
// the own-data test refused that lowered the loss of both batches they were measured on
// (g_R > 0 holds for every not-own-data delta; g_O > 0 keeps out most noise that helped
// R_w by chance). The own-data test decides pay (a delta that helps held-out data as much
// as its own pages earns nothing), not safety: such a delta passed every check that
// protects the model (base, codec, data, strict decoding, copies, the norm clip) and
// lowered the loss of a held-out batch its sender could not know. Refusing it threw away
// honest work whenever the test was at chance (docs/roles.md, "Judging a submission").
bool merged_into_update(const Evaluation& e);

// What this window makes public for the next one's replay check (WindowContext::
// public_deltas): the merge of its merged deltas (clipped to the report's reference, as
// the aggregator merges them), compressed with the run's `codec` as a replayer would
// send it, then the merged deltas themselves. `merged`: that merge when the caller
// already holds it (an aggregating validator; one tensor per parameter, undefined where
// untouched), else empty and it is made here.
Result<std::vector<std::shared_ptr<const gradients::DecodedDelta>>> public_deltas_of(
    const WindowReport& report, const std::vector<std::vector<std::int64_t>>& param_shapes,
    const gradients::CodecSettings& codec, std::vector<torch::Tensor> merged = {});

}  // namespace tessera::verification
