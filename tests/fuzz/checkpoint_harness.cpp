#include "tests/fuzz/checkpoint_harness.h"

#include <string_view>

#include "checkpoints/manifest.h"

namespace tessera::fuzz {

// checkpoint_harness_safetensors.cpp (torch; compiled as C++17 in the fuzz build).
CheckpointStage safetensors_input(std::string_view file);

namespace {

CheckpointStage manifest(std::string_view text) {
  auto m = checkpoints::Manifest::from_json(std::string(text));
  if (!m.ok()) return CheckpointStage::kRejected;
  auto again = checkpoints::Manifest::from_json(m->to_json());
  if (!again.ok() || again->content_hash() != m->content_hash()) __builtin_trap();
  const std::string hash = m->content_hash();
  (void)checkpoints::verify_manifest(*m, hash, std::string(64, '0'));
  return checkpoints::verify_manifest(*m, hash).ok() ? CheckpointStage::kAccepted : CheckpointStage::kParsed;
}

}  // namespace

CheckpointStage check_checkpoint_input(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return CheckpointStage::kRejected;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  return (data[0] & 1) == 0 ? manifest(rest) : safetensors_input(rest);
}

}  // namespace tessera::fuzz
