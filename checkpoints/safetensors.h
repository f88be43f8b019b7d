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
#include <memory>
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

// The largest header accepted (the reference implementation's cap).
inline constexpr std::uint64_t kSafetensorsMaxHeader = 100u << 20;
// Bytes of a float32 tensor of `shape`; an error for negative dimensions or more than
// 2^40 elements (so hostile shapes cannot overflow the size arithmetic).
Result<std::uint64_t> float32_bytes(const std::vector<std::int64_t>& shape);

// Where each tensor's bytes lie, from the header alone: data offsets are relative to
// data_begin (8 + header length), entries in file order, validated as decode does
// (dtype, shapes against byte ranges, no overlaps, gaps or trailing bytes for a file of
// `file_size` bytes). Lets a download hash tensors while the rest still arrives.
struct SafetensorsLayout {
  struct Entry {
    std::string name;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0, end = 0;
  };
  std::uint64_t data_begin = 0;
  std::vector<Entry> tensors;
  std::map<std::string, std::string> metadata;
};
// 8 + the header length, once the first 8 bytes are known (checked against the cap and
// the file size).
Result<std::uint64_t> safetensors_header_end(std::string_view prefix, std::uint64_t file_size);
// Needs prefix.size() >= safetensors_header_end(...).
Result<SafetensorsLayout> safetensors_layout(std::string_view prefix, std::uint64_t file_size);

// Serialises float32 tensors (any other dtype is an error naming the tensor).
Result<std::string> encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata);
Result<SafetensorsFile> decode_safetensors(std::string_view bytes);
// The same without copying: the tensors are views into `bytes` and share its ownership.
Result<SafetensorsFile> decode_safetensors(std::shared_ptr<char[]> bytes, std::uint64_t size);

// Atomic write (temp, fsync, rename, fsync dir) and a validated read.
Status write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                         const std::map<std::string, std::string>& metadata = {});
Result<SafetensorsFile> read_safetensors(const std::filesystem::path& path);

}  // namespace tessera::checkpoints
