#include "aggregator/window.h"

#include "checkpoints/parameters.h"

#include <algorithm>

#include "aggregator/outer.h"
#include "gradients/norm.h"
#include "core/hash.h"
#include "model/config.h"
#include "model/gpt.h"
#include "model/shards.h"

namespace tessera::aggregator {

Result<NextCheckpoint> initial_checkpoint(const RunSpec& spec, std::uint64_t window) {
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  model::GPT gpt = model::make_gpt(config, spec.seed);
  NextCheckpoint out;
  for (const auto& [name, p] : gpt->named_params()) out.tensors.emplace_back(name, p.detach().clone().contiguous());
  out.manifest.run_id = spec.name;
  out.manifest.window = window;
  out.manifest.origin_window = window;
  out.manifest.model = config.describe();
  out.manifest.outer = describe_outer(spec.outer);
  out.manifest.references_per_warmup_rate = true;
  TESSERA_RETURN_IF_ERROR(out.manifest.set_tensors(out.tensors));
  return out;
}


Result<NextCheckpoint> next_checkpoint(const RunSpec& spec, const checkpoints::Checkpoint& base,
                                       std::uint64_t window, const std::vector<checkpoints::AcceptedEntry>& accepted,
                                       const std::vector<const gradients::DecodedDelta*>& deltas) {
  if (window <= base.manifest.window) {
    return InvalidArgument("aggregation: the next checkpoint's window " + std::to_string(window) +
                           " is not after the base's " + std::to_string(base.manifest.window));
  }
  if (accepted.size() != deltas.size()) {
    return InvalidArgument("aggregation: " + std::to_string(accepted.size()) + " verdict entries for " +
                           std::to_string(deltas.size()) + " deltas");
  }
  NextCheckpoint out;
  std::vector<std::string> names;
  std::vector<torch::Tensor> params, momentum;
  for (const auto& [name, t] : base.tensors) {
    if (checkpoints::is_optimizer_state(name)) {
      momentum.push_back(t.clone());
    } else {
      names.push_back(name);
      params.push_back(t.to(torch::kFloat).clone().contiguous());
    }
  }
  if (!momentum.empty() && momentum.size() != params.size()) {
    return Corrupted("checkpoint " + base.hash.substr(0, 16) + "… holds " + std::to_string(momentum.size()) +
                     " momentum buffers for " + std::to_string(params.size()) + " parameters");
  }
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& p : params) shapes.push_back(p.sizes().vec());
  // Per shard when miners train parts of the model: each shard's parts are clipped to
  // that shard's reference and averaged over the miners that trained it, and a shard
  // that no accepted miner trained takes no outer step (its momentum waits too).
  TESSERA_ASSIGN_OR_RETURN(auto grouping, model::parameter_groups(spec.model, names, shapes));
  const gradients::ParamGroups groups{std::move(grouping.first), grouping.second};
  // Clipped to the references of the deltas' window (the base's), in the base's unit.
  const int inner_steps = spec.train.inner_steps;
  const long warmup_steps = spec.train.warmup_steps;
  const std::vector<double> references =
      checkpoints::window_references(base.manifest, groups.count, inner_steps, warmup_steps);
  std::vector<torch::Tensor> grads(params.size());
  out.stats.group_norms.assign(static_cast<std::size_t>(groups.count), {});
  out.stats.group_deltas.assign(static_cast<std::size_t>(groups.count), 0);
  if (!deltas.empty()) {
    TESSERA_ASSIGN_OR_RETURN(grads, gradients::merge_deltas(deltas, shapes, groups, references, &out.stats));
  }
  std::vector<bool> frozen;
  if (!groups.one()) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      frozen.push_back(out.stats.group_deltas[static_cast<std::size_t>(groups.group_of[i])] == 0);
    }
  }
  const std::uint64_t step_index = base.manifest.window - std::min(base.manifest.window, base.manifest.origin_window);
  TESSERA_ASSIGN_OR_RETURN(OuterOptimizer outer, OuterOptimizer::from_spec(spec.outer, step_index));
  if (!momentum.empty()) TESSERA_RETURN_IF_ERROR(outer.restore(momentum, params));
  TESSERA_RETURN_IF_ERROR(outer.step(params, grads, frozen, rescale_factors(spec.outer, grads, out.stats, groups)));
  for (std::size_t i = 0; i < params.size(); ++i) out.tensors.emplace_back(names[i], params[i]);
  const auto& buffers = outer.momentum_buffers();
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].defined()) out.tensors.emplace_back(checkpoints::kMomentumPrefix + names[i], buffers[i].contiguous());
  }
  out.merged = std::move(grads);
  out.manifest.run_id = spec.name;
  out.manifest.window = window;
  out.manifest.origin_window = base.manifest.origin_window;
  out.manifest.parent = base.hash;
  out.manifest.accepted = accepted;
  out.manifest.model = base.manifest.model;
  out.manifest.outer = describe_outer(spec.outer);
  // The next references, in the unit the run stores them in: the merged norms and the
  // references they moved from, both divided by the base window's rate.
  out.manifest.references_per_warmup_rate = base.manifest.references_per_warmup_rate;
  const double unit = checkpoints::reference_unit(base.manifest, inner_steps, warmup_steps);
  auto merged_norms = out.stats.group_norms;
  for (auto& norms : merged_norms) {
    for (double& n : norms) n /= unit;
  }
  checkpoints::set_norm_references(
      &out.manifest,
      gradients::next_norm_references(checkpoints::norm_references(base.manifest, groups.count), merged_norms));
  TESSERA_RETURN_IF_ERROR(out.manifest.set_tensors(out.tensors));
  return out;
}

Status verify_transition(const RunSpec& spec, const checkpoints::Checkpoint& parent, const checkpoints::Checkpoint& child,
                         const std::vector<std::string>& payloads) {
  const std::string at = "checkpoint " + child.hash.substr(0, 16) + "… (window " + std::to_string(child.manifest.window) + "): ";
  if (child.manifest.parent != parent.hash) {
    return Corrupted(at + "its parent is " + child.manifest.parent.substr(0, 16) + "…, not " + parent.hash.substr(0, 16) + "…");
  }
  const auto& accepted = child.manifest.accepted;
  if (payloads.size() != accepted.size()) return InvalidArgument(at + "payload count differs from the accepted list");
  TESSERA_ASSIGN_OR_RETURN(gradients::CodecSettings codec, gradients::CodecSettings::from_spec(spec.codec));
  const auto shapes = checkpoints::parameter_shapes(parent);
  std::vector<gradients::DecodedDelta> decoded;
  decoded.reserve(payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    if (to_hex(blake2b_256(payloads[i])) != accepted[i].payload_hash) {
      return Corrupted(at + "payload of uid " + std::to_string(accepted[i].uid) + " does not match its hash");
    }
    auto d = gradients::decode_delta(payloads[i], shapes, codec);
    if (!d.ok()) return Corrupted(at + "payload of uid " + std::to_string(accepted[i].uid) + ": " + d.status().message());
    decoded.push_back(std::move(*d));
  }
  std::vector<const gradients::DecodedDelta*> deltas;
  for (const auto& d : decoded) deltas.push_back(&d);
  TESSERA_ASSIGN_OR_RETURN(NextCheckpoint next, next_checkpoint(spec, parent, child.manifest.window, accepted, deltas));
  if (next.manifest.tensors.size() != child.manifest.tensors.size()) {
    return Corrupted(at + "recomputed " + std::to_string(next.manifest.tensors.size()) + " tensors, the checkpoint holds " +
                     std::to_string(child.manifest.tensors.size()));
  }
  for (std::size_t i = 0; i < next.manifest.tensors.size(); ++i) {
    if (next.manifest.tensors[i].hash != child.manifest.tensors[i].hash) {
      return Corrupted(at + "tensor " + child.manifest.tensors[i].name + " differs from the recomputed merge");
    }
  }
  if (next.manifest.content_hash() != child.hash) return Corrupted(at + "the recomputed manifest hashes differently");
  return Status::Ok();
}

}  // namespace tessera::aggregator
