#include "chain-bridge/yuma.h"

#include <algorithm>
#include <cmath>
#include <numeric>

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

Fixed liquid_alpha(Fixed w, Fixed b, Fixed c, Fixed lo, Fixed hi, double steepness) {
  const Fixed x = w >= b ? clamp(w - c, Fixed::zero(), Fixed::one()) : clamp(b - w, Fixed::zero(), Fixed::one());
  double e = -(steepness / 100.0) * (x.to_double() - 0.5);
  e = std::clamp(e, -20.0, 20.0);
  const Fixed sigma = Fixed::from_double(1.0 / (1.0 + std::exp(e)));
  return clamp(lo + sigma * (hi - lo), lo, hi);
}

}  // namespace

void normalize(std::vector<Fixed>* v) {
  const Fixed s = sum(*v);
  if (s.raw == 0) return;
  for (auto& x : *v) x = x / s;
}

Fixed weighted_median(const std::vector<Fixed>& stake, const std::vector<Fixed>& score, std::vector<std::size_t> idx,
                      Fixed minority, Fixed lo, Fixed hi) {
  while (true) {
    if (idx.empty()) return Fixed::zero();
    if (idx.size() == 1) return score[idx[0]];
    const Fixed pivot = score[idx[idx.size() / 2]];
    std::vector<std::size_t> lower, upper;
    Fixed lower_stake = Fixed::zero(), upper_stake = Fixed::zero();
    for (auto i : idx) {
      if (score[i] < pivot) {
        lower.push_back(i);
        lower_stake += stake[i];
      } else if (score[i] > pivot) {
        upper.push_back(i);
        upper_stake += stake[i];
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
  auto out = old;
  for (std::size_t i = 0; i < next.size(); ++i) {
    for (std::size_t j = 0; j < next[i].size(); ++j) {
      const Fixed a = alpha[i][j];
      const Fixed o = i < old.size() && j < old[i].size() ? old[i][j] : Fixed::zero();
      out[i][j] = std::min(Fixed::one(), (Fixed::one() - a) * o + std::max(Fixed::zero(), a * next[i][j]));
    }
  }
  return out;
}

SparseMatrix mat_ema_alpha_sparse(const SparseMatrix& next, const SparseMatrix& old,
                                  const std::vector<std::vector<Fixed>>& alpha) {
  SparseMatrix out(next.size());
  for (std::size_t i = 0; i < next.size(); ++i) {
    for (const auto& [j, w] : next[i]) {
      const Fixed a = alpha[i][j];
      const Fixed o = i < old.size() ? lookup(old[i], j) : Fixed::zero();
      const Fixed v = std::min(Fixed::one(), (Fixed::one() - a) * o + std::max(Fixed::zero(), a * w));
      if (v.raw > 0) out[i].push_back({j, v});
    }
  }
  return out;
}

// ---- the epoch -----------------------------------------------------------------------

YumaOutputs run_epoch(const YumaParams& p, const YumaInputs& in) {
  const std::size_t n = in.stake.size();
  const std::uint64_t b = in.current_block;
  auto is_owner = [&](std::size_t i) { return p.owner_uid.has_value() && *p.owner_uid == i; };
  YumaOutputs out;

  // 1. Activity.
  out.inactive.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.inactive[i] = in.last_update[i] + p.activity_cutoff_blocks < b;

  // 2. Stake: threshold, then normalised in I64F64 and floored to I32F32.
  std::vector<std::uint64_t> raw_stake = in.stake;
  for (std::size_t i = 0; i < n; ++i) {
    if (raw_stake[i] < p.stake_threshold && !is_owner(i)) raw_stake[i] = 0;
  }
  unsigned __int128 total = 0;
  for (auto s : raw_stake) total += s;
  out.stake.assign(n, Fixed::zero());
  if (total == 0) {
    for (std::size_t i = 0; i < n; ++i) out.stake[i] = Fixed::from_int(static_cast<std::int64_t>(raw_stake[i]));
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned __int128 q = (static_cast<unsigned __int128>(raw_stake[i]) << 64) / total;
      out.stake[i] = Fixed::from_raw(static_cast<std::int64_t>(q >> 32));
    }
  }

  // 3. Permits: stored ones forbid weights; new ones are the top-k non-zero stakes.
  std::vector<bool> forbid(n);
  for (std::size_t i = 0; i < n; ++i) forbid[i] = !(i < in.validator_permit.size() && in.validator_permit[i]) && !is_owner(i);
  out.new_validator_permit.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.new_validator_permit[i] = out.stake[i].raw != 0;
  if (n >= p.max_allowed_validators) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return out.stake[x] < out.stake[y]; });
    for (std::size_t r = 0; r < n - p.max_allowed_validators; ++r) out.new_validator_permit[order[r]] = false;
  }
  if (p.owner_uid && *p.owner_uid < n) out.new_validator_permit[*p.owner_uid] = true;

  // 4. Active stake.
  out.active_stake = out.stake;
  for (std::size_t i = 0; i < n; ++i) {
    if (out.inactive[i] || forbid[i]) out.active_stake[i] = Fixed::zero();
  }
  normalize(&out.active_stake);
  const auto& a = out.active_stake;

  // 5. Weights: forbidden rows, self-weights (but the owner's), outdated weights; rows normalised.
  out.weights.assign(n, {});
  for (std::size_t i = 0; i < n && i < in.weights.size(); ++i) {
    if (forbid[i]) continue;
    for (const auto& [j, w] : in.weights[i]) {
      if (j >= n) continue;
      if (j == i && !is_owner(i)) continue;
      if (in.last_update[i] <= in.block_at_registration[j]) continue;
      out.weights[i].push_back({j, Fixed::from_int(w)});
    }
    std::sort(out.weights[i].begin(), out.weights[i].end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  }
  normalize_rows(&out.weights);
  const SparseMatrix& W = out.weights;

  // 6. Consensus.
  const Fixed kappa = Fixed::from_int(p.kappa_u16) / Fixed::from_int(65535);
  out.consensus = weighted_median_col_sparse(a, W, n, kappa);

  // 7. Clip; validator trust.
  const SparseMatrix clipped = col_clip_sparse(W, out.consensus);
  out.validator_trust.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.validator_trust[i] = row_sum(clipped[i]);

  // 8. Incentive.
  out.incentive = column_weighted_sum(clipped, a, n);
  normalize(&out.incentive);

  // 9. Bond weights: W + β·(clipped − W).
  const Fixed beta = Fixed::from_int(p.bonds_penalty_u16) / Fixed::from_int(65535);
  SparseMatrix wb;
  if (beta.raw == 0) {
    wb = W;
  } else if (beta == Fixed::one()) {
    wb = clipped;
  } else {
    wb.assign(n, {});
    std::vector<Fixed> r1(n), r2(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::fill(r1.begin(), r1.end(), Fixed::zero());
      std::fill(r2.begin(), r2.end(), Fixed::zero());
      for (const auto& [j, v] : W[i]) r1[j] += v;
      for (const auto& [j, v] : clipped[i]) r2[j] += v;
      for (std::size_t j = 0; j < n; ++j) {
        const Fixed v = r1[j] + beta * (r2[j] - r1[j]);
        if (v.raw > 0) wb[i].push_back({static_cast<std::uint32_t>(j), v});
      }
    }
  }

  // Stored bonds, masked where the column's uid registered since the last tempo.
  const std::uint64_t last_tempo = b > p.tempo ? b - p.tempo : 0;
  auto load_bonds = [&](bool as_proportion) {
    SparseMatrix bonds(n);
    for (std::size_t i = 0; i < n && i < in.bonds.size(); ++i) {
      for (const auto& [j, v] : in.bonds[i]) {
        if (j >= n || last_tempo <= in.block_at_registration[j]) continue;
        bonds[i].push_back({j, as_proportion ? from_u16_proportion(v) : Fixed::from_int(v)});
      }
      std::sort(bonds[i].begin(), bonds[i].end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    }
    return bonds;
  };
  // α = 1 − bma/10^6, the quotient taken in I64F64 and floored to I32F32.
  const auto q = static_cast<std::int64_t>(
      ((static_cast<unsigned __int128>(p.bonds_moving_average) << 64) / 1000000u) >> 32);
  const Fixed alpha = Fixed::one() - Fixed::from_raw(q);

  out.bonds.assign(n, {});
  if (!p.yuma3) {
    // 10. Classic bonds.
    SparseMatrix bonds = load_bonds(false);
    normalize_columns(&bonds, n);
    out.delta_bonds = wb;
    for (std::size_t i = 0; i < n; ++i) {
      for (auto& e : out.delta_bonds[i]) e.second = e.second * a[i];
    }
    normalize_columns(&out.delta_bonds, n);
    SparseMatrix ema = ema_sparse(out.delta_bonds, bonds, alpha, n);
    normalize_columns(&ema, n);
    out.dividends = row_weighted_sum(ema, out.incentive);
    normalize(&out.dividends);
    // Storage: each column divided by its maximum, then as u16 proportions.
    std::vector<Fixed> col_max(n, Fixed::zero());
    for (const auto& row : ema) {
      for (const auto& [j, v] : row) col_max[j] = std::max(col_max[j], v);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!out.new_validator_permit[i]) continue;
      for (const auto& [j, v] : ema[i]) {
        const Fixed up = col_max[j].raw != 0 ? v / col_max[j] : v;
        out.bonds[i].push_back({j, to_u16_proportion(up)});
      }
    }
  } else {
    // 11. Yuma3 bonds.
    SparseMatrix bonds = load_bonds(true);
    const bool any_consensus =
        std::any_of(out.consensus.begin(), out.consensus.end(), [](Fixed c) { return c.raw != 0; });
    SparseMatrix next;
    if (!p.liquid_alpha || !any_consensus) {
      next = ema_sparse(wb, bonds, alpha, n);
    } else {
      const Fixed lo = from_u16_proportion(p.alpha_low_u16), hi = from_u16_proportion(p.alpha_high_u16);
      next.assign(n, {});
      for (std::size_t i = 0; i < n; ++i) {
        for (const auto& [j, w] : wb[i]) {
          const Fixed old = lookup(bonds[i], j);
          const Fixed al = liquid_alpha(w, old, out.consensus[j], lo, hi, p.alpha_steepness);
          const Fixed v = std::min(Fixed::one(), (Fixed::one() - al) * old + std::max(Fixed::zero(), al * w));
          if (v.raw > 0) next[i].push_back({j, v});
        }
      }
    }
    SparseMatrix normalized = next;
    normalize_columns(&normalized, n);
    const std::vector<Fixed> total_bonds = row_weighted_sum(normalized, out.incentive);
    out.dividends.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const __int128 prod = (static_cast<__int128>(total_bonds[i].raw) * a[i].raw) >> 32;
      out.dividends[i] = prod > std::numeric_limits<std::int64_t>::max() ? Fixed::zero()
                                                                          : Fixed::from_raw(static_cast<std::int64_t>(prod));
    }
    normalize(&out.dividends);
    for (std::size_t i = 0; i < n; ++i) {
      if (!out.new_validator_permit[i]) continue;
      for (const auto& [j, v] : next[i]) out.bonds[i].push_back({j, to_u16_proportion(v)});
    }
  }

  // 12. Emission.
  std::vector<Fixed> combined(n);
  for (std::size_t i = 0; i < n; ++i) combined[i] = out.incentive[i] + out.dividends[i];
  const Fixed e = sum(combined);
  out.server_share.resize(n);
  out.validator_share.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.server_share[i] = out.incentive[i] / e;
    out.validator_share[i] = out.dividends[i] / e;
  }
  out.combined_share = combined;
  normalize(&out.combined_share);
  if (e.raw == 0) {
    const bool a_zero = std::all_of(a.begin(), a.end(), [](Fixed x) { return x.raw == 0; });
    out.validator_share = a_zero ? out.stake : a;
    out.combined_share = out.validator_share;
  }
  auto amounts = [&](const std::vector<Fixed>& share) {
    std::vector<std::uint64_t> r(n);
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = share[i].raw <= 0 ? 0
                               : static_cast<std::uint64_t>(
                                     (static_cast<unsigned __int128>(share[i].raw) * p.rao_emission) >> 32);
    }
    return r;
  };
  out.server_emission = amounts(out.server_share);
  out.validator_emission = amounts(out.validator_share);
  out.combined_emission = amounts(out.combined_share);
  return out;
}

}  // namespace tessera::chain
