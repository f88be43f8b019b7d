// safetensors I/O in the standard layout (what the Python `safetensors` package reads):
// an 8-byte little-endian header length N, N bytes of JSON
// {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "value"}} padded with spaces to a multiple of 8, then the raw
// little-endian tensor bytes, in the order written. Reading validates everything (header
// size, JSON, dtype, shapes against byte ranges, ranges inside the buffer, no overlaps or
// gaps) and names the tensor at fault.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tessera::checkpoints {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct SafetensorsFile {
  NamedTensors tensors;                         // in file order, float32, CPU
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Serialises float32 tensors (any other dtype is an error naming the tensor).
Result<std::string> encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata);
Result<SafetensorsFile> decode_safetensors(std::string_view bytes);

// Atomic write (temp, fsync, rename, fsync dir) and a validated read.
Status write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                         const std::map<std::string, std::string>& metadata = {});
Result<SafetensorsFile> read_safetensors(const std::filesystem::path& path);

}  // namespace tessera::checkpoints
