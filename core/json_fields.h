// Integer fields of JSON that someone else wrote (served records, manifests). nlohmann's
// get<T>() converts a negative number, a larger one or a float to T without a word, and a
// float out of T's range with undefined behaviour; a reader of hostile JSON takes only
// what a writer of the format writes: a non-negative integer that fits.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace tessera {

// `v` as T when it is a non-negative JSON integer no larger than T's maximum, else nullopt.
// Parsed text holds such a number as unsigned; JSON built in code may hold it as signed.
template <typename T>
std::optional<T> json_unsigned(const nlohmann::json& v) {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<std::int64_t>() < 0)) return std::nullopt;
  const auto n = v.get<std::uint64_t>();
  if (n > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
  return static_cast<T>(n);
}

// A tensor shape: `v`'s entries when `v` is an array whose every entry is a non-negative
// JSON integer that fits int64 (json_unsigned), else nullopt.
inline std::optional<std::vector<std::int64_t>> json_dims(const nlohmann::json& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::int64_t> dims;
  dims.reserve(v.size());
  for (const auto& d : v) {
    const auto n = json_unsigned<std::int64_t>(d);
    if (!n) return std::nullopt;
    dims.push_back(*n);
  }
  return dims;
}

}  // namespace tessera
