#include "chain-bridge/yuma.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

namespace tessera::chain {

std::uint64_t YumaParams::activity_cutoff_for_tempo(std::uint64_t tempo) {
  return std::max<std::uint64_t>(1, 13889 * tempo / 1000);
}

std::vector<std::uint16_t> YumaOutputs::to_u16(const std::vector<Fixed>& v) {
  std::vector<std::uint16_t> out;
  out.reserve(v.size());
  for (auto x : v) out.push_back(to_u16_proportion(x));
  return out;
}

// ---- vector and matrix helpers -------------------------------------------------------

namespace {

Fixed sum(const std::vector<Fixed>& v) {
  Fixed s = Fixed::zero();
  for (auto x : v) s += x;
  return s;
}

Fixed row_sum(const SparseRow& row) {
  Fixed s = Fixed::zero();
  for (const auto& [j, v] : row) s += v;
  return s;
}

void normalize_rows(SparseMatrix* m) {
  for (auto& row : *m) {
    const Fixed s = row_sum(row);
    if (s.raw > 0) {
      for (auto& e : row) e.second = e.second / s;
    }
  }
}

void normalize_columns(SparseMatrix* m, std::size_t columns) {
  std::vector<Fixed> col(columns, Fixed::zero());
  for (const auto& row : *m) {
    for (const auto& [j, v] : row) col[j] += v;
  }
  for (auto& row : *m) {
    for (auto& e : row) {
      if (col[e.first].raw != 0) e.second = e.second / col[e.first];
    }
  }
}

// Σ_i m_ij · v_i per column j.
std::vector<Fixed> column_weighted_sum(const SparseMatrix& m, const std::vector<Fixed>& v, std::size_t columns) {
  std::vector<Fixed> out(columns, Fixed::zero());
  for (std::size_t i = 0; i < m.size(); ++i) {
    for (const auto& [j, x] : m[i]) out[j] += v[i] * x;
  }
  return out;
}

// Σ_j m_ij · v_j per row i.
std::vector<Fixed> row_weighted_sum(const SparseMatrix& m, const std::vector<Fixed>& v) {
  std::vector<Fixed> out(m.size(), Fixed::zero());
  for (std::size_t i = 0; i < m.size(); ++i) {
    for (const auto& [j, x] : m[i]) out[i] += x * v[j];
  }
  return out;
}

// Dense accumulation of a·m1 + b·m2 per row; entries > 0 kept, column ascending.
SparseMatrix ema_sparse(const SparseMatrix& next, const SparseMatrix& old, Fixed alpha, std::size_t columns) {
  const Fixed keep = Fixed::one() - alpha;
  SparseMatrix out(next.size());
  std::vector<Fixed> acc(columns);
  for (std::size_t i = 0; i < next.size(); ++i) {
    std::fill(acc.begin(), acc.end(), Fixed::zero());
    for (const auto& [j, v] : next[i]) acc[j] += alpha * v;
    if (i < old.size()) {
      for (const auto& [j, v] : old[i]) acc[j] += keep * v;
    }
    for (std::size_t j = 0; j < columns; ++j) {
      if (acc[j].raw > 0) out[i].push_back({static_cast<std::uint32_t>(j), acc[j]});
    }
  }
  return out;
}

Fixed clamp(Fixed x, Fixed lo, Fixed hi) { return std::max(lo, std::min(hi, x)); }

Fixed lookup(const SparseRow& row, std::uint32_t j) {
  auto it = std::lower_bound(row.begin(), row.end(), j, [](const auto& e, std::uint32_t c) { return e.first < c; });
  return it != row.end() && it->first == j ? it->second : Fixed::zero();
}

// The double-precision sigmoid of rules-version-1 chains (YumaParams::legacy_float_sigmoid).
Fixed legacy_float_alpha(Fixed w, Fixed b, Fixed c, Fixed lo, Fixed hi, double steepness) {
  const Fixed x = w >= b ? clamp(w - c, Fixed::zero(), Fixed::one()) : clamp(b - w, Fixed::zero(), Fixed::one());
  double e = -(steepness / 100.0) * (x.to_double() - 0.5);
  e = std::clamp(e, -20.0, 20.0);
  const Fixed sigma = Fixed::from_double(1.0 / (1.0 + std::exp(e)));
  return clamp(lo + sigma * (hi - lo), lo, hi);
}

// substrate-fixed's checked operations: nullopt where the exact result does not fit.
std::optional<Fixed> checked_mul(Fixed a, Fixed b) {
  const __int128 r = (static_cast<__int128>(a.raw) * b.raw) >> 32;
  if (r > std::numeric_limits<std::int64_t>::max() || r < std::numeric_limits<std::int64_t>::min()) return std::nullopt;
  return Fixed::from_raw(static_cast<std::int64_t>(r));
}
std::optional<Fixed> checked_div(Fixed a, Fixed b) {
  if (b.raw == 0) return std::nullopt;
  const __int128 r = (static_cast<__int128>(a.raw) << 32) / b.raw;
  if (r > std::numeric_limits<std::int64_t>::max() || r < std::numeric_limits<std::int64_t>::min()) return std::nullopt;
  return Fixed::from_raw(static_cast<std::int64_t>(r));
}
std::optional<Fixed> checked_add(Fixed a, Fixed b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a.raw, b.raw, &r)) return std::nullopt;
  return Fixed::from_raw(r);
}

// substrate_fixed::transcendental::exp for I32F32: exp(0) = 1, exp(1) = e with the 23
// fraction bits of its constant, otherwise 1 + x + Σ_{i=2}^{31} x^i/i! term by term
// (each term floor-multiplied, then truncating-divided) on |x|, and the reciprocal for
// negative x. nullopt where subtensor's returns Err (an overflow).
std::optional<Fixed> exp_fixed(Fixed x) {
  if (x.raw == 0) return Fixed::one();
  constexpr std::int64_t kE23 = 22802600;  // floor(e · 2^23): substrate-fixed's E as I9F23
  if (x == Fixed::one()) return Fixed::from_raw(kE23 << 9);
  const bool neg = x.raw < 0;
  if (neg) {
    if (x.raw == std::numeric_limits<std::int64_t>::min()) return std::nullopt;
    x.raw = -x.raw;
  }
  auto result = checked_add(x, Fixed::one());
  if (!result) return std::nullopt;
  Fixed term = x;
  for (int i = 2; i < 32; ++i) {
    const auto t = checked_mul(term, x);
    if (!t) return std::nullopt;
    const auto d = checked_div(*t, Fixed::from_int(i));
    if (!d) return std::nullopt;
    term = *d;
    result = checked_add(*result, term);
    if (!result) return std::nullopt;
  }
  if (neg) return checked_div(Fixed::one(), *result);
  return result;
}

}  // namespace

void normalize(std::vector<Fixed>* v) {
  const Fixed s = sum(*v);
  if (s.raw == 0) return;
  for (auto& x : *v) x = x / s;
}

Fixed exp_safe(Fixed x) {
  x = clamp(x, Fixed::from_int(-20), Fixed::from_int(20));
  if (auto e = exp_fixed(x)) return *e;
  return x.raw <= 0 ? Fixed::zero() : Fixed::max();
}

Fixed sigmoid_safe(Fixed x, Fixed rho, Fixed kappa) {
  const Fixed neg_rho = rho * Fixed::from_int(-1);
  return Fixed::one() / (exp_safe(neg_rho * (x - kappa)) + Fixed::one());
}

Fixed alpha_sigmoid(Fixed consensus, Fixed weight, Fixed bond, Fixed alpha_low, Fixed alpha_high,
                    std::int16_t steepness) {
  const Fixed buy = clamp(weight - consensus, Fixed::zero(), Fixed::one());
  const Fixed sell = clamp(bond - weight, Fixed::zero(), Fixed::one());
  const Fixed diff = weight >= bond ? buy : sell;
  const Fixed half = Fixed::from_raw(Fixed::kOne / 2);
  const Fixed sigmoid =
      Fixed::one() / (Fixed::one() + exp_safe(Fixed::from_int(steepness) / Fixed::from_int(-100) * (diff - half)));
  return clamp(alpha_low + sigmoid * (alpha_high - alpha_low), alpha_low, alpha_high);
}

Fixed weighted_median(const std::vector<Fixed>& stake, const std::vector<Fixed>& score, std::vector<std::size_t> idx,
                      Fixed minority, Fixed lo, Fixed hi) {
  // subtensor stops after as many rounds as there are candidates (each round removes at
  // least the pivot, so the limit is never reached) and then answers 0.
  if (stake.size() != score.size()) return Fixed::zero();
  // As subtensor's get_safe: an index past the vectors reads score 0 and stake 0.
  auto score_at = [&](std::size_t i) { return i < score.size() ? score[i] : Fixed::zero(); };
  auto stake_at = [&](std::size_t i) { return i < stake.size() ? stake[i] : Fixed::zero(); };
  const std::size_t limit = idx.size();
  for (std::size_t round = 0; round <= limit; ++round) {
    if (idx.empty()) return Fixed::zero();
    if (idx.size() == 1) return score_at(idx[0]);
    const Fixed pivot = score_at(idx[idx.size() / 2]);
    std::vector<std::size_t> lower, upper;
    Fixed lower_stake = Fixed::zero(), upper_stake = Fixed::zero();
    for (auto i : idx) {
      if (score_at(i) < pivot) {
        lower.push_back(i);
        lower_stake += stake_at(i);
      } else if (score_at(i) > pivot) {
        upper.push_back(i);
        upper_stake += stake_at(i);
      }
    }
    if (minority < lo + lower_stake && !lower.empty()) {
      hi = lo + lower_stake;
      idx = std::move(lower);
    } else if (hi - upper_stake <= minority && !upper.empty()) {
      lo = hi - upper_stake;
      idx = std::move(upper);
    } else {
      return pivot;
    }
  }
  return Fixed::zero();
}

std::vector<Fixed> weighted_median_col_sparse(const std::vector<Fixed>& stake, const SparseMatrix& scores,
                                              std::size_t columns, Fixed majority) {
  std::vector<Fixed> use_stake;
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < stake.size(); ++i) {
    if (stake[i].raw > 0) {
      use_stake.push_back(stake[i]);
      rows.push_back(i);
    }
  }
  normalize(&use_stake);
  const Fixed stake_sum = sum(use_stake);
  const Fixed minority = stake_sum - majority;
  std::vector<std::vector<Fixed>> by_column(columns, std::vector<Fixed>(use_stake.size(), Fixed::zero()));
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] >= scores.size()) continue;
    for (const auto& [j, v] : scores[rows[k]]) {
      if (j < columns) by_column[j][k] = v;
    }
  }
  std::vector<std::size_t> all(use_stake.size());
  std::iota(all.begin(), all.end(), 0);
  std::vector<Fixed> median(columns, Fixed::zero());
  for (std::size_t j = 0; j < columns; ++j) {
    median[j] = weighted_median(use_stake, by_column[j], all, minority, Fixed::zero(), stake_sum);
  }
  return median;
}

std::vector<std::uint16_t> vec_max_upscale_to_u16(const std::vector<Fixed>& v) {
  std::vector<std::uint16_t> out;
  if (v.empty()) return out;
  const Fixed m = *std::max_element(v.begin(), v.end());
  const Fixed u16_max = Fixed::from_int(65535);
  for (auto x : v) {
    if (m.raw == 0) out.push_back(round_to_u16(x * u16_max));
    else if (m > Fixed::from_int(32768)) out.push_back(round_to_u16(x * (u16_max / m)));
    else out.push_back(round_to_u16((x * u16_max) / m));
  }
  return out;
}

std::vector<std::uint16_t> vec_u16_max_upscale_to_u16(const std::vector<std::uint16_t>& v) {
  std::vector<Fixed> f;
  for (auto x : v) f.push_back(Fixed::from_int(x));
  return vec_max_upscale_to_u16(f);
}

SparseMatrix col_clip_sparse(const SparseMatrix& m, const std::vector<Fixed>& threshold) {
  SparseMatrix out(m.size());
  for (std::size_t i = 0; i < m.size(); ++i) {
    for (const auto& [j, v] : m[i]) {
      const Fixed t = j < threshold.size() ? threshold[j] : Fixed::zero();
      if (v <= t) out[i].push_back({j, v});
      else if (t.raw > 0) out[i].push_back({j, t});
    }
  }
  return out;
}

std::vector<std::vector<Fixed>> mat_ema_alpha(const std::vector<std::vector<Fixed>>& next,
                                              const std::vector<std::vector<Fixed>>& old,
                                              const std::vector<std::vector<Fixed>>& alpha) {
  if (next.empty() || next.front().empty()) return {{}};
  if (next.size() != old.size() || next.size() != alpha.size()) return old;
  for (std::size_t i = 0; i < next.size(); ++i) {
    if (next[i].size() != old[i].size() || next[i].size() != alpha[i].size()) return next;
  }
  std::vector<std::vector<Fixed>> out(next.size());
  for (std::size_t i = 0; i < next.size(); ++i) {
    for (std::size_t j = 0; j < next[i].size(); ++j) {
      const Fixed a = alpha[i][j];
      out[i].push_back(std::min(Fixed::one(), (Fixed::one() - a) * old[i][j] + std::max(Fixed::zero(), a * next[i][j])));
    }
  }
  return out;
}

SparseMatrix mat_ema_alpha_sparse(const SparseMatrix& next, const SparseMatrix& old,
                                  const std::vector<std::vector<Fixed>>& alpha) {
  if (next.size() != old.size() || next.size() != alpha.size()) return next;
  SparseMatrix out(next.size());
  std::vector<Fixed> decayed;
  for (std::size_t i = 0; i < next.size(); ++i) {
    const auto& a = alpha[i];
    decayed.assign(a.size(), Fixed::zero());
    for (const auto& [j, v] : old[i]) {
      if (j < a.size()) decayed[j] = (Fixed::one() - a[j]) * v;
    }
    for (const auto& [j, w] : next[i]) {
      if (j >= a.size()) continue;
      const Fixed v = std::min(Fixed::one(), decayed[j] + std::max(Fixed::zero(), a[j] * w));
      if (v.raw > 0) out[i].push_back({j, v});
    }
  }
  return out;
}

// ---- the epoch, step by step (subtensor's epoch_mechanism order) ---------------------

namespace {

struct Epoch {
  const YumaParams& p;
  const YumaInputs& in;
  YumaOutputs& out;
  std::size_t n;
  std::vector<bool> forbids;  // as long as the stored permit vector
  SparseMatrix clipped;
  SparseMatrix weights_for_bonds;

  bool is_owner(std::size_t i) const { return p.owner_uid.has_value() && *p.owner_uid == i; }
  // subtensor's masks treat an index past a short mask vector as masked, and an empty
  // vector mask as no mask at all.
  bool forbidden_row(std::size_t i) const { return i >= forbids.size() || forbids[i]; }
  bool forbidden_stake(std::size_t i) const { return !forbids.empty() && forbidden_row(i); }
};

void activity(Epoch& e) {
  e.out.inactive.resize(e.n);
  for (std::size_t i = 0; i < e.n; ++i) e.out.inactive[i] = e.in.last_update[i] + e.p.activity_cutoff_blocks < e.in.current_block;
}

// Stake below the threshold counts as 0 (the owner is exempt); normalised in I64F64 and
// floored to I32F32.
void stake(Epoch& e) {
  std::vector<std::uint64_t> raw = e.in.stake;
  for (std::size_t i = 0; i < e.n; ++i) {
    if (raw[i] < e.p.stake_threshold && !e.is_owner(i)) raw[i] = 0;
  }
  unsigned __int128 total = 0;
  for (auto s : raw) total += s;
  e.out.stake.assign(e.n, Fixed::zero());
  for (std::size_t i = 0; i < e.n; ++i) {
    e.out.stake[i] = total == 0 ? Fixed::from_int(static_cast<std::int64_t>(raw[i]))
                                : Fixed::from_raw(static_cast<std::int64_t>(
                                      ((static_cast<unsigned __int128>(raw[i]) << 64) / total) >> 32));
  }
}

// Stored permits (the owner's forced on) forbid weights; new permits are the top-k
// non-zero stakes, ties lost by the lower uid, and the owner's.
void permits(Epoch& e) {
  std::vector<bool> permit = e.in.validator_permit;
  if (e.p.owner_uid && *e.p.owner_uid < permit.size()) permit[*e.p.owner_uid] = true;
  e.forbids.resize(permit.size());
  for (std::size_t i = 0; i < permit.size(); ++i) e.forbids[i] = !permit[i];
  auto& next = e.out.new_validator_permit;
  next.resize(e.n);
  for (std::size_t i = 0; i < e.n; ++i) next[i] = e.out.stake[i].raw != 0;
  if (e.n >= e.p.max_allowed_validators) {
    std::vector<std::size_t> order(e.n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return e.out.stake[x] < e.out.stake[y]; });
    for (std::size_t r = 0; r < e.n - e.p.max_allowed_validators; ++r) next[order[r]] = false;
  }
  if (e.p.owner_uid && *e.p.owner_uid < e.n) next[*e.p.owner_uid] = true;
}

void active_stake(Epoch& e) {
  e.out.active_stake = e.out.stake;
  for (std::size_t i = 0; i < e.n; ++i) {
    if (e.out.inactive[i] || e.forbidden_stake(i)) e.out.active_stake[i] = Fixed::zero();
  }
  normalize(&e.out.active_stake);
}

// Stored u16 values as integers; rows of forbidden uids, self-weights (but the owner's),
// weights older than their column's registration and, with commit–reveal, weights of a
// uid whose pending commit predates the column's registration are dropped; rows
// normalised. Columns past n cannot be stored (set_weights checks uids) and are ignored.
void weights(Epoch& e) {
  const auto& in = e.in;
  auto& w = e.out.weights;
  w.assign(e.n, {});
  for (std::size_t i = 0; i < e.n && i < in.weights.size(); ++i) {
    if (e.forbidden_row(i)) continue;
    const std::uint64_t commit =
        i < in.commit_block.size() ? in.commit_block[i] : std::numeric_limits<std::uint64_t>::max();
    for (const auto& [j, v] : in.weights[i]) {
      if (j >= e.n) continue;
      if (j == i && !e.is_owner(i)) continue;
      if (in.last_update[i] <= in.block_at_registration[j]) continue;
      if (e.p.commit_reveal && commit < in.block_at_registration[j]) continue;
      w[i].push_back({j, Fixed::from_int(v)});
    }
    std::sort(w[i].begin(), w[i].end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  }
  normalize_rows(&w);
}

void consensus_and_trust(Epoch& e) {
  const Fixed kappa = Fixed::from_int(e.p.kappa_u16) / Fixed::from_int(65535);
  e.out.consensus = weighted_median_col_sparse(e.out.active_stake, e.out.weights, e.n, kappa);
  e.clipped = col_clip_sparse(e.out.weights, e.out.consensus);
  e.out.validator_trust.resize(e.n);
  for (std::size_t i = 0; i < e.n; ++i) e.out.validator_trust[i] = row_sum(e.clipped[i]);
}

void incentive(Epoch& e) {
  e.out.incentive = column_weighted_sum(e.clipped, e.out.active_stake, e.n);
  normalize(&e.out.incentive);
}

// W + β·(clipped − W): β = 0 is W itself (zero entries included), β = 1 is clipped.
void bond_weights(Epoch& e) {
  const Fixed beta = Fixed::from_int(e.p.bonds_penalty_u16) / Fixed::from_int(65535);
  const SparseMatrix& w = e.out.weights;
  if (beta.raw == 0) {
    e.weights_for_bonds = w;
    return;
  }
  if (beta == Fixed::one()) {
    e.weights_for_bonds = e.clipped;
    return;
  }
  auto& wb = e.weights_for_bonds;
  wb.assign(e.n, {});
  std::vector<Fixed> r1(e.n), r2(e.n);
  for (std::size_t i = 0; i < e.n; ++i) {
    std::fill(r1.begin(), r1.end(), Fixed::zero());
    std::fill(r2.begin(), r2.end(), Fixed::zero());
    for (const auto& [j, v] : w[i]) r1[j] = v;
    for (const auto& [j, v] : e.clipped[i]) r2[j] = v;
    for (std::size_t j = 0; j < e.n; ++j) {
      const Fixed v = r1[j] + beta * (r2[j] - r1[j]);
      if (v.raw > 0) wb[i].push_back({static_cast<std::uint32_t>(j), v});
    }
  }
}

// Stored bonds, without the columns of uids registered since the last epoch: the block
// after the previous epoch, or current − tempo before the first.
SparseMatrix stored_bonds(const Epoch& e, bool as_proportion) {
  const std::uint64_t b = e.in.current_block;
  const std::uint64_t last_tempo = e.p.last_mechanism_step_block == 0 ? (b > e.p.tempo ? b - e.p.tempo : 0)
                                                                      : e.p.last_mechanism_step_block + 1;
  SparseMatrix bonds(e.n);
  for (std::size_t i = 0; i < e.n && i < e.in.bonds.size(); ++i) {
    for (const auto& [j, v] : e.in.bonds[i]) {
      if (j >= e.n || last_tempo <= e.in.block_at_registration[j]) continue;
      bonds[i].push_back({j, as_proportion ? from_u16_proportion(v) : Fixed::from_int(v)});
    }
    std::sort(bonds[i].begin(), bonds[i].end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  }
  return bonds;
}

// α = 1 − bma/10^6, the quotient taken in I64F64 and floored to I32F32.
Fixed fixed_alpha(const YumaParams& p) {
  const auto q = static_cast<std::int64_t>(((static_cast<unsigned __int128>(p.bonds_moving_average) << 64) / 1000000u) >> 32);
  return Fixed::one() - Fixed::from_raw(q);
}

// Classic bonds: ΔB = column-normalised W_bonds∘a, EMA with the fixed α, column-normalised;
// dividends D = B·I normalised; stored column-max-upscaled for new permits.
void classic_bonds_and_dividends(Epoch& e) {
  SparseMatrix bonds = stored_bonds(e, false);
  normalize_columns(&bonds, e.n);
  auto& delta = e.out.delta_bonds;
  delta = e.weights_for_bonds;
  for (std::size_t i = 0; i < e.n; ++i) {
    for (auto& x : delta[i]) x.second = x.second * e.out.active_stake[i];
  }
  normalize_columns(&delta, e.n);
  SparseMatrix ema = ema_sparse(delta, bonds, fixed_alpha(e.p), e.n);
  normalize_columns(&ema, e.n);
  e.out.dividends = row_weighted_sum(ema, e.out.incentive);
  normalize(&e.out.dividends);
  std::vector<Fixed> col_max(e.n, Fixed::zero());
  for (const auto& row : ema) {
    for (const auto& [j, v] : row) col_max[j] = std::max(col_max[j], v);
  }
  e.out.bonds.assign(e.n, {});
  for (std::size_t i = 0; i < e.n; ++i) {
    if (!e.out.new_validator_permit[i]) continue;
    for (const auto& [j, v] : ema[i]) {
      const Fixed up = col_max[j].raw != 0 ? v / col_max[j] : v;
      e.out.bonds[i].push_back({j, to_u16_proportion(up)});
    }
  }
}

// Yuma3: bonds as u16 proportions; EMA with per-bond liquid alphas when liquid alpha is on
// and some consensus is non-zero, else with the fixed α. subtensor builds the dense alpha
// matrix and calls mat_ema_alpha_sparse, which reads alpha only where a weight exists;
// computing it there alone gives the same result without n² memory. Dividends:
// (column-normalised B)·I times active stake, normalised; stored unscaled.
void yuma3_bonds_and_dividends(Epoch& e) {
  const SparseMatrix bonds = stored_bonds(e, true);
  const auto& c = e.out.consensus;
  const bool any_consensus = std::any_of(c.begin(), c.end(), [](Fixed x) { return x.raw != 0; });
  SparseMatrix next;
  if (!e.p.liquid_alpha || !any_consensus) {
    next = ema_sparse(e.weights_for_bonds, bonds, fixed_alpha(e.p), e.n);
  } else {
    const Fixed lo = from_u16_proportion(e.p.alpha_low_u16), hi = from_u16_proportion(e.p.alpha_high_u16);
    next.assign(e.n, {});
    for (std::size_t i = 0; i < e.n; ++i) {
      for (const auto& [j, w] : e.weights_for_bonds[i]) {
        const Fixed old = lookup(bonds[i], j);
        const Fixed al = e.p.legacy_float_sigmoid ? legacy_float_alpha(w, old, c[j], lo, hi, e.p.alpha_steepness)
                                                  : alpha_sigmoid(c[j], w, old, lo, hi, e.p.alpha_steepness);
        const Fixed v = std::min(Fixed::one(), (Fixed::one() - al) * old + std::max(Fixed::zero(), al * w));
        if (v.raw > 0) next[i].push_back({j, v});
      }
    }
  }
  SparseMatrix normalized = next;
  normalize_columns(&normalized, e.n);
  const std::vector<Fixed> total_bonds = row_weighted_sum(normalized, e.out.incentive);
  e.out.dividends.resize(e.n);
  for (std::size_t i = 0; i < e.n; ++i) {
    const __int128 prod = (static_cast<__int128>(total_bonds[i].raw) * e.out.active_stake[i].raw) >> 32;
    e.out.dividends[i] = prod > std::numeric_limits<std::int64_t>::max() ? Fixed::zero()
                                                                        : Fixed::from_raw(static_cast<std::int64_t>(prod));
  }
  normalize(&e.out.dividends);
  e.out.bonds.assign(e.n, {});
  for (std::size_t i = 0; i < e.n; ++i) {
    if (!e.out.new_validator_permit[i]) continue;
    for (const auto& [j, v] : next[i]) e.out.bonds[i].push_back({j, to_u16_proportion(v)});
  }
}

// Shares of I + D; when nothing was earned, validators by active stake, or by stake when
// no stake is active. Amounts are share · emission, truncated.
void emission(Epoch& e) {
  auto& o = e.out;
  const std::size_t n = e.n;
  std::vector<Fixed> combined(n);
  for (std::size_t i = 0; i < n; ++i) combined[i] = o.incentive[i] + o.dividends[i];
  const Fixed total = sum(combined);
  o.server_share.resize(n);
  o.validator_share.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    o.server_share[i] = total.raw == 0 ? o.incentive[i] : o.incentive[i] / total;
    o.validator_share[i] = total.raw == 0 ? o.dividends[i] : o.dividends[i] / total;
  }
  o.combined_share = combined;
  normalize(&o.combined_share);
  if (total.raw == 0) {
    const bool a_zero = std::all_of(o.active_stake.begin(), o.active_stake.end(), [](Fixed x) { return x.raw == 0; });
    o.validator_share = a_zero ? o.stake : o.active_stake;
    o.combined_share = o.validator_share;
  }
  auto amounts = [&](const std::vector<Fixed>& share) {
    std::vector<std::uint64_t> r(n);
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = share[i].raw <= 0 ? 0
                               : static_cast<std::uint64_t>(
                                     (static_cast<unsigned __int128>(share[i].raw) * e.p.rao_emission) >> 32);
    }
    return r;
  };
  o.server_emission = amounts(o.server_share);
  o.validator_emission = amounts(o.validator_share);
  o.combined_emission = amounts(o.combined_share);
}

}  // namespace

YumaOutputs run_epoch(const YumaParams& p, const YumaInputs& in) {
  YumaOutputs out;
  Epoch e{p, in, out, in.stake.size(), {}, {}, {}};
  activity(e);
  stake(e);
  permits(e);
  active_stake(e);
  weights(e);
  consensus_and_trust(e);
  incentive(e);
  bond_weights(e);
  if (p.yuma3) {
    yuma3_bonds_and_dividends(e);
  } else {
    classic_bonds_and_dividends(e);
  }
  emission(e);
  return out;
}

}  // namespace tessera::chain
