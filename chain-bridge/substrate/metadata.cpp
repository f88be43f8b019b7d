#include "chain-bridge/substrate/metadata.h"

namespace tessera::substrate {
namespace {

// Reads one metadata body; `v` is the version (14, 15 or 16).
class Reader {
 public:
  Reader(Decoder& d, int v) : d_(d), v_(v) {}

  Result<std::vector<std::string>> strings(std::string_view what) {
    TESSERA_ASSIGN_OR_RETURN(auto n, d_.length(what));
    std::vector<std::string> out;
    for (std::uint32_t i = 0; i < n; ++i) {
      TESSERA_ASSIGN_OR_RETURN(auto s, d_.str(what));
      out.push_back(std::move(s));
    }
    return out;
  }
  Status skip_docs() { return strings("docs").status(); }
  Result<std::optional<std::string>> opt_string(std::string_view what) {
    TESSERA_ASSIGN_OR_RETURN(bool some, option_tag(what));
    if (!some) return std::optional<std::string>{};
    TESSERA_ASSIGN_OR_RETURN(auto s, d_.str(what));
    return std::optional<std::string>(std::move(s));
  }
  Result<bool> option_tag(std::string_view what) {
    std::size_t at = d_.position();
    TESSERA_ASSIGN_OR_RETURN(auto tag, d_.u8(what));
    if (tag > 1) return Corrupted("metadata: " + std::string(what) + " has option tag " + std::to_string(tag) + " at offset " + std::to_string(at));
    return tag == 1;
  }
  Result<std::uint32_t> type_id(std::string_view what) { return d_.compact_u32(what); }

  Result<std::vector<Field>> fields() {
    TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("fields"));
    std::vector<Field> out;
    for (std::uint32_t i = 0; i < n; ++i) {
      Field f;
      TESSERA_ASSIGN_OR_RETURN(auto name, opt_string("field name"));
      f.name = name.value_or("");
      TESSERA_ASSIGN_OR_RETURN(f.type, type_id("field type"));
      TESSERA_ASSIGN_OR_RETURN(auto type_name, opt_string("field type name"));
      f.type_name = type_name.value_or("");
      TESSERA_RETURN_IF_ERROR(skip_docs());
      out.push_back(std::move(f));
    }
    return out;
  }

  Result<Type> type() {
    Type t;
    TESSERA_ASSIGN_OR_RETURN(t.path, strings("type path"));
    TESSERA_ASSIGN_OR_RETURN(auto np, d_.length("type params"));
    for (std::uint32_t i = 0; i < np; ++i) {
      TypeParam p;
      TESSERA_ASSIGN_OR_RETURN(p.name, d_.str("type param name"));
      TESSERA_ASSIGN_OR_RETURN(bool some, option_tag("type param"));
      if (some) {
        TESSERA_ASSIGN_OR_RETURN(auto id, type_id("type param type"));
        p.type = id;
      }
      t.params.push_back(std::move(p));
    }
    std::size_t at = d_.position();
    TESSERA_ASSIGN_OR_RETURN(auto kind, d_.u8("type def"));
    auto& def = t.def;
    switch (kind) {
      case 0: {
        def.kind = TypeDef::Kind::kComposite;
        TESSERA_ASSIGN_OR_RETURN(def.fields, fields());
        break;
      }
      case 1: {
        def.kind = TypeDef::Kind::kVariant;
        TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("variants"));
        for (std::uint32_t i = 0; i < n; ++i) {
          Variant v;
          TESSERA_ASSIGN_OR_RETURN(v.name, d_.str("variant name"));
          TESSERA_ASSIGN_OR_RETURN(v.fields, fields());
          TESSERA_ASSIGN_OR_RETURN(v.index, d_.u8("variant index"));
          TESSERA_RETURN_IF_ERROR(skip_docs());
          def.variants.push_back(std::move(v));
        }
        break;
      }
      case 2: {
        def.kind = TypeDef::Kind::kSequence;
        TESSERA_ASSIGN_OR_RETURN(def.element, type_id("sequence element"));
        break;
      }
      case 3: {
        def.kind = TypeDef::Kind::kArray;
        TESSERA_ASSIGN_OR_RETURN(def.length, d_.u32("array length"));
        TESSERA_ASSIGN_OR_RETURN(def.element, type_id("array element"));
        break;
      }
      case 4: {
        def.kind = TypeDef::Kind::kTuple;
        TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("tuple"));
        for (std::uint32_t i = 0; i < n; ++i) {
          TESSERA_ASSIGN_OR_RETURN(auto id, type_id("tuple element"));
          def.tuple.push_back(id);
        }
        break;
      }
      case 5: {
        def.kind = TypeDef::Kind::kPrimitive;
        std::size_t pat = d_.position();
        TESSERA_ASSIGN_OR_RETURN(auto p, d_.u8("primitive"));
        if (p > static_cast<std::uint8_t>(Primitive::kI256))
          return Corrupted("metadata: unknown primitive " + std::to_string(p) + " at offset " + std::to_string(pat));
        def.primitive = static_cast<Primitive>(p);
        break;
      }
      case 6: {
        def.kind = TypeDef::Kind::kCompact;
        TESSERA_ASSIGN_OR_RETURN(def.element, type_id("compact element"));
        break;
      }
      case 7: {
        def.kind = TypeDef::Kind::kBitSequence;
        TESSERA_ASSIGN_OR_RETURN(def.element, type_id("bit store"));
        TESSERA_ASSIGN_OR_RETURN(def.bit_order, type_id("bit order"));
        break;
      }
      default:
        return Corrupted("metadata: unknown type definition kind " + std::to_string(kind) + " at offset " + std::to_string(at));
    }
    TESSERA_RETURN_IF_ERROR(skip_docs());
    return t;
  }

  Status registry(Metadata& md) {
    TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("type registry"));
    for (std::uint32_t i = 0; i < n; ++i) {
      TESSERA_ASSIGN_OR_RETURN(auto id, type_id("type id"));
      // scale-info emits ids 0..n-1 in order; anything else is not a registry we can index.
      if (id != i) return Corrupted("metadata: type registry entry " + std::to_string(i) + " has id " + std::to_string(id));
      TESSERA_ASSIGN_OR_RETURN(auto t, type());
      md.types.push_back(std::move(t));
    }
    return Status::Ok();
  }

  Status item_deprecation() {
    if (v_ < 16) return Status::Ok();
    std::size_t at = d_.position();
    TESSERA_ASSIGN_OR_RETURN(auto tag, d_.u8("deprecation info"));
    if (tag == 0 || tag == 1) return Status::Ok();
    if (tag != 2) return Corrupted("metadata: deprecation info tag " + std::to_string(tag) + " at offset " + std::to_string(at));
    TESSERA_RETURN_IF_ERROR(d_.str("deprecation note").status());
    return opt_string("deprecation since").status();
  }
  Status enum_deprecation() {
    if (v_ < 16) return Status::Ok();
    TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("enum deprecation", 2));
    for (std::uint32_t i = 0; i < n; ++i) {
      TESSERA_RETURN_IF_ERROR(d_.u8("deprecated variant").status());
      std::size_t at = d_.position();
      TESSERA_ASSIGN_OR_RETURN(auto tag, d_.u8("variant deprecation"));
      if (tag == 1) continue;
      if (tag != 2) return Corrupted("metadata: variant deprecation tag " + std::to_string(tag) + " at offset " + std::to_string(at));
      TESSERA_RETURN_IF_ERROR(d_.str("deprecation note").status());
      TESSERA_RETURN_IF_ERROR(opt_string("deprecation since").status());
    }
    return Status::Ok();
  }
  Result<std::optional<std::uint32_t>> opt_enum_type(std::string_view what) {
    TESSERA_ASSIGN_OR_RETURN(bool some, option_tag(what));
    if (!some) return std::optional<std::uint32_t>{};
    TESSERA_ASSIGN_OR_RETURN(auto id, type_id(what));
    TESSERA_RETURN_IF_ERROR(enum_deprecation());
    return std::optional<std::uint32_t>(id);
  }
  Status function_params() {
    TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("function params", 2));
    for (std::uint32_t i = 0; i < n; ++i) {
      TESSERA_RETURN_IF_ERROR(d_.str("param name").status());
      TESSERA_RETURN_IF_ERROR(type_id("param type").status());
    }
    return Status::Ok();
  }

  Result<Pallet> pallet() {
    Pallet p;
    TESSERA_ASSIGN_OR_RETURN(p.name, d_.str("pallet name"));
    TESSERA_ASSIGN_OR_RETURN(bool has_storage, option_tag("pallet storage"));
    if (has_storage) {
      TESSERA_ASSIGN_OR_RETURN(p.storage_prefix, d_.str("storage prefix"));
      TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("storage entries"));
      for (std::uint32_t i = 0; i < n; ++i) {
        StorageEntry e;
        TESSERA_ASSIGN_OR_RETURN(e.name, d_.str("storage entry name"));
        TESSERA_ASSIGN_OR_RETURN(auto modifier, d_.u8("storage modifier"));
        if (modifier > 1) return Corrupted("metadata: storage " + p.name + "." + e.name + " has modifier " + std::to_string(modifier));
        e.optional = modifier == 0;
        TESSERA_ASSIGN_OR_RETURN(auto kind, d_.u8("storage entry type"));
        if (kind == 0) {
          TESSERA_ASSIGN_OR_RETURN(e.value_type, type_id("storage value type"));
        } else if (kind == 1) {
          e.is_map = true;
          TESSERA_ASSIGN_OR_RETURN(auto nh, d_.length("storage hashers"));
          for (std::uint32_t h = 0; h < nh; ++h) {
            TESSERA_ASSIGN_OR_RETURN(auto hasher, d_.u8("storage hasher"));
            if (hasher > static_cast<std::uint8_t>(StorageHasher::kIdentity))
              return Corrupted("metadata: storage " + p.name + "." + e.name + " has unknown hasher " + std::to_string(hasher));
            e.hashers.push_back(static_cast<StorageHasher>(hasher));
          }
          TESSERA_ASSIGN_OR_RETURN(e.key_type, type_id("storage key type"));
          TESSERA_ASSIGN_OR_RETURN(e.value_type, type_id("storage value type"));
        } else {
          return Corrupted("metadata: storage " + p.name + "." + e.name + " has entry type " + std::to_string(kind));
        }
        TESSERA_ASSIGN_OR_RETURN(e.default_value, d_.bytes("storage default"));
        TESSERA_RETURN_IF_ERROR(skip_docs());
        TESSERA_RETURN_IF_ERROR(item_deprecation());
        p.storage.push_back(std::move(e));
      }
    }
    TESSERA_ASSIGN_OR_RETURN(p.calls, opt_enum_type("pallet calls"));
    TESSERA_ASSIGN_OR_RETURN(p.events, opt_enum_type("pallet events"));
    TESSERA_ASSIGN_OR_RETURN(auto nc, d_.length("pallet constants"));
    for (std::uint32_t i = 0; i < nc; ++i) {
      Constant c;
      TESSERA_ASSIGN_OR_RETURN(c.name, d_.str("constant name"));
      TESSERA_ASSIGN_OR_RETURN(c.type, type_id("constant type"));
      TESSERA_ASSIGN_OR_RETURN(c.value, d_.bytes("constant value"));
      TESSERA_RETURN_IF_ERROR(skip_docs());
      TESSERA_RETURN_IF_ERROR(item_deprecation());
      p.constants.push_back(std::move(c));
    }
    TESSERA_ASSIGN_OR_RETURN(p.errors, opt_enum_type("pallet errors"));
    if (v_ >= 16) {
      TESSERA_ASSIGN_OR_RETURN(auto na, d_.length("associated types", 2));
      for (std::uint32_t i = 0; i < na; ++i) {
        TESSERA_RETURN_IF_ERROR(d_.str("associated type name").status());
        TESSERA_RETURN_IF_ERROR(type_id("associated type").status());
        TESSERA_RETURN_IF_ERROR(skip_docs());
      }
      TESSERA_ASSIGN_OR_RETURN(auto nv, d_.length("view functions", 34));
      for (std::uint32_t i = 0; i < nv; ++i) {
        TESSERA_RETURN_IF_ERROR(d_.raw(32, "view function id").status());
        TESSERA_RETURN_IF_ERROR(d_.str("view function name").status());
        TESSERA_RETURN_IF_ERROR(function_params());
        TESSERA_RETURN_IF_ERROR(type_id("view function output").status());
        TESSERA_RETURN_IF_ERROR(skip_docs());
        TESSERA_RETURN_IF_ERROR(item_deprecation());
      }
    }
    TESSERA_ASSIGN_OR_RETURN(p.index, d_.u8("pallet index"));
    if (v_ >= 15) TESSERA_RETURN_IF_ERROR(skip_docs());
    if (v_ >= 16) TESSERA_RETURN_IF_ERROR(item_deprecation());
    return p;
  }

  Status extrinsic(Metadata& md) {
    if (v_ == 14) {
      TESSERA_ASSIGN_OR_RETURN(auto ty, type_id("extrinsic type"));
      TESSERA_ASSIGN_OR_RETURN(auto version, d_.u8("extrinsic version"));
      md.extrinsic_versions = {version};
      TESSERA_RETURN_IF_ERROR(extensions(md.extensions));
      // V14 names the address and signature types only as the extrinsic type's parameters.
      if (ty < md.types.size()) {
        for (const auto& p : md.types[ty].params) {
          if (p.name == "Address") md.address_type = p.type;
          if (p.name == "Signature") md.signature_type = p.type;
        }
      }
      return Status::Ok();
    }
    if (v_ == 15) {
      TESSERA_ASSIGN_OR_RETURN(auto version, d_.u8("extrinsic version"));
      md.extrinsic_versions = {version};
      TESSERA_ASSIGN_OR_RETURN(auto address, type_id("address type"));
      TESSERA_RETURN_IF_ERROR(type_id("call type").status());
      TESSERA_ASSIGN_OR_RETURN(auto signature, type_id("signature type"));
      TESSERA_RETURN_IF_ERROR(type_id("extra type").status());
      md.address_type = address;
      md.signature_type = signature;
      return extensions(md.extensions);
    }
    TESSERA_ASSIGN_OR_RETURN(auto versions, d_.bytes("extrinsic versions"));
    md.extrinsic_versions = versions;
    TESSERA_ASSIGN_OR_RETURN(auto address, type_id("address type"));
    TESSERA_RETURN_IF_ERROR(type_id("call type").status());
    TESSERA_ASSIGN_OR_RETURN(auto signature, type_id("signature type"));
    md.address_type = address;
    md.signature_type = signature;
    std::map<std::uint8_t, std::vector<std::uint32_t>> by_version;
    TESSERA_ASSIGN_OR_RETURN(auto nv, d_.length("extensions by version", 2));
    for (std::uint32_t i = 0; i < nv; ++i) {
      TESSERA_ASSIGN_OR_RETURN(auto ext_version, d_.u8("extension version"));
      TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("extension indices"));
      auto& list = by_version[ext_version];
      for (std::uint32_t j = 0; j < n; ++j) {
        TESSERA_ASSIGN_OR_RETURN(auto idx, d_.compact_u32("extension index"));
        list.push_back(idx);
      }
    }
    std::vector<Extension> all;
    TESSERA_RETURN_IF_ERROR(extensions(all));
    // A version-4 extrinsic carries the extensions of extension version 0.
    auto it = by_version.find(0);
    if (it == by_version.end()) return Corrupted("metadata: no transaction extensions for extension version 0");
    for (auto idx : it->second) {
      if (idx >= all.size()) return Corrupted("metadata: transaction extension index " + std::to_string(idx) + " out of range");
      md.extensions.push_back(all[idx]);
    }
    return Status::Ok();
  }

  // The parts after the extrinsic: V14/V15's runtime type, V15+'s runtime APIs, outer
  // enums and custom values. Read (not kept) so that a truncated document is refused.
  Status trailer() {
    if (v_ <= 15) TESSERA_RETURN_IF_ERROR(type_id("runtime type").status());
    if (v_ == 14) return Status::Ok();
    TESSERA_ASSIGN_OR_RETURN(auto napis, d_.length("runtime apis"));
    for (std::uint32_t i = 0; i < napis; ++i) {
      TESSERA_RETURN_IF_ERROR(d_.str("runtime api name").status());
      TESSERA_ASSIGN_OR_RETURN(auto nm, d_.length("runtime api methods"));
      for (std::uint32_t j = 0; j < nm; ++j) {
        TESSERA_RETURN_IF_ERROR(d_.str("runtime api method").status());
        TESSERA_RETURN_IF_ERROR(function_params());
        TESSERA_RETURN_IF_ERROR(type_id("runtime api output").status());
        TESSERA_RETURN_IF_ERROR(skip_docs());
        TESSERA_RETURN_IF_ERROR(item_deprecation());
      }
      TESSERA_RETURN_IF_ERROR(skip_docs());
      if (v_ >= 16) {
        TESSERA_RETURN_IF_ERROR(d_.compact_u32("runtime api version").status());
        TESSERA_RETURN_IF_ERROR(item_deprecation());
      }
    }
    for (const char* e : {"call enum", "event enum", "error enum"}) TESSERA_RETURN_IF_ERROR(type_id(e).status());
    TESSERA_ASSIGN_OR_RETURN(auto ncustom, d_.length("custom values", 3));
    for (std::uint32_t i = 0; i < ncustom; ++i) {
      TESSERA_RETURN_IF_ERROR(d_.str("custom value name").status());
      TESSERA_RETURN_IF_ERROR(type_id("custom value type").status());
      TESSERA_RETURN_IF_ERROR(d_.bytes("custom value").status());
    }
    return Status::Ok();
  }

  Status extensions(std::vector<Extension>& out) {
    TESSERA_ASSIGN_OR_RETURN(auto n, d_.length("signed extensions", 3));
    for (std::uint32_t i = 0; i < n; ++i) {
      Extension e;
      TESSERA_ASSIGN_OR_RETURN(e.identifier, d_.str("extension identifier"));
      TESSERA_ASSIGN_OR_RETURN(e.type, type_id("extension type"));
      TESSERA_ASSIGN_OR_RETURN(e.implicit, type_id("extension implicit type"));
      out.push_back(std::move(e));
    }
    return Status::Ok();
  }

 private:
  Decoder& d_;
  int v_;
};

Status check_type_ids(const Metadata& md) {
  const auto n = md.types.size();
  auto bad = [&](std::uint32_t id, const std::string& where) -> Status {
    return Corrupted("metadata: " + where + " refers to type " + std::to_string(id) + ", past the registry's " + std::to_string(n));
  };
  for (std::size_t i = 0; i < n; ++i) {
    const auto& def = md.types[i].def;
    std::string where = "type " + std::to_string(i);
    for (const auto& f : def.fields)
      if (f.type >= n) return bad(f.type, where);
    for (const auto& v : def.variants)
      for (const auto& f : v.fields)
        if (f.type >= n) return bad(f.type, where);
    for (auto t : def.tuple)
      if (t >= n) return bad(t, where);
    if ((def.kind == TypeDef::Kind::kSequence || def.kind == TypeDef::Kind::kArray || def.kind == TypeDef::Kind::kCompact ||
         def.kind == TypeDef::Kind::kBitSequence) && def.element >= n)
      return bad(def.element, where);
  }
  for (const auto& p : md.pallets) {
    for (auto t : {p.calls, p.events, p.errors})
      if (t && *t >= n) return bad(*t, "pallet " + p.name);
    for (const auto& e : p.storage)
      if (e.key_type >= n || e.value_type >= n) return bad(std::max(e.key_type, e.value_type), "storage " + p.name + "." + e.name);
    for (const auto& c : p.constants)
      if (c.type >= n) return bad(c.type, "constant " + p.name + "." + c.name);
  }
  for (const auto& e : md.extensions)
    if (e.type >= n || e.implicit >= n) return bad(std::max(e.type, e.implicit), "extension " + e.identifier);
  for (auto t : {md.address_type, md.signature_type})
    if (t && *t >= n) return bad(*t, "extrinsic");
  return Status::Ok();
}

}  // namespace

std::string Type::path_string() const {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : "::") + p;
  return out;
}

Result<const Type*> Metadata::type(std::uint32_t id) const {
  if (id >= types.size()) return NotFound("metadata has no type " + std::to_string(id));
  return &types[id];
}

Result<const Pallet*> Metadata::pallet(std::string_view name) const {
  for (const auto& p : pallets)
    if (p.name == name) return &p;
  return NotFound("the runtime has no pallet " + std::string(name));
}

const Pallet* Metadata::pallet_by_index(std::uint8_t index) const {
  for (const auto& p : pallets)
    if (p.index == index) return &p;
  return nullptr;
}

Result<const Variant*> Metadata::call(std::string_view pallet_name, std::string_view call_name) const {
  TESSERA_ASSIGN_OR_RETURN(auto p, pallet(pallet_name));
  if (!p->calls) return NotFound("pallet " + p->name + " has no calls");
  for (const auto& v : types[*p->calls].def.variants)
    if (v.name == call_name) return &v;
  return NotFound("the runtime has no call " + p->name + "." + std::string(call_name));
}

Result<const StorageEntry*> Metadata::storage(std::string_view pallet_name, std::string_view entry) const {
  TESSERA_ASSIGN_OR_RETURN(auto p, pallet(pallet_name));
  for (const auto& e : p->storage)
    if (e.name == entry) return &e;
  return NotFound("the runtime has no storage " + p->name + "." + std::string(entry));
}

Result<const Constant*> Metadata::constant(std::string_view pallet_name, std::string_view name) const {
  TESSERA_ASSIGN_OR_RETURN(auto p, pallet(pallet_name));
  for (const auto& c : p->constants)
    if (c.name == name) return &c;
  return NotFound("the runtime has no constant " + p->name + "." + std::string(name));
}

std::string Metadata::error_name(std::uint8_t pallet_index, std::uint8_t error_index) const {
  const Pallet* p = pallet_by_index(pallet_index);
  if (p == nullptr) return "unknown pallet " + std::to_string(pallet_index) + " error " + std::to_string(error_index);
  if (p->errors)
    for (const auto& v : types[*p->errors].def.variants)
      if (v.index == error_index) return p->name + "::" + v.name;
  return p->name + "::<unknown error " + std::to_string(error_index) + ">";
}

Result<Metadata> parse_metadata(std::span<const std::uint8_t> bytes) {
  Decoder d(bytes);
  TESSERA_ASSIGN_OR_RETURN(auto magic, d.u32("metadata magic"));
  if (magic != 0x6174656d) return Corrupted("not runtime metadata (no \"meta\" magic)");
  TESSERA_ASSIGN_OR_RETURN(auto version, d.u8("metadata version"));
  if (version < 14 || version > 16)
    return FailedPrecondition("runtime metadata V" + std::to_string(version) + " is not supported (V14, V15 and V16 are)");
  Metadata md;
  md.version = version;
  Reader r(d, version);
  TESSERA_RETURN_IF_ERROR(r.registry(md));
  TESSERA_ASSIGN_OR_RETURN(auto np, d.length("pallets"));
  for (std::uint32_t i = 0; i < np; ++i) {
    TESSERA_ASSIGN_OR_RETURN(auto p, r.pallet());
    md.pallets.push_back(std::move(p));
  }
  TESSERA_RETURN_IF_ERROR(r.extrinsic(md));
  TESSERA_RETURN_IF_ERROR(r.trailer());
  TESSERA_RETURN_IF_ERROR(d.expect_end("runtime metadata"));
  TESSERA_RETURN_IF_ERROR(check_type_ids(md));
  return md;
}

}  // namespace tessera::substrate
