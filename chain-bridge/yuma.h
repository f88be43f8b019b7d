// Yuma Consensus, one epoch of a subnet, with subtensor's semantics (sparse
// `epoch_mechanism` at opentensor/subtensor 14bc6f9): activity, stake (threshold, owner
// exempt), validator permits (top-k stake), active stake, weights (permit, diagonal,
// outdated and commit–reveal masks, row normalisation), stake-weighted κ-median consensus,
// clipping and validator trust, incentive, bond weights, bonds and dividends (classic, or
// Yuma3 with liquid alpha), and the split of the epoch's emission — run_epoch() takes
// these steps in that order. Arithmetic is bit-exact I32F32 (chain-bridge/fixed.h),
// including the liquid-alpha sigmoid (the Taylor-series exp of substrate-fixed), so a
// replay on any platform gives the same state. docs/chain.md explains each step;
// `tessera chain yuma-check` runs vector files.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "chain-bridge/fixed.h"

namespace tessera::chain {

using SparseRow = std::vector<std::pair<std::uint32_t, Fixed>>;  // (column, value), column ascending
using SparseMatrix = std::vector<SparseRow>;
using U16Row = std::vector<std::pair<std::uint32_t, std::uint16_t>>;

struct YumaParams {
  std::uint16_t kappa_u16 = 32767;
  std::uint64_t bonds_moving_average = 900000;  // per million
  std::uint16_t bonds_penalty_u16 = 65535;
  bool yuma3 = true;
  bool liquid_alpha = false;
  std::uint16_t alpha_low_u16 = 45875;
  std::uint16_t alpha_high_u16 = 58982;
  std::int16_t alpha_steepness = 1000;  // subtensor's AlphaSigmoidSteepness
  // Chains of rules version 1 computed the liquid-alpha sigmoid with the platform's
  // double exp(); their recorded blocks replay only that way. Never set for new chains.
  bool legacy_float_sigmoid = false;
  bool commit_reveal = false;  // apply the commit–reveal column mask (YumaInputs::commit_block)
  std::uint32_t max_allowed_validators = 64;
  std::uint64_t tempo = 360;
  std::uint64_t activity_cutoff_blocks = 5000;
  std::uint64_t stake_threshold = 0;
  std::optional<std::uint32_t> owner_uid;
  std::uint64_t last_mechanism_step_block = 0;  // block of the subnet's previous epoch; 0: none
  std::uint64_t rao_emission = 0;  // emission to split this epoch

  // subtensor's effective cutoff: max(1, floor(13889 · tempo / 1000)).
  static std::uint64_t activity_cutoff_for_tempo(std::uint64_t tempo);
};

struct YumaInputs {
  std::uint64_t current_block = 0;
  std::vector<std::uint64_t> stake;  // raw stake per uid
  std::vector<bool> validator_permit;  // stored before this epoch (may be shorter than n, as storage can be)
  std::vector<std::uint64_t> last_update;
  std::vector<std::uint64_t> block_at_registration;
  std::vector<U16Row> weights;  // stored (max-upscaled) u16 rows
  std::vector<U16Row> bonds;    // stored u16 bonds (carried state; may be empty)
  // Per uid, the block of its earliest commit that has not expired (UINT64_MAX or absent:
  // none). With commit–reveal on, a weight (i, j) is masked when i's commit predates j's
  // registration.
  std::vector<std::uint64_t> commit_block;
};

struct YumaOutputs {
  std::vector<bool> inactive;
  std::vector<bool> new_validator_permit;
  std::vector<Fixed> stake;         // S, normalised
  std::vector<Fixed> active_stake;  // a
  SparseMatrix weights;             // W after masks and row normalisation
  std::vector<Fixed> consensus;
  std::vector<Fixed> validator_trust;
  std::vector<Fixed> incentive;
  SparseMatrix delta_bonds;  // classic bonds only: column-normalised ΔB
  std::vector<Fixed> dividends;
  std::vector<Fixed> server_share, validator_share, combined_share;
  std::vector<std::uint64_t> server_emission, validator_emission, combined_emission;  // rao
  std::vector<U16Row> bonds;  // stored after the epoch

  static std::vector<std::uint16_t> to_u16(const std::vector<Fixed>& v);
};

YumaOutputs run_epoch(const YumaParams& params, const YumaInputs& inputs);

// ---- the math the epoch is built from (exposed for the vectors and tests) ----
void normalize(std::vector<Fixed>* v);
Fixed weighted_median(const std::vector<Fixed>& stake, const std::vector<Fixed>& score, std::vector<std::size_t> idx,
                      Fixed minority, Fixed lo, Fixed hi);
// Per column: weighted median over the rows with stake > 0 (stake renormalised, missing
// entries score 0, minority = Σstake − majority).
std::vector<Fixed> weighted_median_col_sparse(const std::vector<Fixed>& stake, const SparseMatrix& scores,
                                              std::size_t columns, Fixed majority);
std::vector<std::uint16_t> vec_max_upscale_to_u16(const std::vector<Fixed>& v);
std::vector<std::uint16_t> vec_u16_max_upscale_to_u16(const std::vector<std::uint16_t>& v);
// Entries above their column's threshold become the threshold, or vanish when it is <= 0.
SparseMatrix col_clip_sparse(const SparseMatrix& m, const std::vector<Fixed>& threshold);
// Dense EMA with per-entry alpha: min(1, (1−α)·old + max(0, α·new)). As subtensor: an
// empty `next` gives one empty row; a row count that differs gives `old`; a row length
// that differs gives `next`.
std::vector<std::vector<Fixed>> mat_ema_alpha(const std::vector<std::vector<Fixed>>& next,
                                              const std::vector<std::vector<Fixed>>& old,
                                              const std::vector<std::vector<Fixed>>& alpha);
// Sparse form: only entries present in `next` rows and inside their alpha row are
// produced, kept when > 0; a row count that differs among the three gives `next`.
SparseMatrix mat_ema_alpha_sparse(const SparseMatrix& next, const SparseMatrix& old,
                                  const std::vector<std::vector<Fixed>>& alpha);
// substrate-fixed's exp (Taylor series to 31 terms, reciprocal for negative input) with
// the input clamped to [−20, 20], as subtensor's exp_safe.
Fixed exp_safe(Fixed x);
// 1 / (1 + exp_safe(−rho·(x − kappa))), saturating, as subtensor's sigmoid_safe.
Fixed sigmoid_safe(Fixed x, Fixed rho, Fixed kappa);
// The liquid alpha of one bond: x = clamp(w − c, 0, 1) when w ≥ b, else clamp(b − w, 0, 1);
// σ = 1 / (1 + exp_safe(steepness / −100 · (x − ½))); α = clamp(lo + σ·(hi − lo), lo, hi).
Fixed alpha_sigmoid(Fixed consensus, Fixed weight, Fixed bond, Fixed alpha_low, Fixed alpha_high,
                    std::int16_t steepness);

}  // namespace tessera::chain
