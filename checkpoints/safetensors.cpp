#include "checkpoints/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/bytes.h"
#include "core/file_io.h"
#include "core/json_fields.h"

namespace tessera::checkpoints {

Result<std::uint64_t> float32_bytes(const std::vector<std::int64_t>& shape) {
  std::uint64_t numel = 1;
  for (auto d : shape) {
    if (d < 0 || (d > 0 && numel > (std::uint64_t{1} << 40) / static_cast<std::uint64_t>(d))) {
      return Corrupted("bad shape");
    }
    numel *= static_cast<std::uint64_t>(d);
  }
  return numel * 4;
}

Result<std::string> encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();  // "{}" with no tensors, not "null"
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__") return InvalidArgument("invalid tensor name '" + name + "'");
    if (!names.insert(name).second) return InvalidArgument("tensor name '" + name + "' repeated");
    if (t.scalar_type() != torch::kFloat) return InvalidArgument("tensor " + name + " is not float32");
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  while (json.size() % 8 != 0) json.push_back(' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  const std::uint64_t n = json.size();
  append_le(&out, n, 8);
  out += json;
  for (const auto& [name, t] : tensors) {
    const torch::Tensor c = t.detach().contiguous().cpu();
    out.append(reinterpret_cast<const char*>(c.data_ptr<float>()), static_cast<std::size_t>(c.numel()) * 4);
  }
  return out;
}

Result<std::uint64_t> safetensors_header_end(std::string_view prefix, std::uint64_t file_size) {
  if (prefix.size() < 8 || file_size < 8) return Corrupted("safetensors: file shorter than its 8-byte header length");
  const std::uint64_t n = load_le(prefix.data(), 8);
  if (n > kSafetensorsMaxHeader || n > file_size - 8) {
    return Corrupted("safetensors: header length " + std::to_string(n) + " exceeds the file or the 100 MB cap");
  }
  return 8 + n;
}

Result<SafetensorsLayout> safetensors_layout(std::string_view prefix, std::uint64_t file_size) {
  TESSERA_ASSIGN_OR_RETURN(const std::uint64_t header_end, safetensors_header_end(prefix, file_size));
  if (prefix.size() < header_end) return InvalidArgument("safetensors: the header is not complete yet");
  const std::string_view text = prefix.substr(8, header_end - 8);
  // The JSON parser stops at a NUL byte as at the end of input, which would let anything
  // follow it unread: the header is JSON padded with spaces, and nothing else.
  if (text.find('\0') != std::string_view::npos) return Corrupted("safetensors: header contains a NUL byte");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Corrupted(std::string("safetensors: header is not JSON: ") + e.what());
  }
  if (!header.is_object()) return Corrupted("safetensors: header is not a JSON object");
  const std::uint64_t data_size = file_size - header_end;
  SafetensorsLayout out;
  out.data_begin = header_end;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) return Corrupted("safetensors: __metadata__ is not an object");
      for (const auto& [k, m] : v.items()) {
        if (!m.is_string()) return Corrupted("safetensors: metadata value of '" + k + "' is not a string");
        out.metadata[k] = m.get<std::string>();
      }
      continue;
    }
    try {
      const std::string dtype = v.at("dtype").get<std::string>();
      if (dtype != "F32") return InvalidArgument("safetensors: tensor " + name + " has dtype " + dtype + " (only F32)");
      const auto& offsets = v.at("data_offsets");
      if (!offsets.is_array() || offsets.size() != 2) return Corrupted("safetensors: tensor " + name + ": data_offsets needs 2 values");
      const auto begin = json_unsigned<std::uint64_t>(offsets[0]), end = json_unsigned<std::uint64_t>(offsets[1]);
      if (!begin || !end) return Corrupted("safetensors: tensor " + name + ": data_offsets are not two non-negative integers");
      const auto& dims = v.at("shape");
      if (!dims.is_array()) return Corrupted("safetensors: tensor " + name + ": shape is not an array");
      auto shape = json_dims(dims);
      if (!shape) return Corrupted("safetensors: tensor " + name + ": shape " + dims.dump() + " holds a dimension that is not a non-negative integer");
      SafetensorsLayout::Entry e{name, std::move(*shape), *begin, *end};
      const auto bytes = float32_bytes(e.shape);
      if (!bytes.ok()) return Corrupted("safetensors: tensor " + name + " has a bad shape");
      if (e.end < e.begin || e.end > data_size) {
        return Corrupted("safetensors: tensor " + name + " byte range [" + std::to_string(e.begin) + ", " +
                         std::to_string(e.end) + ") is outside the " + std::to_string(data_size) + " data bytes");
      }
      if (e.end - e.begin != *bytes) {
        return Corrupted("safetensors: tensor " + name + " holds " + std::to_string(e.end - e.begin) +
                         " bytes, its shape needs " + std::to_string(*bytes));
      }
      out.tensors.push_back(std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      return Corrupted("safetensors: tensor " + name + ": " + ex.what());
    }
  }
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const SafetensorsLayout::Entry& a, const SafetensorsLayout::Entry& b) { return a.begin < b.begin; });
  std::uint64_t expected = 0;
  for (const auto& e : out.tensors) {
    if (e.begin != expected) return Corrupted("safetensors: tensor " + e.name + " overlaps or leaves a gap before it");
    expected = e.end;
  }
  if (expected != data_size) return Corrupted("safetensors: " + std::to_string(data_size - expected) + " trailing bytes");
  return out;
}

Result<SafetensorsFile> decode_safetensors(std::string_view bytes) {
  TESSERA_ASSIGN_OR_RETURN(SafetensorsLayout layout, safetensors_layout(bytes, bytes.size()));
  SafetensorsFile out;
  out.metadata = std::move(layout.metadata);
  const char* data = bytes.data() + layout.data_begin;
  for (auto& e : layout.tensors) {
    auto t = torch::empty(e.shape, torch::kFloat);
    std::memcpy(t.data_ptr<float>(), data + e.begin, e.end - e.begin);
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

Result<SafetensorsFile> decode_safetensors(std::shared_ptr<char[]> bytes, std::uint64_t size) {
  TESSERA_ASSIGN_OR_RETURN(SafetensorsLayout layout, safetensors_layout(std::string_view(bytes.get(), size), size));
  SafetensorsFile out;
  out.metadata = std::move(layout.metadata);
  char* data = bytes.get() + layout.data_begin;
  for (auto& e : layout.tensors) {
    void* at = data + e.begin;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(float) != 0) {
      return Corrupted("safetensors: tensor " + e.name + " is not aligned for float32");
    }
    // A view into the buffer; each tensor holds a reference that keeps the buffer alive.
    auto t = torch::from_blob(at, e.shape, [keep = bytes](void*) {}, torch::TensorOptions().dtype(torch::kFloat));
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

Status write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                         const std::map<std::string, std::string>& metadata) {
  TESSERA_ASSIGN_OR_RETURN(std::string bytes, encode_safetensors(tensors, metadata));
  return write_file_atomic(path, bytes, 0644);
}

Result<SafetensorsFile> read_safetensors(const std::filesystem::path& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  auto r = decode_safetensors(bytes);
  if (!r.ok()) return r.status().with_context(path.string());
  return r;
}

}  // namespace tessera::checkpoints
