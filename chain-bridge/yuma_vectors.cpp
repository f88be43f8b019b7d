#include "chain-bridge/yuma_vectors.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "chain-bridge/yuma.h"

namespace tessera::chain {

using nlohmann::json;

json VectorResult::to_json() const {
  json j = {{"name", name}, {"pass", pass}, {"max_abs_error", max_abs_error}};
  if (!failures.empty()) j["failures"] = failures;
  return j;
}

namespace {

// Collects comparisons: the largest absolute error and the first mismatches.
struct Checker {
  VectorResult* result;
  std::string where;
  void check(const std::string& what, double got, double want, double tol) {
    const double err = std::fabs(got - want);
    if (std::isnan(err)) {
      fail(what + ": got " + fmt(got) + ", want " + fmt(want));
      return;
    }
    result->max_abs_error = std::max(result->max_abs_error, err);
    if (err > tol) fail(what + ": got " + fmt(got) + ", want " + fmt(want) + " (tolerance " + fmt(tol) + ")");
  }
  void fail(const std::string& message) {
    result->pass = false;
    if (result->failures.size() < 8) result->failures.push_back(where + message);
  }
  static std::string fmt(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
  }
};

bool has(const json& j, const std::string& key) { return j.is_object() && j.contains(key) && !j.at(key).is_null(); }

Fixed fixed_from_json(const json& v, bool raw) {
  if (raw) return Fixed::from_raw(v.get<std::int64_t>());
  return Fixed::from_f32(v.get<double>());
}

// A vector given as `<base>_raw_i32f32`, `<base>_literal_f32` or `<base>`.
std::vector<Fixed> fixed_vector(const json& c, const std::string& base) {
  std::vector<Fixed> out;
  const bool raw = has(c, base + "_raw_i32f32");
  const json* v = raw ? &c.at(base + "_raw_i32f32")
                      : has(c, base + "_literal_f32") && c.at(base + "_literal_f32").is_array() ? &c.at(base + "_literal_f32")
                                                                                                 : &c.at(base);
  for (const auto& x : *v) out.push_back(fixed_from_json(x, raw));
  return out;
}

Fixed fixed_scalar(const json& c, const std::string& base) {
  if (has(c, base + "_raw_i32f32")) return Fixed::from_raw(c.at(base + "_raw_i32f32").get<std::int64_t>());
  if (has(c, base + "_raw")) return Fixed::from_raw(c.at(base + "_raw").get<std::int64_t>());
  if (has(c, base + "_literal_f32")) return Fixed::from_f32(c.at(base + "_literal_f32").get<double>());
  return Fixed::from_f32(c.at(base).get<double>());
}

// A matrix, dense (rows of numbers) or sparse (rows of [column, value]); returns sparse
// rows (dense zeros dropped only when `drop_zeros`) and the column count seen.
SparseMatrix fixed_matrix(const json& rows, bool raw, bool drop_zeros, std::size_t* columns) {
  SparseMatrix m;
  for (const auto& row : rows) {
    SparseRow r;
    std::size_t j = 0;
    for (const auto& e : row) {
      if (e.is_array()) {
        const auto col = e.at(0).get<std::uint32_t>();
        r.push_back({col, fixed_from_json(e.at(1), raw)});
        *columns = std::max<std::size_t>(*columns, col + 1);
      } else {
        const Fixed v = fixed_from_json(e, raw);
        if (!drop_zeros || v.raw != 0) r.push_back({static_cast<std::uint32_t>(j), v});
        ++j;
        *columns = std::max(*columns, j);
      }
    }
    m.push_back(std::move(r));
  }
  return m;
}

// Rows given densely (numbers) keep only their entries > 0; rows given as [column, value]
// pairs are kept whole, explicit zeros included.
SparseMatrix positive_entries(SparseMatrix m, const json& rows) {
  for (std::size_t i = 0; i < m.size() && i < rows.size(); ++i) {
    const bool dense = !rows[i].empty() && !rows[i].front().is_array();
    if (dense) std::erase_if(m[i], [](const auto& e) { return e.second.raw <= 0; });
  }
  return m;
}

const json& first_of(const json& c, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (has(c, k)) return c.at(k);
  }
  throw std::runtime_error(std::string("missing field ") + *keys.begin());
}

bool is_raw_key(const json& c, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (has(c, k)) return std::string(k).find("raw") != std::string::npos;
  }
  return false;
}

double case_tolerance(const json& vector, const json& c) {
  if (has(c, "abs_tol")) return c.at("abs_tol").get<double>();
  if (has(vector, "tolerance") && vector.at("tolerance").is_number()) return vector.at("tolerance").get<double>();
  return 0.0;
}

void check_fixed_vector(Checker& ck, const std::string& what, const std::vector<Fixed>& got, const json& c,
                        const std::string& base, double tol) {
  const std::vector<Fixed> want = fixed_vector(c, base);
  if (got.size() != want.size()) {
    ck.fail(what + ": " + std::to_string(got.size()) + " values, want " + std::to_string(want.size()));
    return;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    ck.check(what + "[" + std::to_string(i) + "]", got[i].to_double(), want[i].to_double(), tol);
  }
}

void check_dense(Checker& ck, const std::string& what, const SparseMatrix& got, const json& want, double tol) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    for (std::size_t j = 0; j < want[i].size(); ++j) {
      double g = 0.0;
      if (i < got.size()) {
        for (const auto& [c, v] : got[i]) {
          if (c == j) g = v.to_double();
        }
      }
      ck.check(what + "[" + std::to_string(i) + "][" + std::to_string(j) + "]", g, want[i][j].get<double>(), tol);
    }
  }
}

std::vector<std::vector<Fixed>> dense_fixed(const json& rows, bool raw) {
  std::vector<std::vector<Fixed>> m;
  for (const auto& row : rows) {
    std::vector<Fixed> r;
    for (const auto& e : row) r.push_back(fixed_from_json(e, raw));
    m.push_back(std::move(r));
  }
  return m;
}

void run_math_case(const json& vector, const json& c, Checker& ck, bool sparse_form) {
  const std::string fn = vector.at("function").get<std::string>();
  const double tol = case_tolerance(vector, c);
  if (fn == "vec_max_upscale_to_u16" || fn == "vec_u16_max_upscale_to_u16") {
    std::vector<std::uint16_t> got;
    if (has(c, "input_u16")) {
      got = vec_u16_max_upscale_to_u16(c.at("input_u16").get<std::vector<std::uint16_t>>());
    } else {
      got = vec_max_upscale_to_u16(fixed_vector(c, "input"));
    }
    const auto want = c.at("expected").get<std::vector<double>>();
    if (got.size() != want.size()) return ck.fail("length differs");
    for (std::size_t i = 0; i < got.size(); ++i) ck.check("[" + std::to_string(i) + "]", got[i], want[i], tol);
  } else if (fn == "weighted_median") {
    const auto stake = fixed_vector(c, "stake");
    const auto score = fixed_vector(c, "score");
    std::vector<std::size_t> idx(stake.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    const Fixed got = weighted_median(stake, score, idx, fixed_scalar(c, "minority"), fixed_scalar(c, "partition_lo"),
                                      fixed_scalar(c, "partition_hi"));
    ck.check("median", got.to_double(), fixed_scalar(c, "expected").to_double(), tol);
  } else if (fn == "weighted_median_col" || fn == "weighted_median_col_sparse") {
    const auto stake = fixed_vector(c, "stake");
    std::size_t columns = 0;
    const bool raw = is_raw_key(c, {"weights_raw_i32f32", "weights_sparse_raw_i32f32", "weights_literal_f32", "weights"});
    const SparseMatrix w = fixed_matrix(
        first_of(c, {"weights_raw_i32f32", "weights_sparse_raw_i32f32", "weights_literal_f32", "weights"}), raw, false,
        &columns);
    if (has(c, "columns")) columns = c.at("columns").get<std::size_t>();
    const auto want = fixed_vector(c, "expected");
    columns = std::max(columns, want.size());
    check_fixed_vector(ck, "median", weighted_median_col_sparse(stake, w, columns, fixed_scalar(c, "majority")), c,
                       "expected", tol);
  } else if (fn == "inplace_col_clip" || fn == "col_clip_sparse") {
    std::vector<Fixed> threshold;
    for (const auto& t : c.at("threshold")) threshold.push_back(Fixed::from_f32(t.get<double>()));
    std::size_t columns = 0;
    const bool sparse = fn == "col_clip_sparse";
    const SparseMatrix m = fixed_matrix(c.at("matrix"), false, sparse, &columns);
    SparseMatrix got = col_clip_sparse(m, threshold);
    if (!sparse) {  // dense: every entry is min(entry, threshold), nothing is dropped
      for (std::size_t i = 0; i < m.size(); ++i) {
        got[i] = m[i];
        for (auto& e : got[i]) e.second = std::min(e.second, threshold[e.first]);
      }
    }
    check_dense(ck, "clip", got, c.at("expected"), tol);
  } else if (fn == "mat_ema_alpha" || fn == "mat_ema_alpha_sparse") {
    const bool raw_new = is_raw_key(c, {"new_raw_i32f32", "new"});
    const bool raw_old = is_raw_key(c, {"old_raw_i32f32", "old"});
    const bool raw_alpha = is_raw_key(c, {"alpha_raw_i32f32", "alpha"});
    const json& jn = first_of(c, {"new_raw_i32f32", "new"});
    const json& jo = first_of(c, {"old_raw_i32f32", "old"});
    const auto alpha = dense_fixed(first_of(c, {"alpha_raw_i32f32", "alpha"}), raw_alpha);
    const bool raw_expected = is_raw_key(c, {"expected_raw_i32f32", "expected"});
    const json& je = first_of(c, {"expected_raw_i32f32", "expected"});
    if (sparse_form || fn == "mat_ema_alpha_sparse") {
      // Dense rows become sparse as subtensor's tests convert them (vec_to_sparse_mat_fixed:
      // only entries > 0); rows of [column, value] are taken as they are. The result must
      // have exactly the expected entries (assert_sparse_mat_compare checks row lengths).
      std::size_t columns = 0;
      const SparseMatrix got = mat_ema_alpha_sparse(positive_entries(fixed_matrix(jn, raw_new, false, &columns), jn),
                                                    positive_entries(fixed_matrix(jo, raw_old, false, &columns), jo), alpha);
      std::size_t ecols = 0;
      const SparseMatrix want = positive_entries(fixed_matrix(je, raw_expected, false, &ecols), je);
      if (got.size() != want.size()) {
        return ck.fail(std::to_string(got.size()) + " rows, want " + std::to_string(want.size()));
      }
      for (std::size_t i = 0; i < want.size(); ++i) {
        std::map<std::uint32_t, std::pair<std::optional<double>, std::optional<double>>> cells;
        for (const auto& [j, v] : want[i]) cells[j].second = v.to_double();
        for (const auto& [j, v] : got[i]) cells[j].first = v.to_double();
        for (const auto& [j, gw] : cells) {
          const std::string at = "[" + std::to_string(i) + "][" + std::to_string(j) + "]";
          if (!gw.first) ck.fail(at + ": no entry, want " + Checker::fmt(*gw.second));
          else if (!gw.second) ck.fail(at + ": entry " + Checker::fmt(*gw.first) + " where none is expected");
          else ck.check(at, *gw.first, *gw.second, tol);
        }
      }
    } else {
      const auto got = mat_ema_alpha(dense_fixed(jn, raw_new), dense_fixed(jo, raw_old), alpha);
      const auto want = dense_fixed(je, raw_expected);
      if (has(c, "expected_rows") && got.size() != c.at("expected_rows").get<std::size_t>()) {
        return ck.fail(std::to_string(got.size()) + " rows, want " + std::to_string(c.at("expected_rows").get<std::size_t>()));
      }
      for (std::size_t i = 0; i < want.size(); ++i) {
        for (std::size_t j = 0; j < want[i].size(); ++j) {
          const double g = i < got.size() && j < got[i].size() ? got[i][j].to_double() : 0.0;
          ck.check("[" + std::to_string(i) + "][" + std::to_string(j) + "]", g, want[i][j].to_double(), tol);
        }
      }
    }
  } else if (fn == "exp_safe") {
    ck.check("exp", exp_safe(fixed_scalar(c, "input")).to_double(), fixed_scalar(c, "expected").to_double(), tol);
  } else if (fn == "sigmoid_safe") {
    const Fixed got = sigmoid_safe(fixed_scalar(c, "input"), fixed_scalar(c, "rho"), fixed_scalar(c, "kappa"));
    ck.check("sigmoid", got.to_double(), fixed_scalar(c, "expected").to_double(), tol);
  } else if (fn == "alpha_sigmoid") {
    const Fixed got = alpha_sigmoid(fixed_scalar(c, "consensus"), fixed_scalar(c, "weight"), fixed_scalar(c, "bond"),
                                    fixed_scalar(c, "alpha_low"), fixed_scalar(c, "alpha_high"),
                                    static_cast<std::int16_t>(c.at("steepness").get<int>()));
    ck.check("alpha", got.to_double(), fixed_scalar(c, "expected").to_double(), tol);
  } else {
    ck.fail("unsupported math function '" + fn + "'");
  }
}

// ---- epochs --------------------------------------------------------------------------

YumaParams params_from(const json& h) {
  YumaParams p;
  p.kappa_u16 = h.at("kappa_u16").get<std::uint16_t>();
  p.bonds_moving_average = h.at("bonds_moving_average").get<std::uint64_t>();
  p.bonds_penalty_u16 = h.value("bonds_penalty_u16", std::uint16_t{65535});
  p.yuma3 = h.value("yuma3", false);
  if (has(h, "liquid_alpha")) {
    const auto& la = h.at("liquid_alpha");
    p.liquid_alpha = la.value("enabled", false);
    p.alpha_low_u16 = la.value("alpha_low_u16", std::uint16_t{45875});
    p.alpha_high_u16 = la.value("alpha_high_u16", std::uint16_t{58982});
    p.alpha_steepness = static_cast<std::int16_t>(la.value("steepness", 1000.0));
  }
  p.max_allowed_validators = h.at("max_allowed_validators").get<std::uint32_t>();
  p.tempo = h.at("tempo").get<std::uint64_t>();
  p.activity_cutoff_blocks = has(h, "activity_cutoff_blocks") ? h.at("activity_cutoff_blocks").get<std::uint64_t>()
                                                              : YumaParams::activity_cutoff_for_tempo(p.tempo);
  p.stake_threshold = h.value("stake_threshold", std::uint64_t{0});
  if (has(h, "owner_uid")) p.owner_uid = h.at("owner_uid").get<std::uint32_t>();
  p.last_mechanism_step_block = h.value("last_mechanism_step_block", std::uint64_t{0});
  p.rao_emission = h.value("rao_emission", std::uint64_t{0});
  if (has(h, "commit_reveal")) p.commit_reveal = h.at("commit_reveal").get<bool>();
  return p;
}

std::vector<U16Row> u16_rows(const json& rows) {
  std::vector<U16Row> out;
  for (const auto& row : rows) {
    U16Row r;
    for (const auto& e : row) r.push_back({e.at(0).get<std::uint32_t>(), e.at(1).get<std::uint16_t>()});
    out.push_back(std::move(r));
  }
  return out;
}

// Per-uid expectation: an array (every uid) or an object keyed by uid.
template <typename Fn>
void each_uid(const json& want, Fn&& fn) {
  if (want.is_array()) {
    for (std::size_t i = 0; i < want.size(); ++i) fn(i, want[i]);
  } else {
    for (const auto& [k, v] : want.items()) fn(static_cast<std::size_t>(std::stoul(k)), v);
  }
}

double value_at(const std::vector<double>& v, std::size_t i) { return i < v.size() ? v[i] : std::nan(""); }

std::vector<double> as_double(const std::vector<Fixed>& v) {
  std::vector<double> out;
  for (auto x : v) out.push_back(x.to_double());
  return out;
}
template <typename T>
std::vector<double> as_double_int(const std::vector<T>& v) {
  std::vector<double> out;
  for (auto x : v) out.push_back(static_cast<double>(x));
  return out;
}
std::vector<double> as_double_bool(const std::vector<bool>& v) {
  std::vector<double> out;
  for (bool x : v) out.push_back(x ? 1.0 : 0.0);
  return out;
}

double json_number(const json& v) { return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>(); }

void check_per_uid(Checker& ck, const std::string& what, const std::vector<double>& got, const json& want, double tol) {
  each_uid(want, [&](std::size_t i, const json& w) {
    ck.check(what + "[" + std::to_string(i) + "]", value_at(got, i), json_number(w), tol);
  });
}

double stored_bond(const std::vector<U16Row>& bonds, std::size_t i, std::size_t j) {
  if (i >= bonds.size()) return 0.0;
  for (const auto& [c, v] : bonds[i]) {
    if (c == j) return v;
  }
  return 0.0;
}

void check_sparse_rows(Checker& ck, const std::string& what, const SparseMatrix& got, const json& want, double tol) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    std::map<std::uint32_t, std::pair<double, double>> cells;
    for (const auto& e : want[i]) cells[e.at(0).get<std::uint32_t>()].second = e.at(1).get<double>();
    if (i < got.size()) {
      for (const auto& [j, v] : got[i]) cells[j].first = v.to_double();
    }
    for (const auto& [j, gw] : cells) {
      ck.check(what + "[" + std::to_string(i) + "][" + std::to_string(j) + "]", gw.first, gw.second, tol);
    }
  }
}

// A whole output by name, as doubles.
std::optional<std::vector<double>> output_vector(const YumaOutputs& o, const std::string& name) {
  if (name == "consensus_u16") return as_double_int(YumaOutputs::to_u16(o.consensus));
  if (name == "incentive_u16") return as_double_int(YumaOutputs::to_u16(o.incentive));
  if (name == "dividends_u16") return as_double_int(YumaOutputs::to_u16(o.dividends));
  if (name == "validator_trust_u16") return as_double_int(YumaOutputs::to_u16(o.validator_trust));
  if (name == "emission_rao") return as_double_int(o.combined_emission);
  if (name == "server_emission_rao") return as_double_int(o.server_emission);
  if (name == "validator_emission_rao") return as_double_int(o.validator_emission);
  if (name == "consensus") return as_double(o.consensus);
  if (name == "incentive") return as_double(o.incentive);
  if (name == "dividends") return as_double(o.dividends);
  return std::nullopt;
}

std::string trim(std::string s) {
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// One term of a relation side: "name[uid]" / "name.uid", "sum(name)" (over every uid) or
// a number.
std::optional<double> term_value(const YumaOutputs& o, std::string t) {
  t = trim(t);
  if (t.empty()) return std::nullopt;
  if (t.rfind("sum(", 0) == 0 && t.back() == ')') {
    const auto v = output_vector(o, trim(t.substr(4, t.size() - 5)));
    if (!v) return std::nullopt;
    double total = 0;
    for (double x : *v) total += x;
    return total;
  }
  if (std::isdigit(static_cast<unsigned char>(t.front())) != 0) return std::stod(t);
  const auto open = t.find_first_of("[.");
  const auto v = output_vector(o, t.substr(0, open));
  const std::size_t uid = open == std::string::npos ? 0 : std::stoul(t.substr(open + 1));
  if (!v || uid >= v->size()) return std::nullopt;
  return (*v)[uid];
}

// The value of one side of a relation: a string of terms joined by '+', [name, uid],
// {"output"|"name": .., "uid": ..}, {"sum": [terms]} or a number.
std::optional<double> named_output(const YumaOutputs& o, const json& ref) {
  if (ref.is_number()) return ref.get<double>();
  if (ref.is_string()) {
    const std::string s = ref.get<std::string>();
    double total = 0;
    std::size_t start = 0;
    while (true) {
      const auto plus = s.find('+', start);
      const auto v = term_value(o, s.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
      if (!v) return std::nullopt;
      total += *v;
      if (plus == std::string::npos) return total;
      start = plus + 1;
    }
  }
  if (ref.is_array() && ref.size() == 2 && ref[0].is_string()) {
    return term_value(o, ref[0].get<std::string>() + "[" + std::to_string(ref[1].get<std::size_t>()) + "]");
  }
  if (ref.is_object() && has(ref, "sum")) {
    double total = 0;
    for (const auto& t : ref.at("sum")) {
      const auto v = t.is_string() && output_vector(o, t.get<std::string>()) ? term_value(o, "sum(" + t.get<std::string>() + ")")
                                                                             : named_output(o, t);
      if (!v) return std::nullopt;
      total += *v;
    }
    return total;
  }
  if (ref.is_object()) {
    std::string name;
    std::size_t uid = 0;
    for (const char* k : {"output", "name", "key", "field"}) {
      if (has(ref, k)) name = ref.at(k).get<std::string>();
    }
    for (const char* k : {"uid", "index", "i"}) {
      if (has(ref, k)) uid = ref.at(k).get<std::size_t>();
    }
    return term_value(o, name + "[" + std::to_string(uid) + "]");
  }
  return std::nullopt;
}

void check_relations(Checker& ck, const YumaOutputs& o, const json& relations) {
  for (const auto& r : relations) {
    std::string op;
    for (const char* k : {"op", "relation", "type", "kind"}) {
      if (has(r, k)) op = r.at(k).get<std::string>();
    }
    const json* lhs = nullptr;
    const json* rhs = nullptr;
    for (auto [l, rr] : {std::pair{"a", "b"}, std::pair{"lhs", "rhs"}, std::pair{"left", "right"}}) {
      if (has(r, l) && has(r, rr)) {
        lhs = &r.at(l);
        rhs = &r.at(rr);
      }
    }
    if (lhs == nullptr && r.is_array() && r.size() >= 3) {
      op = r[1].get<std::string>();
      lhs = &r[0];
      rhs = &r[2];
    }
    if (lhs == nullptr) {
      ck.fail("relation not understood: " + r.dump());
      continue;
    }
    const auto a = named_output(o, *lhs), b = named_output(o, *rhs);
    if (!a || !b) {
      ck.fail("relation names an unknown output: " + r.dump());
      continue;
    }
    bool ok = false;
    if (op == "eq") ok = *a == *b;
    else if (op == "gt") ok = *a > *b;
    else if (op == "ge") ok = *a >= *b;
    else if (op == "lt") ok = *a < *b;
    else if (op == "abs_diff_le") ok = std::fabs(*a - *b) <= r.value("tol", 0.0);
    else {
      ck.fail("unknown relation '" + op + "'");
      continue;
    }
    if (!ok) ck.fail("relation " + r.dump() + " does not hold (" + Checker::fmt(*a) + " vs " + Checker::fmt(*b) + ")");
  }
}

std::string printed(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12f", v);
  return buf;
}

void check_logs(Checker& ck, const YumaOutputs& o, const YumaInputs& in, const json& logs, double tol) {
  for (const auto& [key, want] : logs.items()) {
    const std::string what = "logs." + key;
    if (key == "inactive") check_per_uid(ck, what, as_double_bool(o.inactive), want, 0);
    else if (key == "normalised_stake") check_per_uid(ck, what, as_double(o.stake), want, tol);
    else if (key == "normalised_stake_prefix") {
      each_uid(want, [&](std::size_t i, const json& w) {
        const std::string got = i < o.stake.size() ? printed(o.stake[i].to_double()) : "";
        if (got.rfind(w.get<std::string>(), 0) != 0) ck.fail(what + "[" + std::to_string(i) + "]: printed " + got);
      });
    } else if (key == "validator_permits") check_per_uid(ck, what, as_double_bool(in.validator_permit), want, 0);
    else if (key == "new_validator_permits") check_per_uid(ck, what, as_double_bool(o.new_validator_permit), want, 0);
    else if (key == "active_stake") check_per_uid(ck, what, as_double(o.active_stake), want, tol);
    else if (key == "consensus") check_per_uid(ck, what, as_double(o.consensus), want, tol);
    else if (key == "validator_trust") check_per_uid(ck, what, as_double(o.validator_trust), want, tol);
    else if (key == "dividends") check_per_uid(ck, what, as_double(o.dividends), want, tol);
    else if (key == "incentive") check_per_uid(ck, what, as_double(o.incentive), want, tol);
    else if (key == "normalized_validator_emission") check_per_uid(ck, what, as_double(o.validator_share), want, tol);
    else if (key == "normalized_server_emission") check_per_uid(ck, what, as_double(o.server_share), want, tol);
    else if (key == "normalized_combined_emission") check_per_uid(ck, what, as_double(o.combined_share), want, tol);
    else if (key == "combined_emission_rao") check_per_uid(ck, what, as_double_int(o.combined_emission), want, 0);
    else if (key == "weights_mask_norm") check_sparse_rows(ck, what, o.weights, want, tol);
    else if (key == "delta_bonds_norm") check_sparse_rows(ck, what, o.delta_bonds, want, tol);
    else ck.fail("unsupported log key '" + key + "'");
  }
}

double tolerance_for(const json& epoch, const std::string& key) {
  if (has(epoch, "tolerance") && epoch.at("tolerance").is_object() && has(epoch.at("tolerance"), key)) {
    return epoch.at("tolerance").at(key).get<double>();
  }
  return 0.0;
}

void check_expected(Checker& ck, const YumaOutputs& o, const YumaInputs& in, const json& epoch) {
  for (const auto& [key, want] : epoch.at("expected").items()) {
    const double tol = tolerance_for(epoch, key);
    if (key == "consensus_u16") check_per_uid(ck, key, as_double_int(YumaOutputs::to_u16(o.consensus)), want, tol);
    else if (key == "incentive_u16") check_per_uid(ck, key, as_double_int(YumaOutputs::to_u16(o.incentive)), want, tol);
    else if (key == "dividends_u16") check_per_uid(ck, key, as_double_int(YumaOutputs::to_u16(o.dividends)), want, tol);
    else if (key == "validator_trust_u16") {
      check_per_uid(ck, key, as_double_int(YumaOutputs::to_u16(o.validator_trust)), want, tol);
    } else if (key == "emission_rao") check_per_uid(ck, key, as_double_int(o.combined_emission), want, tol);
    else if (key == "server_emission_rao") check_per_uid(ck, key, as_double_int(o.server_emission), want, tol);
    else if (key == "validator_emission_rao") check_per_uid(ck, key, as_double_int(o.validator_emission), want, tol);
    else if (key == "new_validator_permit") check_per_uid(ck, key, as_double_bool(o.new_validator_permit), want, 0);
    else if (key == "dividends") {
      std::vector<double> stored;
      for (auto u : YumaOutputs::to_u16(o.dividends)) stored.push_back(u / 65535.0);
      check_per_uid(ck, key, stored, want, tol);
    } else if (key == "bonds_u16") {
      for (const auto& e : want) {
        const auto i = e.at(0).get<std::size_t>(), j = e.at(1).get<std::size_t>();
        ck.check("bonds_u16[" + std::to_string(i) + "][" + std::to_string(j) + "]", stored_bond(o.bonds, i, j),
                 e.at(2).get<double>(), tol);
      }
    } else if (key == "logs") check_logs(ck, o, in, want, tolerance_for(epoch, "logs"));
    else if (key == "relations") check_relations(ck, o, want);
    else ck.fail("unsupported expectation '" + key + "'");
  }
}

void run_epochs(const json& vector, Checker& ck) {
  const YumaParams params = params_from(vector.at("hyperparams"));
  std::vector<U16Row> bonds;
  std::size_t index = 0;
  for (const auto& epoch : vector.at("epochs")) {
    ck.where = "epoch " + std::to_string(index++) + ": ";
    const json& j = epoch.at("inputs");
    YumaInputs in;
    in.current_block = j.at("current_block").get<std::uint64_t>();
    in.stake = j.at("stake").get<std::vector<std::uint64_t>>();
    in.validator_permit = j.at("validator_permit").get<std::vector<bool>>();
    in.last_update = j.at("last_update").get<std::vector<std::uint64_t>>();
    in.block_at_registration = j.at("block_at_registration").get<std::vector<std::uint64_t>>();
    in.weights = u16_rows(j.at("weights"));
    const std::size_t n = in.stake.size();
    // The stored permit vector may be shorter than n (the epoch then treats the missing
    // uids as it does in subtensor); every other input has one entry per uid.
    if (in.last_update.size() != n || in.block_at_registration.size() != n || in.weights.size() != n ||
        in.validator_permit.size() > n) {
      ck.fail("inputs have inconsistent lengths");
      return;
    }
    for (const auto& row : in.weights) {
      for (const auto& [col, w] : row) {
        if (col >= n) {
          ck.fail("a weight names uid " + std::to_string(col) + " of " + std::to_string(n));
          return;
        }
      }
    }
    if (has(j, "commit_block")) {
      for (const auto& c : j.at("commit_block")) {
        in.commit_block.push_back(c.is_null() ? std::numeric_limits<std::uint64_t>::max() : c.get<std::uint64_t>());
      }
    }
    bonds.resize(std::max(bonds.size(), n));
    if (has(j, "events_before")) {
      for (const auto& ev : j.at("events_before")) {
        const auto type = ev.at("type").get<std::string>();
        const auto uid = ev.at("uid").get<std::uint32_t>();
        if (type == "reset_bonds_column") {
          for (auto& row : bonds) {
            std::erase_if(row, [uid](const auto& e) { return e.first == uid; });
          }
        } else if (type == "clear_bonds_row") {
          if (uid < bonds.size()) bonds[uid].clear();
        } else {
          ck.fail("unsupported event '" + type + "'");
        }
      }
    }
    in.bonds = bonds;
    const YumaOutputs out = run_epoch(params, in);
    bonds = out.bonds;
    check_expected(ck, out, in, epoch);
  }
}

}  // namespace

VectorResult evaluate_yuma_vector(const json& vector) {
  VectorResult result;
  result.name = vector.value("name", "(unnamed)");
  result.pass = true;
  Checker ck{&result, ""};
  try {
    const std::string kind = vector.at("kind").get<std::string>();
    if (kind == "math") {
      std::size_t i = 0;
      for (const auto& c : vector.at("cases")) {
        ck.where = "case " + std::to_string(i++) + ": ";
        run_math_case(vector, c, ck, false);
      }
      if (has(vector, "cases_sparse_form")) {
        i = 0;
        for (const auto& c : vector.at("cases_sparse_form")) {
          ck.where = "sparse case " + std::to_string(i++) + ": ";
          run_math_case(vector, c, ck, true);
        }
      }
    } else if (kind == "epoch") {
      run_epochs(vector, ck);
    } else {
      ck.fail("unknown kind '" + kind + "'");
    }
  } catch (const std::exception& e) {
    ck.fail(std::string("malformed vector: ") + e.what());
  }
  return result;
}

Result<std::vector<VectorResult>> evaluate_yuma_vectors_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot open vectors file " + path);
  json doc;
  try {
    doc = json::parse(in);
  } catch (const std::exception& e) {
    return InvalidArgument(path + " is not valid JSON: " + e.what());
  }
  const json* vectors = doc.is_array() ? &doc : (doc.is_object() && doc.contains("vectors") ? &doc.at("vectors") : nullptr);
  if (vectors == nullptr || !vectors->is_array()) {
    return InvalidArgument(path + ": expected an object with a \"vectors\" array (format yuma-epoch-vectors/1)");
  }
  std::vector<VectorResult> results;
  for (const auto& v : *vectors) results.push_back(evaluate_yuma_vector(v));
  return results;
}

}  // namespace tessera::chain
