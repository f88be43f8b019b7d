#include "chain-bridge/substrate/storage.h"

#include <optional>

#include "core/json_fields.h"

namespace tessera::substrate {

Result<Bytes> storage_key(const Metadata& md, std::string_view pallet, std::string_view entry, const json& keys) {
  TESSERA_ASSIGN_OR_RETURN(auto p, md.pallet(pallet));
  TESSERA_ASSIGN_OR_RETURN(auto e, md.storage(pallet, entry));
  const std::string where = "storage " + p->name + "." + e->name;
  if (!keys.is_array()) return InvalidArgument(where + ": keys must be an array");
  Bytes out = storage_prefix(p->storage_prefix, e->name);
  if (keys.size() > e->hashers.size())
    return InvalidArgument(where + " takes " + std::to_string(e->hashers.size()) + " keys, got " + std::to_string(keys.size()));
  if (keys.empty()) return out;
  std::vector<std::uint32_t> key_types = {e->key_type};
  if (e->hashers.size() > 1) {
    const auto& def = md.types[e->key_type].def;
    if (def.kind != TypeDef::Kind::kTuple || def.tuple.size() != e->hashers.size())
      return Corrupted(where + ": its key type is not a tuple of " + std::to_string(e->hashers.size()));
    key_types = def.tuple;
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(auto encoded, encode_value(md, key_types[i], keys[i]));
    Bytes hashed = apply_hasher(e->hashers[i], encoded);
    out.insert(out.end(), hashed.begin(), hashed.end());
  }
  return out;
}

Result<json> decode_storage(const Metadata& md, std::string_view pallet, std::string_view entry, const std::optional<Bytes>& raw) {
  TESSERA_ASSIGN_OR_RETURN(auto e, md.storage(pallet, entry));
  if (!raw) {
    if (e->optional) return json(nullptr);
    return decode_value(md, e->value_type, e->default_value);
  }
  auto v = decode_value(md, e->value_type, *raw);
  if (!v.ok()) return v.status().with_context("decoding storage " + std::string(pallet) + "." + std::string(entry));
  return v;
}

Result<std::vector<EventRecord>> decode_events(const Metadata& md, std::span<const std::uint8_t> bytes) {
  TESSERA_ASSIGN_OR_RETURN(auto records, decode_storage(md, "System", "Events", Bytes(bytes.begin(), bytes.end())));
  std::vector<EventRecord> out;
  if (!records.is_array()) return Corrupted("System.Events is not a sequence");
  // The shapes below come from the runtime's own types; a runtime whose EventRecord
  // differs is reported, not trusted (json accessors throw on a wrong shape).
  try {
  for (const auto& r : records) {
    EventRecord rec;
    const json& phase = r.at("phase");
    if (phase.is_object() && phase.contains("ApplyExtrinsic")) {
      const auto index = json_unsigned<std::uint32_t>(phase["ApplyExtrinsic"]);
      if (!index) return Corrupted("System.Events holds an ApplyExtrinsic phase whose index is not a u32");
      rec.extrinsic = *index;
    }
    const json& event = r.at("event");  // {"Pallet": "Name"} or {"Pallet": {"Name": fields}}
    if (!event.is_object() || event.size() != 1) return Corrupted("System.Events holds an event that is not {pallet: event}");
    rec.pallet = event.begin().key();
    const json& inner = event.begin().value();
    if (inner.is_string()) {
      rec.name = inner.get<std::string>();
    } else if (inner.is_object() && inner.size() == 1) {
      rec.name = inner.begin().key();
      rec.fields = inner.begin().value();
    } else {
      return Corrupted("System.Events holds a " + rec.pallet + " event of unexpected shape");
    }
    out.push_back(std::move(rec));
  }
  } catch (const json::exception& e) {
    return Corrupted(std::string("System.Events records are not {phase, event, topics}: ") + e.what());
  }
  return out;
}

std::string dispatch_error_name(const Metadata& md, const json& error) try {
  if (error.is_string()) return error.get<std::string>();
  if (!error.is_object() || error.size() != 1) return error.dump();
  const std::string& kind = error.begin().key();
  const json& inner = error.begin().value();
  if (kind == "Module" && inner.is_object() && inner.contains("index") && inner.contains("error")) {
    const auto index = json_unsigned<std::uint8_t>(inner["index"]);
    std::optional<std::uint8_t> code;
    if (inner["error"].is_string()) {  // [u8; 4]: the first byte is the error's index
      auto bytes = bytes_from_hex(inner["error"].get<std::string>());
      if (bytes.ok() && !bytes->empty()) code = (*bytes)[0];
    } else {
      code = json_unsigned<std::uint8_t>(inner["error"]);
    }
    if (!index || !code) return "unrecognised module error " + error.dump().substr(0, 200);
    return md.error_name(*index, *code);
  }
  // Token(FundsUnavailable), Arithmetic(Overflow), …
  return kind + (inner.is_null() ? "" : "::" + (inner.is_string() ? inner.get<std::string>() : inner.dump()));
} catch (const json::exception&) {
  return "unrecognised dispatch error " + error.dump().substr(0, 200);
}

Status dispatch_outcome(const Metadata& md, const std::vector<EventRecord>& events, std::uint32_t index) {
  for (const auto& e : events) {
    if (e.extrinsic != index || e.pallet != "System") continue;
    if (e.name == "ExtrinsicSuccess") return Status::Ok();
    if (e.name == "ExtrinsicFailed") {
      const json& err = e.fields.is_object() && e.fields.contains("dispatch_error") ? e.fields["dispatch_error"]
                        : e.fields.is_array() && !e.fields.empty()                  ? e.fields[0]
                                                                                    : e.fields;
      return FailedPrecondition("the runtime refused the call: " + dispatch_error_name(md, err));
    }
  }
  return NotFound("no System.ExtrinsicSuccess or ExtrinsicFailed event for extrinsic " + std::to_string(index));
}

}  // namespace tessera::substrate
