// The safetensors half of the checkpoint fuzz harness (checkpoint_harness.h). Its own file
// because it needs torch, whose 1.13 headers clang 14 compiles only as C++17, while the
// manifest half needs the C++20 core headers.
#include <cstring>
#include <string_view>

#include "checkpoints/safetensors.h"
#include "tests/fuzz/checkpoint_harness.h"

namespace tessera::fuzz {

CheckpointStage safetensors_input(std::string_view file) {
  auto end = checkpoints::safetensors_header_end(file, file.size());
  if (!end.ok() || *end > file.size()) return CheckpointStage::kRejected;
  auto layout = checkpoints::safetensors_layout(file, file.size());
  auto decoded = checkpoints::decode_safetensors(file);
  if (!decoded.ok()) return layout.ok() ? CheckpointStage::kParsed : CheckpointStage::kRejected;
  // What decodes was laid out validly, and says the same.
  if (!layout.ok() || layout->tensors.size() != decoded->tensors.size()) __builtin_trap();
  for (std::size_t i = 0; i < decoded->tensors.size(); ++i) {
    if (layout->tensors[i].name != decoded->tensors[i].first ||
        layout->tensors[i].shape != decoded->tensors[i].second.sizes().vec()) {
      __builtin_trap();
    }
  }
  auto encoded = checkpoints::encode_safetensors(decoded->tensors, decoded->metadata);
  if (!encoded.ok()) __builtin_trap();
  auto round = checkpoints::decode_safetensors(*encoded);
  if (!round.ok() || round->tensors.size() != decoded->tensors.size()) __builtin_trap();
  for (std::size_t i = 0; i < round->tensors.size(); ++i) {
    // Bitwise: NaN payloads must survive too.
    const auto& a = round->tensors[i].second;
    const auto& b = decoded->tensors[i].second;
    if (a.sizes() != b.sizes() || std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * sizeof(float)) != 0) __builtin_trap();
  }
  return CheckpointStage::kAccepted;
}

}  // namespace tessera::fuzz
