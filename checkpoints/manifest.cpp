#include "checkpoints/manifest.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "core/json_fields.h"
#include "core/schedule.h"

namespace tessera::checkpoints {

namespace {
constexpr std::string_view kSignDomain{"tessera-checkpoint/1\0", 21};
// Format 2: tensor hashes are BLAKE3 (format 1 used BLAKE2b for them too).
constexpr const char* kFormat = "tessera-checkpoint/2";
// Manifest::references_per_warmup_rate's value in the JSON.
constexpr const char* kPerWarmupRate = "warmup-rate";

nlohmann::ordered_json canonical_json(const Manifest& m) {
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["run_id"] = m.run_id;
  j["window"] = m.window;
  j["origin_window"] = m.origin_window;
  j["parent"] = m.parent;
  j["model"] = m.model;
  j["outer"] = m.outer;
  j["accepted"] = nlohmann::ordered_json::array();
  for (const auto& a : m.accepted) {
    j["accepted"].push_back({{"uid", a.uid}, {"hotkey", a.hotkey}, {"payload_hash", a.payload_hash}, {"score", a.score}});
  }
  j["tensors"] = nlohmann::ordered_json::array();
  for (const auto& t : m.tensors) j["tensors"].push_back({{"name", t.name}, {"shape", t.shape}, {"hash", t.hash}});
  if (m.norm_reference > 0.0) j["norm_reference"] = m.norm_reference;
  if (!m.shard_norm_references.empty()) j["shard_norm_references"] = m.shard_norm_references;
  if (m.references_per_warmup_rate) j["norm_reference_unit"] = kPerWarmupRate;
  return j;
}

// What the aggregator signs: the domain, then the content hash's 32 bytes (the hash is
// already computed; no second pass over the manifest).
std::string signing_bytes(const std::string& hash_hex) { return std::string(kSignDomain) + from_hex(hash_hex).value(); }
}  // namespace

std::vector<double> norm_references(const Manifest& m, int groups) {
  if (groups <= 1 && m.shard_norm_references.empty()) return {m.norm_reference};
  std::vector<double> out = m.shard_norm_references;
  out.resize(static_cast<std::size_t>(std::max(1, groups)), 0.0);
  return out;
}

void set_norm_references(Manifest* m, const std::vector<double>& references) {
  if (references.size() == 1) {
    m->norm_reference = references[0];
    m->shard_norm_references.clear();
  } else {
    m->norm_reference = 0.0;
    m->shard_norm_references = references;
  }
}

double reference_unit(const Manifest& m, int inner_steps, long warmup_steps) {
  return m.references_per_warmup_rate ? window_warmup_rate(m.window, m.origin_window, inner_steps, warmup_steps) : 1.0;
}

std::vector<double> window_references(const Manifest& m, int groups, int inner_steps, long warmup_steps) {
  std::vector<double> out = norm_references(m, groups);
  const double unit = reference_unit(m, inner_steps, warmup_steps);
  for (double& r : out) r *= unit;
  return out;
}

std::string checkpoint_at(const std::string& hash) { return "checkpoint " + hash.substr(0, 16) + "…: "; }

void Manifest::sign(const Keypair& key) {
  signer = key.public_hex();
  signature = to_hex(key.sign(signing_bytes(content_hash())));
}

bool is_checkpoint_hash(const std::string& h) {
  return h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string Manifest::canonical() const { return canonical_json(*this).dump(); }

std::string Manifest::content_hash() const { return to_hex(blake2b_256(canonical())); }

std::string Manifest::to_json() const {
  auto j = canonical_json(*this);
  j["signer"] = signer;
  j["signature"] = signature;
  return j.dump(2);
}

Result<Manifest> Manifest::from_json(const std::string& text) {
  Manifest m;
  // JSON never holds a raw NUL; refusing one keeps the parser from stopping early at it.
  if (text.find('\0') != std::string::npos) return Corrupted("manifest: contains a NUL byte");
  try {
    const auto j = nlohmann::json::parse(text);
    const auto format = j.at("format").get<std::string>();
    if (format == "tessera-checkpoint/1") {
      return Corrupted("manifest: format tessera-checkpoint/1 (BLAKE2b tensor hashes) is no longer read; this "
                       "tessera writes and reads tessera-checkpoint/2 (BLAKE3 tensor hashes)");
    }
    if (format != kFormat) return Corrupted("manifest: unknown format '" + format + "'");
    m.run_id = j.at("run_id").get<std::string>();
    for (auto [name, field] : {std::pair{"window", &m.window}, std::pair{"origin_window", &m.origin_window}}) {
      const auto v = json_unsigned<std::uint64_t>(j.at(name));
      if (!v) return Corrupted(std::string("manifest: ") + name + " is not an unsigned 64-bit integer");
      *field = *v;
    }
    m.parent = j.at("parent").get<std::string>();
    m.model = j.at("model").get<std::string>();
    m.outer = j.at("outer").get<std::string>();
    for (const auto& a : j.at("accepted")) {
      const auto uid = json_unsigned<std::uint32_t>(a.at("uid"));
      if (!uid) return Corrupted("manifest: an accepted entry's uid is not an unsigned 32-bit integer");
      m.accepted.push_back({*uid, a.at("hotkey").get<std::string>(), a.at("payload_hash").get<std::string>(),
                            a.at("score").get<double>()});
    }
    for (const auto& t : j.at("tensors")) {
      if (!t.at("shape").is_array()) return Corrupted("manifest: a tensor shape is not an array");
      auto shape = json_dims(t.at("shape"));
      if (!shape) return Corrupted("manifest: a tensor dimension is not a non-negative 64-bit integer");
      m.tensors.push_back({t.at("name").get<std::string>(), std::move(*shape), t.at("hash").get<std::string>()});
    }
    if (j.contains("norm_reference")) {
      m.norm_reference = j.at("norm_reference").get<double>();
      if (!std::isfinite(m.norm_reference) || !(m.norm_reference > 0.0)) {
        return Corrupted("manifest: norm_reference must be a positive finite number");
      }
    }
    if (j.contains("shard_norm_references")) {
      m.shard_norm_references = j.at("shard_norm_references").get<std::vector<double>>();
      if (m.shard_norm_references.size() > 1024) return Corrupted("manifest: more than 1024 shard norm references");
      for (double r : m.shard_norm_references) {
        if (!std::isfinite(r) || r < 0.0) return Corrupted("manifest: a shard norm reference must be a finite number >= 0");
      }
    }
    if (j.contains("norm_reference_unit")) {
      if (j.at("norm_reference_unit").get<std::string>() != kPerWarmupRate) {
        return Corrupted("manifest: norm_reference_unit must be \"" + std::string(kPerWarmupRate) + "\"");
      }
      m.references_per_warmup_rate = true;
    }
    m.signer = j.at("signer").get<std::string>();
    m.signature = j.at("signature").get<std::string>();
  } catch (const std::exception& e) {
    return Corrupted(std::string("manifest: ") + e.what());
  }
  return m;
}

Status verify_manifest(const Manifest& m, const std::string& hash, const std::string& expected_signer) {
  const std::string at = checkpoint_at(hash);
  if (m.content_hash() != hash) return Corrupted(at + "manifest does not hash to its name");
  if (!expected_signer.empty() && m.signer != expected_signer) {
    return PermissionDenied(at + "signed by " + m.signer.substr(0, 16) + "…, but the chain says " +
                            expected_signer.substr(0, 16) + "… announced it");
  }
  TESSERA_ASSIGN_OR_RETURN(PublicKey signer, public_key_from_hex(m.signer));
  TESSERA_ASSIGN_OR_RETURN(std::string sig_raw, from_hex(m.signature));
  if (sig_raw.size() != 64) return Corrupted(at + "bad signature length");
  Signature sig;
  std::copy(sig_raw.begin(), sig_raw.end(), sig.begin());
  if (!verify_signature(signer, signing_bytes(hash), sig)) {
    return Corrupted(at + "signature does not verify");
  }
  return Status::Ok();
}

}  // namespace tessera::checkpoints
