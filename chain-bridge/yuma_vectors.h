// Evaluates Yuma Consensus test vectors (the format of ../shared/yuma/vectors.json,
// "yuma-epoch-vectors/1"): math vectors call the building blocks, epoch vectors run
// run_epoch() over their epochs with the bonds carried from one epoch to the next.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace tessera::chain {

struct VectorResult {
  std::string name;
  bool pass = false;
  double max_abs_error = 0.0;
  std::vector<std::string> failures;  // first few mismatches, readable
  nlohmann::json to_json() const;
};

VectorResult evaluate_yuma_vector(const nlohmann::json& vector);
// Reads a vectors file; errors name what is malformed.
Result<std::vector<VectorResult>> evaluate_yuma_vectors_file(const std::string& path);

}  // namespace tessera::chain
