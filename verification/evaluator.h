// Evaluating one window's submissions (DESIGN.md §1 step 3, §6). Every submission goes
// through the same checks, in this order, and ends with exactly one outcome:
//   stale        its base checkpoint is not C_w
//   wrong-codec  encoded with other settings than the run's
//   wrong-data   its data digest is not the digest of the pages assigned to its uid
//   wrong-shard  the run is sharded and its header does not name the shards assigned to
//                its uid for the window, or the delta updates a parameter outside them
//   duplicate    the same payload bytes as an earlier submission, or a second one of a uid
//   malformed    the strict decoder rejects it (shapes, indices, non-finite values, …)
//   copy         its cosine similarity with an earlier submission's delta, or with a
//                public delta of the previous window (its merged update, its scored
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
//                and must average about zero, not the sum of its lucky draws
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
  // deltas scored in it (empty: nothing known, e.g. the first window).
  std::vector<std::shared_ptr<const gradients::DecodedDelta>> public_deltas;
};

struct WindowReport {
  std::vector<Evaluation> evaluations;  // in arrival order
  double before_random = 0.0;
  // What outliers and clips were measured against, per parameter group (0: none), and
  // the groups (the shards when the run is sharded, else one).
  std::vector<double> norm_references;
  gradients::ParamGroups groups;
  std::size_t loss_evaluated = 0;  // submissions whose loss gains were measured
  std::uint64_t forward_passes = 0;
  double seconds = 0.0;
  std::size_t count(Outcome o) const;
};

// Evaluates `submissions` (arrival order) against C_w. The model's parameters are
// unchanged afterwards (bit for bit).
Result<WindowReport> evaluate_window(const WindowContext& context, const std::vector<net::Submission>& submissions);

// What this window makes public for the next one's replay check (WindowContext::
// public_deltas): the merge of its scored deltas (clipped to the report's reference, as
// the aggregator merges them), compressed with the run's `codec` as a replayer would
// send it, then the scored deltas themselves. `merged`: that merge when the caller
// already holds it (an aggregating validator; one tensor per parameter, undefined where
// untouched), else empty and it is made here.
Result<std::vector<std::shared_ptr<const gradients::DecodedDelta>>> public_deltas_of(
    const WindowReport& report, const std::vector<std::vector<std::int64_t>>& param_shapes,
    const gradients::CodecSettings& codec, std::vector<torch::Tensor> merged = {});

}  // namespace tessera::verification
