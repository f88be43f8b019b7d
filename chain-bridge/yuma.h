// Yuma Consensus, one epoch of a subnet, with subtensor's semantics (sparse
// `epoch_mechanism`): stake normalisation, validator permits (top-k stake), inactive and
// outdated weights masked, row normalisation, stake-weighted κ-median consensus, clipping,
// validator trust, incentive, bond EMA (classic or Yuma3 with liquid alpha), dividends,
// and the split of the epoch's emission. Bit-exact I32F32 arithmetic (chain-bridge/fixed.h).
// ../shared/yuma/README.md documents each step; `tessera chain yuma-check` runs the vectors.
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
  double alpha_steepness = 1000.0;
  std::uint32_t max_allowed_validators = 64;
  std::uint64_t tempo = 360;
  std::uint64_t activity_cutoff_blocks = 5000;
  std::uint64_t stake_threshold = 0;
  std::optional<std::uint32_t> owner_uid;
  std::uint64_t last_mechanism_step_block = 0;
  std::uint64_t rao_emission = 0;  // emission to split this epoch

  // subtensor's effective cutoff: max(1, floor(13889 · tempo / 1000)).
  static std::uint64_t activity_cutoff_for_tempo(std::uint64_t tempo);
};

struct YumaInputs {
  std::uint64_t current_block = 0;
  std::vector<std::uint64_t> stake;  // raw stake per uid
  std::vector<bool> validator_permit;  // stored before this epoch
  std::vector<std::uint64_t> last_update;
  std::vector<std::uint64_t> block_at_registration;
  std::vector<U16Row> weights;  // stored (max-upscaled) u16 rows
  std::vector<U16Row> bonds;    // stored u16 bonds (carried state; may be empty)
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
// Dense EMA with per-entry alpha: min(1, (1−α)·old + max(0, α·new)).
std::vector<std::vector<Fixed>> mat_ema_alpha(const std::vector<std::vector<Fixed>>& next,
                                              const std::vector<std::vector<Fixed>>& old,
                                              const std::vector<std::vector<Fixed>>& alpha);
// Sparse form: only entries present in `next` rows are produced, kept when > 0.
SparseMatrix mat_ema_alpha_sparse(const SparseMatrix& next, const SparseMatrix& old,
                                  const std::vector<std::vector<Fixed>>& alpha);

}  // namespace tessera::chain
