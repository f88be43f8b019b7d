#include "checkpoints/update.h"

#include <cstring>

#include "proto/checkpoint.pb.h"

namespace tessera::checkpoints {

Result<std::string> make_update(const Checkpoint& parent, const NamedTensors& child, const std::string& child_hash) {
  if (parent.tensors.size() != child.size()) return InvalidArgument("update: parent and child hold different tensor lists");
  proto::CheckpointUpdate u;
  u.set_parent(parent.hash);
  u.set_child(child_hash);
  for (std::size_t i = 0; i < child.size(); ++i) {
    const auto& a = parent.tensors[i].second;
    const auto& b = child[i].second;
    if (parent.tensors[i].first != child[i].first || a.sizes() != b.sizes()) {
      return InvalidArgument("update: tensor " + child[i].first + " differs in name or shape");
    }
    const auto* pa = reinterpret_cast<const std::uint32_t*>(a.contiguous().data_ptr<float>());
    const torch::Tensor bc = b.contiguous();
    const auto* pb = reinterpret_cast<const std::uint32_t*>(bc.data_ptr<float>());
    const std::int64_t n = b.numel();
    std::string indices, values;
    std::int64_t changed = 0;
    for (std::int64_t j = 0; j < n; ++j) changed += pa[j] != pb[j];
    if (changed == 0) continue;
    auto* patch = u.add_patches();
    patch->set_param_index(static_cast<std::uint32_t>(i));
    if (changed * 2 > n) {
      patch->set_dense(true);
      patch->set_values(reinterpret_cast<const char*>(pb), static_cast<std::size_t>(n) * 4);
      continue;
    }
    indices.reserve(static_cast<std::size_t>(changed) * 4);
    values.reserve(static_cast<std::size_t>(changed) * 4);
    for (std::int64_t j = 0; j < n; ++j) {
      if (pa[j] == pb[j]) continue;
      const auto idx = static_cast<std::uint32_t>(j);
      indices.append(reinterpret_cast<const char*>(&idx), 4);
      values.append(reinterpret_cast<const char*>(&pb[j]), 4);
    }
    patch->set_indices(std::move(indices));
    patch->set_values(std::move(values));
  }
  return u.SerializeAsString();
}

std::uint64_t max_update_bytes(const NamedTensors& model) {
  std::uint64_t bytes = 2 * 70 + 16;  // parent and child hashes, their tags and lengths
  for (const auto& [name, t] : model) bytes += 4 * static_cast<std::uint64_t>(t.numel()) + 32;  // values + patch framing
  return bytes;
}

Result<NamedTensors> apply_update(const Checkpoint& parent, std::string_view bytes, const std::string& child_hash) {
  proto::CheckpointUpdate u;
  if (!u.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Corrupted("update does not parse");
  if (u.parent() != parent.hash || u.child() != child_hash) return Corrupted("update is not from the held checkpoint to the announced one");
  NamedTensors out;
  for (const auto& [name, t] : parent.tensors) out.emplace_back(name, t.contiguous().clone());
  std::int64_t last = -1;
  for (const auto& p : u.patches()) {
    if (static_cast<std::int64_t>(p.param_index()) <= last || p.param_index() >= out.size()) {
      return Corrupted("update: tensor index " + std::to_string(p.param_index()) + " out of order or range");
    }
    last = p.param_index();
    auto& [name, t] = out[p.param_index()];
    float* dst = t.data_ptr<float>();
    const auto n = static_cast<std::uint64_t>(t.numel());
    if (p.dense()) {
      if (p.values().size() != n * 4 || !p.indices().empty()) return Corrupted("update: dense patch of " + name + " has the wrong size");
      std::memcpy(dst, p.values().data(), n * 4);
      continue;
    }
    if (p.indices().size() % 4 != 0 || p.indices().size() != p.values().size()) {
      return Corrupted("update: patch of " + name + " has mismatched index and value sections");
    }
    const std::size_t count = p.indices().size() / 4;
    std::int64_t prev = -1;
    for (std::size_t k = 0; k < count; ++k) {
      std::uint32_t idx;
      float v;
      std::memcpy(&idx, p.indices().data() + 4 * k, 4);
      std::memcpy(&v, p.values().data() + 4 * k, 4);
      if (static_cast<std::int64_t>(idx) <= prev || idx >= n) return Corrupted("update: patch of " + name + ": index out of order or range");
      prev = idx;
      dst[idx] = v;
    }
  }
  return out;
}

}  // namespace tessera::checkpoints
