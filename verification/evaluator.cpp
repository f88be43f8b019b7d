#include "verification/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/hash.h"
#include "core/rng.h"
#include "gradients/apply.h"
#include "gradients/dispatch.h"
#include "gradients/merge.h"
#include "gradients/norm.h"
#include "model/shards.h"

namespace tessera::verification {

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kScored: return "scored";
    case Outcome::kStale: return "stale";
    case Outcome::kWrongCodec: return "wrong-codec";
    case Outcome::kWrongData: return "wrong-data";
    case Outcome::kDuplicate: return "duplicate";
    case Outcome::kMalformed: return "malformed";
    case Outcome::kCopy: return "copy";
    case Outcome::kNormOutlier: return "norm-outlier";
    case Outcome::kNoGain: return "no-gain";
    case Outcome::kNotOwnData: return "not-own-data";
    case Outcome::kWrongShard: return "wrong-shard";
  }
  return "?";
}

std::size_t WindowReport::count(Outcome o) const {
  return static_cast<std::size_t>(
      std::count_if(evaluations.begin(), evaluations.end(), [o](const Evaluation& e) { return e.outcome == o; }));
}

namespace {

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}

// Mean next-token loss of a batch: the forward pass on the model's device, then the fused
// cross-entropy kernel of that device (gradients/dispatch.h) over the logits.
double loss_on(model::GPT model, const std::pair<torch::Tensor, torch::Tensor>& batch, std::uint64_t* passes) {
  ++*passes;
  torch::NoGradGuard no_grad;
  const torch::Device device = model->parameters().front().device();
  const torch::Tensor logits = model->forward(batch.first.to(device)).to(torch::kFloat).contiguous();
  const torch::Tensor targets = batch.second.to(device, torch::kLong).contiguous();
  const auto rows = static_cast<std::size_t>(targets.numel());
  const auto vocab = static_cast<std::size_t>(logits.size(-1));
  double sum = 0.0;
  auto backend = gradients::backend_for(device);
  const bool ok = backend.ok() && (*backend)->cross_entropy_sum(logits.data_ptr<float>(), targets.data_ptr<std::int64_t>(),
                                                                rows, vocab, nullptr, &sum);
  return ok ? sum / static_cast<double>(rows) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

namespace {

// What the model-free checks learned about the window: the candidates (indices into the
// report) that reached evaluation, and each candidate's assigned pages.
struct Screened {
  gradients::ParamGroups groups;
  std::vector<std::size_t> candidates;
  std::map<std::uint32_t, std::vector<std::uint64_t>> pages_of;
  // Per report index: the decoded delta cut into its parameter groups (one part when the
  // run is unsharded: the whole delta).
  std::map<std::size_t, std::vector<gradients::DecodedDelta>> parts_of;
  // What copies are judged on (copy_views): per report index, and for ctx.public_deltas
  // (computed once per window), the parts without the tensors sent whole, and their norms.
  std::map<std::size_t, std::vector<gradients::DecodedDelta>> copy_parts_of;
  std::map<std::size_t, std::vector<double>> copy_norms_of;
  std::vector<std::vector<gradients::DecodedDelta>> public_parts;
  std::vector<std::vector<double>> public_norms;
};

// At most 8 entries and the count: a header may list millions of shards, and the reason
// goes into verdicts and logs.
std::string shard_list(const std::vector<int>& shards) {
  constexpr std::size_t kShown = 8;
  std::string out;
  for (std::size_t i = 0; i < std::min(kShown, shards.size()); ++i) out += (out.empty() ? "" : ",") + std::to_string(shards[i]);
  if (shards.size() > kShown) out += ",… (" + std::to_string(shards.size()) + " in all)";
  return "{" + out + "}";
}

// The parts of `delta` per group and their norms (the whole delta and its norm with one group).
std::vector<gradients::DecodedDelta> parts_of(const gradients::DecodedDelta& delta, const gradients::ParamGroups& groups,
                                              double whole_norm, std::vector<double>* norms) {
  std::vector<gradients::DecodedDelta> parts =
      groups.one() ? std::vector<gradients::DecodedDelta>{delta} : gradients::split_by_group(delta, groups);
  norms->clear();
  for (const auto& p : parts) norms->push_back(groups.one() ? whole_norm : gradients::delta_norm(p));
  return parts;
}

// `part` cut into its top-k tensors (first) and the tensors the codec sends whole.
std::pair<gradients::DecodedDelta, gradients::DecodedDelta> split_whole(const gradients::DecodedDelta& part,
                                                                        const gradients::CodecSettings& codec) {
  std::pair<gradients::DecodedDelta, gradients::DecodedDelta> out;
  for (const auto& t : part.tensors) {
    const bool whole = std::binary_search(codec.whole_params.begin(), codec.whole_params.end(), t.param_index);
    (whole ? out.second : out.first).tensors.push_back(t);
  }
  return out;
}

// What a copy is judged on: `parts` without the tensors the codec sends whole, and their
// norms (`part_norms` as they are when the codec sends none). The whole tensors (the
// embedding tables, codec.embedding_quant) move alike for every honest miner: on nano
// two honest deltas reached a cosine of 0.80, and one 0.86 with the previous merged
// update, over the copy limit, so they say nothing about whose work a delta is. The top-k
// tensors' positions and values do.
std::vector<gradients::DecodedDelta> copy_views(const std::vector<gradients::DecodedDelta>& parts,
                                                const gradients::CodecSettings& codec,
                                                const std::vector<double>& part_norms, std::vector<double>* norms) {
  if (codec.whole_params.empty()) {
    *norms = part_norms;
    return parts;
  }
  std::vector<gradients::DecodedDelta> out;
  norms->clear();
  for (const auto& p : parts) {
    auto view = split_whole(p, codec).first;
    norms->push_back(gradients::delta_norm(view));
    out.push_back(std::move(view));
  }
  return out;
}

// Steps 1–2 for one submission: copy priority, base, codec, data digest, duplicates,
// strict decoding and copies of an earlier candidate. Returns the outcome when it fails
// one, else nullopt (and the decoded delta, its norm and its pages are filled in).
Result<std::optional<std::pair<Outcome, std::string>>> screen(const WindowContext& ctx, const net::Submission& sub,
                                                              const std::vector<std::vector<std::int64_t>>& shapes,
                                                              const std::vector<std::string>& names,
                                                              const WindowReport& report, Screened* screened,
                                                              std::set<std::string>* seen_payloads,
                                                              std::set<std::uint32_t>* seen_uids, Evaluation* e) {
  const RunSpec& spec = *ctx.spec;
  const auto& h = sub.header;
  using Found = std::optional<std::pair<Outcome, std::string>>;
  // Copy priority first: the work is another uid's, whatever its base or claims.
  if (sub.earlier_committer) {
    return Found({Outcome::kDuplicate, "the same payload as uid " + std::to_string(*sub.earlier_committer) +
                                           " committed earlier in this window"});
  }
  if (to_hex(h.base_checkpoint()) != ctx.base_hash || h.window() != ctx.window) {
    return Found({Outcome::kStale, "base checkpoint " + to_hex(h.base_checkpoint()).substr(0, 16) + "… (window " +
                                       std::to_string(h.window()) + ") is not C_" + std::to_string(ctx.window) + " " +
                                       ctx.base_hash.substr(0, 16) + "…"});
  }
  if (h.codec() != ctx.codec.name()) {
    return Found({Outcome::kWrongCodec, "codec '" + h.codec() + "', the run uses '" + ctx.codec.name() + "'"});
  }
  TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, ctx.window, h.uid(),
                                                             static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                             ctx.train->num_pages(static_cast<std::uint64_t>(spec.data.page_tokens))));
  if (to_hex(h.data_digest()) != dataset::pages_digest(pages)) {
    return Found({Outcome::kWrongData, "data digest does not match the pages assigned to uid " + std::to_string(h.uid())});
  }
  const std::vector<int> claimed(h.shards().begin(), h.shards().end());
  if (spec.model.sharded()) {
    const std::vector<int> assigned = model::assign_shards(spec.seed, spec.model, ctx.window, h.uid());
    if (claimed != assigned) {
      return Found({Outcome::kWrongShard, "header names shards " + shard_list(claimed) + ", uid " +
                                              std::to_string(h.uid()) + " is assigned " + shard_list(assigned) +
                                              " in window " + std::to_string(ctx.window)});
    }
    e->shards = claimed;
  } else if (!claimed.empty()) {
    return Found({Outcome::kWrongShard, "header names shards " + shard_list(claimed) + ", but every miner of this run "
                                        "trains the whole model (model.shards_per_miner = 0)"});
  }
  if (!seen_payloads->insert(h.payload_hash()).second) {
    return Found({Outcome::kDuplicate, "the same payload as an earlier submission of this window"});
  }
  if (!seen_uids->insert(h.uid()).second) {
    return Found({Outcome::kDuplicate, "uid " + std::to_string(h.uid()) + " already submitted in this window"});
  }
  gradients::DecodeLimits limits;
  limits.max_payload_bytes = static_cast<std::uint64_t>(spec.validator.max_payload_bytes);
  auto decoded = gradients::decode_delta(sub.payload, shapes, ctx.codec, limits);
  if (!decoded.ok()) return Found({Outcome::kMalformed, decoded.status().message()});
  e->delta = std::make_shared<const gradients::DecodedDelta>(std::move(*decoded));
  if (spec.model.sharded()) {
    for (const auto& t : e->delta->tensors) {
      const int shard = screened->groups.group_of[t.param_index];
      if (!std::binary_search(claimed.begin(), claimed.end(), shard)) {
        return Found({Outcome::kWrongShard, "updates " + names[t.param_index] + " of shard " + std::to_string(shard) +
                                                ", outside its assigned shards " + shard_list(claimed)});
      }
    }
  }
  e->norm = gradients::delta_norm(*e->delta);
  auto parts = parts_of(*e->delta, screened->groups, e->norm, &e->part_norms);
  // Copies: an earlier candidate of this window, or a public delta of the previous one (its
  // merged update, its merged deltas), judged by cosine similarity, which index swaps and
  // value noise do not hide and which works for dense (transformed) updates too. Per
  // shard when the run is sharded: copying one shard's part of another miner's delta is a
  // copy, whatever the rest holds.
  // Judged without the tensors the codec sends whole (copy_views).
  const double limit = spec.validator.copy_similarity;
  std::vector<double> copy_norms;
  auto copy_parts = copy_views(parts, ctx.codec, e->part_norms, &copy_norms);
  for (std::size_t g = 0; g < copy_parts.size(); ++g) {
    if (copy_parts[g].tensors.empty()) continue;
    const std::string where = screened->groups.one() ? "" : " in shard " + std::to_string(g);
    for (std::size_t c : screened->candidates) {
      const auto& earlier = report.evaluations[c];
      const auto& other = screened->copy_parts_of.at(c)[g];
      if (other.tensors.empty()) continue;
      const double cos = gradients::delta_cosine(copy_parts[g], other, copy_norms[g], screened->copy_norms_of.at(c)[g]);
      if (cos > limit) {
        return Found({Outcome::kCopy, "cosine similarity " + fmt(cos) + where + " with uid " +
                                          std::to_string(earlier.uid) + "'s earlier delta (limit " + fmt(limit) + ")"});
      }
    }
    for (std::size_t i = 0; i < ctx.public_deltas.size(); ++i) {
      const auto& other = screened->public_parts[i][g];
      if (other.tensors.empty()) continue;
      const double cos = gradients::delta_cosine(copy_parts[g], other, copy_norms[g], screened->public_norms[i][g]);
      if (cos > limit) {
        return Found({Outcome::kCopy, "cosine similarity " + fmt(cos) + where + " with " +
                                          (i == 0 ? std::string("the previous window's merged update")
                                                  : "a delta scored in the previous window") +
                                          " (limit " + fmt(limit) + "): a replay"});
      }
    }
  }
  screened->parts_of[report.evaluations.size()] = std::move(parts);
  screened->copy_parts_of[report.evaluations.size()] = std::move(copy_parts);
  screened->copy_norms_of[report.evaluations.size()] = std::move(copy_norms);
  screened->pages_of[h.uid()] = std::move(pages);
  return Found();
}

// The pages every candidate of `screened` was assigned (R_w must avoid them all).
std::set<std::uint64_t> assigned_pages(const Screened& screened) {
  std::set<std::uint64_t> assigned;
  for (const auto& [uid, p] : screened.pages_of) assigned.insert(p.begin(), p.end());
  return assigned;
}

// R_w: rows from random training pages outside `assigned` (the pages of the window's
// evaluated miners) — the same distribution as the miners' own pages, data none of them
// trained on. `pages` receives the pages drawn: the batch is a function of them, the
// window and the private seed.
Result<std::pair<torch::Tensor, torch::Tensor>> held_out_batch(const WindowContext& ctx,
                                                               const std::set<std::uint64_t>& assigned,
                                                               std::vector<std::uint64_t>* pages) {
  const RunSpec& spec = *ctx.spec;
  const auto page_tokens = static_cast<std::uint64_t>(spec.data.page_tokens);
  const std::uint64_t num_pages = ctx.train->num_pages(page_tokens);
  const std::int64_t batch = spec.validator.eval_batch_size;
  std::vector<std::uint64_t>& held_out = *pages;
  held_out.clear();
  Rng pick = Rng::derive("tessera/eval-random-pages", ctx.eval_seed, ctx.window);
  for (int tries = 0; held_out.size() < static_cast<std::size_t>(batch) && tries < 64 * batch; ++tries) {
    const std::uint64_t p = pick.next_u64() % num_pages;
    if (!assigned.count(p)) held_out.push_back(p);
  }
  if (held_out.empty()) return FailedPrecondition("no training page is left for the held-out batch");
  return ctx.train->sample_from_pages(held_out, page_tokens,
                                      Rng::derive("tessera/eval-random", ctx.eval_seed, ctx.window).next_u64(), batch,
                                      spec.train.seq_len);
}

// Step 4 for one candidate: the loss on R_w and on one of the miner's own batches, before
// and after applying −η_eval · clip(Δ), then the undo. Which own batch (inner step)
// stays private to the validator until the window closed. Returns whether both losses
// after applying the delta are finite.
Result<bool> measure_gains(const WindowContext& ctx, const std::vector<torch::Tensor>& params,
                           const std::pair<torch::Tensor, torch::Tensor>& random_batch,
                           const std::vector<std::uint64_t>& own_pages, const std::vector<gradients::DecodedDelta>& parts,
                           WindowReport* report, Evaluation* e) {
  const RunSpec& spec = *ctx.spec;
  model::GPT model = ctx.model;
  // validator.own_batches of the exact batches its inner steps drew (consecutive steps
  // from one the private seed picks), as one batch.
  const int steps = std::max(1, spec.train.inner_steps);
  const int count = std::min(steps, std::max(1, spec.validator.own_batches));
  const int first = static_cast<int>(Rng::derive("tessera/eval-own", ctx.eval_seed, ctx.window, e->uid).next_u64() %
                                     static_cast<std::uint64_t>(steps));
  std::vector<torch::Tensor> inputs, targets;
  for (int i = 0; i < count; ++i) {
    auto b = dataset::inner_batch(*ctx.train, spec, own_pages, ctx.window, e->uid, (first + i) % steps);
    inputs.push_back(std::move(b.first));
    targets.push_back(std::move(b.second));
  }
  const std::pair<torch::Tensor, torch::Tensor> own_batch =
      count == 1 ? std::make_pair(inputs[0], targets[0]) : std::make_pair(torch::cat(inputs), torch::cat(targets));
  const double before_own = loss_on(model, own_batch, &report->forward_passes);
  // Each part with its own clip (one part, the whole delta, when the run is unsharded);
  // undone in reverse order. The tensors sent whole at the share the merge gives one
  // delta of them: 1/m, m the deltas the previous window merged (ctx.public_deltas after
  // its merged update), since every sender sends them. At full length, one miner's embedding
  // tables (what its own 80 sequences taught the output head about every token) lost
  // more on held-out data than its top-k tensors gained, and the tiny sim refused 45% of
  // honest deltas after window 5 as `no-gain`, against 7.5% without whole tables.
  const std::size_t merged_before = ctx.public_deltas.empty() ? 0 : ctx.public_deltas.size() - 1;
  const double whole_share = merged_before > 1 ? 1.0 / static_cast<double>(merged_before) : 1.0;
  // The parameters are the validator's shared copy of C_w: a failed apply undoes the
  // parts applied before it, so the next candidate is measured from C_w too.
  std::vector<gradients::UndoLog> undo;
  const auto apply = [&](const gradients::DecodedDelta& d, double alpha) -> Status {
    if (d.tensors.empty()) return Status::Ok();
    auto log = gradients::apply_delta(params, d, static_cast<float>(alpha));
    if (!log.ok()) {
      TESSERA_RETURN_IF_ERROR(gradients::undo_deltas(params, undo));
      return log.status();
    }
    undo.push_back(std::move(*log));
    return Status::Ok();
  };
  for (std::size_t g = 0; g < parts.size(); ++g) {
    const double alpha = -spec.validator.eval_lr * e->part_clips[g];
    if (ctx.codec.whole_params.empty() || whole_share == 1.0) {
      TESSERA_RETURN_IF_ERROR(apply(parts[g], alpha));
    } else {
      const auto [top_k, whole] = split_whole(parts[g], ctx.codec);
      TESSERA_RETURN_IF_ERROR(apply(top_k, alpha));
      TESSERA_RETURN_IF_ERROR(apply(whole, alpha * whole_share));
    }
  }
  const double after_random = loss_on(model, random_batch, &report->forward_passes);
  const double after_own = loss_on(model, own_batch, &report->forward_passes);
  TESSERA_RETURN_IF_ERROR(gradients::undo_deltas(params, undo));
  e->gain_random = report->before_random - after_random;
  e->gain_own = before_own - after_own;
  return std::isfinite(after_random) && std::isfinite(after_own);
}

// Step 5: the outcome from the two gains.
void judge(bool losses_finite, Evaluation* e) {
  const std::string figures = "held-out gain " + fmt(e->gain_random) + ", own-pages gain " + fmt(e->gain_own);
  if (!losses_finite || !(e->gain_random > 0.0)) {
    e->outcome = Outcome::kNoGain;
    e->reason = "does not lower the held-out loss (" + figures + ")";
  } else if (!(e->gain_own > e->gain_random)) {
    // The score formula, unclamped: g_O − g_R ≤ 0 here. It enters the uid's moving
    // average (update_scores), so a delta trained elsewhere, which passes this test now and
    // then by noise alone, averages about zero instead of its positive draws.
    e->outcome = Outcome::kNotOwnData;
    e->score = e->gain_own - e->gain_random;
    e->raw_score = e->score;
    e->reason = "helps held-out data as much as its own pages: not trained on its assignment (" + figures + ")";
  } else {
    e->outcome = Outcome::kScored;
    e->score = std::min(e->gain_random, e->gain_own - e->gain_random);
    e->raw_score = e->score;
    e->reason = figures;
  }
}

// Sharded runs: each scored delta's score × (median score of the window) / (median score
// of its cohort, the deltas assigned the same shards). Nothing changes with one cohort.
void normalise_cohorts(WindowReport* report) {
  std::map<std::vector<int>, std::vector<double>> by_cohort;
  std::vector<double> all;
  for (const auto& e : report->evaluations) {
    if (e.outcome != Outcome::kScored) continue;
    by_cohort[e.shards].push_back(e.score);
    all.push_back(e.score);
  }
  if (by_cohort.size() < 2) return;
  const double window_median = gradients::median(all);
  for (auto& e : report->evaluations) {
    if (e.outcome != Outcome::kScored) continue;
    const double cohort_median = gradients::median(by_cohort.at(e.shards));
    if (!(cohort_median > 0.0)) continue;
    e.score = e.raw_score * (window_median / cohort_median);
    e.reason += ", cohort " + shard_list(e.shards) + " ×" + fmt(window_median / cohort_median);
  }
}

}  // namespace

namespace {

// The model's parameters (detached: applied to and restored in place), their shapes and
// names, and their groups (the shards when the run is sharded, else one).
struct WindowModel {
  std::vector<torch::Tensor> params;
  std::vector<std::vector<std::int64_t>> shapes;
  std::vector<std::string> names;
  gradients::ParamGroups groups;
};

Result<WindowModel> window_model(const WindowContext& ctx) {
  WindowModel wm;
  for (const auto& [name, p] : ctx.model->named_params()) {
    wm.params.push_back(p.detach());
    wm.shapes.push_back(p.sizes().vec());
    wm.names.push_back(name);
  }
  TESSERA_ASSIGN_OR_RETURN(auto grouping, model::parameter_groups(ctx.spec->model, wm.names, wm.shapes));
  wm.groups = gradients::ParamGroups{std::move(grouping.first), grouping.second};
  return wm;
}

// The norm references of the base checkpoint, one per group (missing ones are 0: none).
std::vector<double> references_of(const WindowContext& ctx, const gradients::ParamGroups& groups) {
  std::vector<double> references = ctx.norm_references;
  references.resize(static_cast<std::size_t>(groups.count), 0.0);
  return references;
}

// Step 3 for one candidate: an outlier when a part's norm is far above its group's
// reference; otherwise each part's clip to it. Returns whether its gains are measured.
bool clip_to_references(const RunSpec& spec, const std::vector<double>& references, const gradients::ParamGroups& groups,
                        Evaluation* e) {
  e->part_clips.assign(references.size(), 1.0);
  for (std::size_t g = 0; g < references.size(); ++g) {
    const double reference = references[g], norm = e->part_norms[g];
    e->part_clips[g] = reference > 0 && norm > reference ? reference / norm : 1.0;
    if (reference > 0 && norm > spec.validator.max_norm_ratio * reference) {
      e->outcome = Outcome::kNormOutlier;
      e->reason = "norm " + fmt(norm) + (groups.one() ? "" : " in shard " + std::to_string(g)) + " is " +
                  fmt(norm / reference) + "× the reference " + fmt(reference) + " (limit " +
                  fmt(spec.validator.max_norm_ratio) + "×)";
      return false;
    }
  }
  e->clip_scale = *std::min_element(e->part_clips.begin(), e->part_clips.end());
  return true;
}

}  // namespace

Result<WindowReport> evaluate_window(const WindowContext& ctx, const std::vector<net::Submission>& submissions) {
  const auto t0 = std::chrono::steady_clock::now();
  const RunSpec& spec = *ctx.spec;
  WindowReport report;
  TESSERA_ASSIGN_OR_RETURN(const WindowModel wm, window_model(ctx));

  // 1–2. Checks that need no model: base, codec, data digest, shards, duplicates,
  // decoding, copies.
  Screened screened;
  screened.groups = wm.groups;
  report.groups = screened.groups;
  for (const auto& d : ctx.public_deltas) {
    std::vector<double> norms, copy_norms;
    const auto parts = parts_of(*d, screened.groups, gradients::delta_norm(*d), &norms);
    screened.public_parts.push_back(copy_views(parts, ctx.codec, norms, &copy_norms));
    screened.public_norms.push_back(std::move(copy_norms));
  }
  std::set<std::string> seen_payloads;
  std::set<std::uint32_t> seen_uids;
  for (const auto& sub : submissions) {
    Evaluation e;
    e.uid = sub.header.uid();
    e.hotkey = sub.header.hotkey();
    e.payload_hash = sub.header.payload_hash();
    TESSERA_ASSIGN_OR_RETURN(auto failed,
                             screen(ctx, sub, wm.shapes, wm.names, report, &screened, &seen_payloads, &seen_uids, &e));
    if (failed) {
      e.outcome = failed->first;
      e.reason = std::move(failed->second);
      e.delta.reset();
    } else {
      screened.candidates.push_back(report.evaluations.size());
    }
    report.evaluations.push_back(std::move(e));
  }
  if (screened.candidates.empty()) {
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
  }

  // 3. The norm reference, from the base checkpoint (the median norm of what was merged
  // into it), per group: a part far above its group's is an outlier, the rest are
  // clipped to it. Garbage sent this window cannot move it. Without one (the run's first
  // window, a shard's first merge) nothing is clipped or refused here, and the merge
  // clips to the median of what it merges.
  const std::vector<double> references = references_of(ctx, screened.groups);
  report.norm_references = references;
  std::vector<std::size_t> evaluated;
  for (std::size_t c : screened.candidates) {
    if (clip_to_references(spec, references, screened.groups, &report.evaluations[c])) evaluated.push_back(c);
  }

  // 4–5. Loss gains on R_w and the miner's own batch, then the outcome. Gains measured
  // ahead (prejudge_window) on the same R_w, with the same clips, are taken as they are.
  std::vector<std::uint64_t> random_pages;
  TESSERA_ASSIGN_OR_RETURN(const auto random_batch, held_out_batch(ctx, assigned_pages(screened), &random_pages));
  const Prejudged* ahead = ctx.prejudged;
  const bool reuse = ahead != nullptr && ahead->window == ctx.window && ahead->base_hash == ctx.base_hash &&
                     ahead->has_before && ahead->random_pages == random_pages;
  // The measurement taken ahead for `e`, or nullptr when there is none to take.
  const auto measured_ahead = [&](const Evaluation& e) -> const Prejudged::Entry* {
    if (!reuse) return nullptr;
    const auto found = ahead->entries.find({e.uid, e.payload_hash});
    if (found == ahead->entries.end() || !found->second.measured || found->second.clips != e.part_clips) return nullptr;
    return &found->second;
  };
  if (!evaluated.empty()) {
    report.before_random = reuse ? ahead->before_random : loss_on(ctx.model, random_batch, &report.forward_passes);
  }
  report.loss_evaluated = evaluated.size();
  for (std::size_t c : evaluated) {
    Evaluation& e = report.evaluations[c];
    bool finite = false;
    if (const Prejudged::Entry* taken = measured_ahead(e)) {
      e.gain_random = taken->gain_random;
      e.gain_own = taken->gain_own;
      finite = taken->finite;
      ++report.prejudged;
    } else {
      TESSERA_ASSIGN_OR_RETURN(finite, measure_gains(ctx, wm.params, random_batch, screened.pages_of.at(e.uid),
                                                     screened.parts_of.at(c), &report, &e));
    }
    judge(finite, &e);
  }
  normalise_cohorts(&report);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

Result<std::size_t> prejudge_window(const WindowContext& ctx, const std::vector<net::Submission>& arrived,
                                    Prejudged* ahead, std::size_t budget) {
  if (ahead->window != ctx.window || ahead->base_hash != ctx.base_hash) {
    *ahead = Prejudged{};
    ahead->window = ctx.window;
    ahead->base_hash = ctx.base_hash;
  }
  TESSERA_ASSIGN_OR_RETURN(const WindowModel wm, window_model(ctx));
  const std::vector<double> references = references_of(ctx, wm.groups);
  // Each new arrival screened on its own: what its measurement depends on (its decoded
  // parts, pages and clips). The copy checks are left to the close (they decide the
  // outcome, not the gains), so an arrival is screened without the public deltas. The
  // decoded parts are dropped once measured and decoded again only if R_w changes.
  WindowContext alone_ctx = ctx;
  alone_ctx.public_deltas.clear();
  const auto screen_arrivals = [&]() -> Status {
    for (const auto& sub : arrived) {
      const Prejudged::Key key{sub.header.uid(), sub.header.payload_hash()};
      const auto known = ahead->entries.find(key);
      if (known != ahead->entries.end() &&
          !(known->second.evaluated && !known->second.measured && known->second.parts.empty())) {
        continue;
      }
      Screened alone;
      alone.groups = wm.groups;
      WindowReport scratch;
      std::set<std::string> payloads;
      std::set<std::uint32_t> uids;
      Evaluation e;
      e.uid = sub.header.uid();
      TESSERA_ASSIGN_OR_RETURN(auto failed,
                               screen(alone_ctx, sub, wm.shapes, wm.names, scratch, &alone, &payloads, &uids, &e));
      Prejudged::Entry& entry = ahead->entries[key];
      if (failed) continue;
      entry.screened = true;
      entry.pages = alone.pages_of.at(e.uid);
      entry.evaluated = clip_to_references(*ctx.spec, references, wm.groups, &e);
      if (!entry.evaluated) continue;
      entry.clips = e.part_clips;
      entry.parts = std::move(alone.parts_of.at(0));
    }
    return Status::Ok();
  };
  TESSERA_RETURN_IF_ERROR(screen_arrivals());
  // R_w avoids the pages of every arrival that passed screening; a later arrival whose
  // pages it drew changes it, and what was measured on the old one is dropped.
  std::set<std::uint64_t> assigned;
  for (const auto& [key, entry] : ahead->entries) {
    if (entry.screened) assigned.insert(entry.pages.begin(), entry.pages.end());
  }
  std::vector<std::uint64_t> random_pages;
  TESSERA_ASSIGN_OR_RETURN(const auto random_batch, held_out_batch(ctx, assigned, &random_pages));
  if (random_pages != ahead->random_pages) {
    for (auto& [key, entry] : ahead->entries) {
      if (entry.measured) ++ahead->discarded;
      entry.measured = false;
    }
    ahead->random_pages = std::move(random_pages);
    ahead->has_before = false;
    TESSERA_RETURN_IF_ERROR(screen_arrivals());  // decodes again what was measured
  }
  // The work thrown away is bounded: once R_w has changed under twice as many
  // measurements as the window has deltas to measure, the rest waits for the close.
  const auto to_measure = static_cast<std::uint64_t>(
      std::count_if(ahead->entries.begin(), ahead->entries.end(), [](const auto& kv) { return kv.second.evaluated; }));
  if (ahead->discarded > 0 && ahead->discarded >= 2 * to_measure) return std::size_t{0};
  WindowReport scratch;
  std::size_t measured = 0;
  for (auto& [key, entry] : ahead->entries) {
    if (!entry.evaluated || entry.measured || entry.parts.empty()) continue;
    if (measured >= budget) break;
    if (!ahead->has_before) {
      ahead->before_random = loss_on(ctx.model, random_batch, &scratch.forward_passes);
      ahead->has_before = true;
    }
    scratch.before_random = ahead->before_random;
    Evaluation e;
    e.uid = key.first;
    e.part_clips = entry.clips;
    TESSERA_ASSIGN_OR_RETURN(entry.finite, measure_gains(ctx, wm.params, random_batch, entry.pages, entry.parts, &scratch, &e));
    entry.gain_random = e.gain_random;
    entry.gain_own = e.gain_own;
    entry.measured = true;
    entry.parts.clear();
    ++measured;
  }
  ahead->forward_passes += scratch.forward_passes;
  return measured;
}

bool merged_into_update(const Evaluation& e) {
  return e.outcome == Outcome::kScored || (e.outcome == Outcome::kNotOwnData && e.gain_own > 0.0);
}

Result<std::vector<std::shared_ptr<const gradients::DecodedDelta>>> public_deltas_of(
    const WindowReport& report, const std::vector<std::vector<std::int64_t>>& param_shapes,
    const gradients::CodecSettings& codec, std::vector<torch::Tensor> merged) {
  std::vector<std::shared_ptr<const gradients::DecodedDelta>> kept;
  std::vector<const gradients::DecodedDelta*> pointers;
  for (const auto& e : report.evaluations) {
    if (!merged_into_update(e) || !e.delta) continue;
    kept.push_back(e.delta);
    pointers.push_back(e.delta.get());
  }
  if (kept.empty()) return kept;
  if (merged.empty()) {
    TESSERA_ASSIGN_OR_RETURN(merged, gradients::merge_deltas(pointers, param_shapes, report.groups, report.norm_references));
  }
  // The update as a replayer would submit it: compressed with the run's codec. Its plain
  // cosine with the dense update is low (top-k keeps a fraction of its energy); with
  // this form a replay lines up like any other copy.
  std::vector<gradients::IndexedTensor> tensors;
  for (std::size_t i = 0; i < merged.size(); ++i) {
    if (merged[i].defined()) tensors.push_back({static_cast<std::uint32_t>(i), merged[i]});
  }
  TESSERA_ASSIGN_OR_RETURN(auto encoded, gradients::encode_delta(tensors, codec));
  kept.insert(kept.begin(), std::make_shared<const gradients::DecodedDelta>(std::move(encoded.reconstruction)));
  return kept;
}

}  // namespace tessera::verification
