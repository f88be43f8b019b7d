#include "chain-bridge/substrate/value.h"

namespace tessera::substrate {
namespace {

constexpr int kMaxDepth = 64;

bool is_u8(const Metadata& md, std::uint32_t id) {
  const auto& d = md.types[id].def;
  return d.kind == TypeDef::Kind::kPrimitive && d.primitive == Primitive::kU8;
}

bool is_option(const Type& t) { return t.path.size() == 1 && t.path[0] == "Option" && t.def.kind == TypeDef::Kind::kVariant; }

int width_of(Primitive p) {
  switch (p) {
    case Primitive::kU8: case Primitive::kI8: return 1;
    case Primitive::kU16: case Primitive::kI16: return 2;
    case Primitive::kU32: case Primitive::kI32: case Primitive::kChar: return 4;
    case Primitive::kU64: case Primitive::kI64: return 8;
    case Primitive::kU128: case Primitive::kI128: return 16;
    case Primitive::kU256: case Primitive::kI256: return 32;
    default: return 0;
  }
}
bool is_signed(Primitive p) {
  return p == Primitive::kI8 || p == Primitive::kI16 || p == Primitive::kI32 || p == Primitive::kI64 ||
         p == Primitive::kI128 || p == Primitive::kI256;
}

json number_json(u128 v) {
  if (v <= std::numeric_limits<std::uint64_t>::max()) return static_cast<std::uint64_t>(v);
  return u128_to_string(v);
}

class Codec {
 public:
  explicit Codec(const Metadata& md) : md_(md) {}

  Status encode(std::uint32_t id, const json& v, Encoder& out, int depth) {
    if (depth > kMaxDepth) return InvalidArgument("value nests deeper than " + std::to_string(kMaxDepth) + " types");
    const Type& t = md_.types[id];
    const TypeDef& d = t.def;
    auto fail = [&](const std::string& why) {
      std::string name = t.path.empty() ? "type " + std::to_string(id) : t.path_string();
      return InvalidArgument("cannot encode " + v.dump().substr(0, 80) + " as " + name + ": " + why);
    };
    switch (d.kind) {
      case TypeDef::Kind::kPrimitive: return encode_primitive(d.primitive, v, out, fail);
      case TypeDef::Kind::kCompact: {
        TESSERA_ASSIGN_OR_RETURN(auto n, unsigned_of(v, 128, fail));
        out.compact(n);
        return Status::Ok();
      }
      case TypeDef::Kind::kSequence:
      case TypeDef::Kind::kArray: {
        bool array = d.kind == TypeDef::Kind::kArray;
        if (is_u8(md_, d.element) && v.is_string()) {
          auto bytes = bytes_from_hex(v.get<std::string>());
          if (!bytes.ok()) return fail(bytes.status().message());
          if (array && bytes->size() != d.length) return fail("needs " + std::to_string(d.length) + " bytes, got " + std::to_string(bytes->size()));
          if (!array) out.compact(bytes->size());
          out.raw(*bytes);
          return Status::Ok();
        }
        if (!v.is_array()) return fail("expected an array");
        if (array && v.size() != d.length) return fail("needs " + std::to_string(d.length) + " elements, got " + std::to_string(v.size()));
        if (!array) out.compact(v.size());
        for (const auto& e : v) TESSERA_RETURN_IF_ERROR(encode(d.element, e, out, depth + 1));
        return Status::Ok();
      }
      case TypeDef::Kind::kTuple: {
        if (d.tuple.empty()) return Status::Ok();
        if (d.tuple.size() == 1) return encode(d.tuple[0], v, out, depth + 1);
        if (!v.is_array() || v.size() != d.tuple.size()) return fail("expected an array of " + std::to_string(d.tuple.size()));
        for (std::size_t i = 0; i < d.tuple.size(); ++i) TESSERA_RETURN_IF_ERROR(encode(d.tuple[i], v[i], out, depth + 1));
        return Status::Ok();
      }
      case TypeDef::Kind::kComposite: return encode_fields(d.fields, v, out, depth, fail);
      case TypeDef::Kind::kVariant: {
        if (is_option(t) && !(v.is_object() && v.size() == 1 && (v.contains("Some") || v.contains("None")))) {
          if (v.is_null() || v == "None") {
            out.u8(0);
            return Status::Ok();
          }
          out.u8(1);
          return encode(d.variants.at(1).fields.at(0).type, v, out, depth + 1);
        }
        std::string name;
        const json* inner = nullptr;
        static const json kNull;
        if (v.is_string()) {
          name = v.get<std::string>();
          inner = &kNull;
        } else if (v.is_object() && v.size() == 1) {
          name = v.begin().key();
          inner = &v.begin().value();
        } else {
          return fail("expected \"Variant\" or {\"Variant\": fields}");
        }
        for (const auto& var : d.variants) {
          if (var.name != name) continue;
          out.u8(var.index);
          return encode_fields(var.fields, *inner, out, depth, fail);
        }
        std::string known;
        for (const auto& var : d.variants) known += (known.empty() ? "" : ", ") + var.name;
        return fail("no variant '" + name + "' (has " + known.substr(0, 300) + ")");
      }
      case TypeDef::Kind::kBitSequence: return fail("encoding bit sequences is not supported");
    }
    return fail("unknown type kind");
  }

  template <typename Fail>
  Status encode_fields(const std::vector<Field>& fields, const json& v, Encoder& out, int depth, Fail& fail) {
    if (fields.empty()) {
      if (!v.is_null() && !(v.is_array() && v.empty()) && !(v.is_object() && v.empty())) return fail("expected no value");
      return Status::Ok();
    }
    bool named = !fields[0].name.empty();
    if (!named && fields.size() == 1) return encode(fields[0].type, v, out, depth + 1);
    if (named && v.is_object()) {
      for (const auto& f : fields) {
        auto it = v.find(f.name);
        if (it == v.end()) return fail("missing field '" + f.name + "'");
        TESSERA_RETURN_IF_ERROR(encode(f.type, *it, out, depth + 1).with_context("field " + f.name));
      }
      if (v.size() != fields.size()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
          bool known = false;
          for (const auto& f : fields) known = known || f.name == it.key();
          if (!known) return fail("unknown field '" + it.key() + "'");
        }
      }
      return Status::Ok();
    }
    if (!v.is_array() || v.size() != fields.size())
      return fail(named ? "expected an object with its fields" : "expected an array of " + std::to_string(fields.size()));
    for (std::size_t i = 0; i < fields.size(); ++i) TESSERA_RETURN_IF_ERROR(encode(fields[i].type, v[i], out, depth + 1));
    return Status::Ok();
  }

  template <typename Fail>
  Result<u128> unsigned_of(const json& v, int bits, Fail& fail) {
    u128 n = 0;
    if (v.is_number_unsigned()) {
      n = v.get<std::uint64_t>();
    } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
      n = static_cast<u128>(v.get<std::int64_t>());
    } else if (v.is_string()) {
      auto parsed = u128_from_string(v.get<std::string>());
      if (!parsed.ok()) return fail(parsed.status().message());
      n = *parsed;
    } else {
      return fail("expected a non-negative integer");
    }
    if (bits < 128 && (n >> bits) != 0) return fail("does not fit in " + std::to_string(bits) + " bits");
    return n;
  }

  template <typename Fail>
  Status encode_primitive(Primitive p, const json& v, Encoder& out, Fail& fail) {
    switch (p) {
      case Primitive::kBool:
        if (!v.is_boolean()) return fail("expected true or false");
        out.boolean(v.get<bool>());
        return Status::Ok();
      case Primitive::kStr:
        if (!v.is_string()) return fail("expected a string");
        out.str(v.get<std::string>());
        return Status::Ok();
      case Primitive::kChar: {
        if (!v.is_string() || v.get<std::string>().size() != 1) return fail("expected a one-character string");
        out.u32(static_cast<unsigned char>(v.get<std::string>()[0]));
        return Status::Ok();
      }
      default: break;
    }
    int width = width_of(p);
    if (is_signed(p)) {
      if (!v.is_number_integer()) return fail("expected an integer");
      std::int64_t n = v.get<std::int64_t>();
      if (width < 8) {
        std::int64_t lim = std::int64_t{1} << (8 * width - 1);
        if (n < -lim || n >= lim) return fail("out of range for " + std::to_string(8 * width) + " bits");
      }
      // Two's complement, sign-extended to the width.
      u128 bitsv = static_cast<u128>(static_cast<__int128>(n));
      out.fixed_le(bitsv, std::min(width, 16));
      for (int i = 16; i < width; ++i) out.u8(n < 0 ? 0xff : 0);
      return Status::Ok();
    }
    TESSERA_ASSIGN_OR_RETURN(auto n, unsigned_of(v, std::min(8 * width, 128), fail));
    out.fixed_le(n, std::min(width, 16));
    for (int i = 16; i < width; ++i) out.u8(0);
    return Status::Ok();
  }

  Result<json> decode(std::uint32_t id, Decoder& in, int depth) {
    if (depth > kMaxDepth) return Corrupted("value nests deeper than " + std::to_string(kMaxDepth) + " types");
    const Type& t = md_.types[id];
    const TypeDef& d = t.def;
    const std::string what = t.path.empty() ? "type " + std::to_string(id) : t.path_string();
    switch (d.kind) {
      case TypeDef::Kind::kPrimitive: return decode_primitive(d.primitive, in, what);
      case TypeDef::Kind::kCompact: {
        TESSERA_ASSIGN_OR_RETURN(auto n, in.compact(what));
        return number_json(n);
      }
      case TypeDef::Kind::kSequence:
      case TypeDef::Kind::kArray: {
        std::uint32_t n = d.length;
        if (d.kind == TypeDef::Kind::kSequence) {
          TESSERA_ASSIGN_OR_RETURN(n, in.length(what));
        } else if (n > (1u << 20) || (n > in.remaining() && !zero_sized(md_, d.element))) {
          return Corrupted("SCALE: " + what + " array of " + std::to_string(n) + " needs more than the " +
                           std::to_string(in.remaining()) + " bytes left");
        }
        if (is_u8(md_, d.element)) {
          TESSERA_ASSIGN_OR_RETURN(auto b, in.raw(n, what));
          return json(hex_of(b));
        }
        json arr = json::array();
        for (std::uint32_t i = 0; i < n; ++i) {
          TESSERA_ASSIGN_OR_RETURN(auto e, decode(d.element, in, depth + 1));
          arr.push_back(std::move(e));
        }
        return arr;
      }
      case TypeDef::Kind::kTuple: {
        if (d.tuple.empty()) return json(nullptr);
        if (d.tuple.size() == 1) return decode(d.tuple[0], in, depth + 1);
        json arr = json::array();
        for (auto e : d.tuple) {
          TESSERA_ASSIGN_OR_RETURN(auto v, decode(e, in, depth + 1));
          arr.push_back(std::move(v));
        }
        return arr;
      }
      case TypeDef::Kind::kComposite: return decode_fields(d.fields, in, depth);
      case TypeDef::Kind::kVariant: {
        std::size_t at = in.position();
        TESSERA_ASSIGN_OR_RETURN(auto index, in.u8(what));
        for (const auto& var : d.variants) {
          if (var.index != index) continue;
          TESSERA_ASSIGN_OR_RETURN(auto inner, decode_fields(var.fields, in, depth));
          if (is_option(t)) return inner;
          if (var.fields.empty()) return json(var.name);
          return json{{var.name, std::move(inner)}};
        }
        return Corrupted("SCALE: " + what + " has no variant " + std::to_string(index) + " (offset " + std::to_string(at) + ")");
      }
      case TypeDef::Kind::kBitSequence: {
        const auto& store = md_.types[d.element].def;
        int store_bits = store.kind == TypeDef::Kind::kPrimitive ? 8 * width_of(store.primitive) : 0;
        if (store_bits == 0 || store_bits > 64) return Corrupted("SCALE: " + what + " has an unsupported bit store");
        bool msb = !md_.types[d.bit_order].path.empty() && md_.types[d.bit_order].path.back() == "Msb0";
        TESSERA_ASSIGN_OR_RETURN(auto bits, in.compact_u32(what));
        std::size_t words = (static_cast<std::size_t>(bits) + store_bits - 1) / store_bits;
        TESSERA_ASSIGN_OR_RETURN(auto raw, in.raw(words * static_cast<std::size_t>(store_bits / 8), what));
        std::string s;
        for (std::uint32_t i = 0; i < bits; ++i) {
          std::size_t word = i / store_bits, bit = i % store_bits;
          std::uint64_t w = 0;
          for (int b = store_bits / 8 - 1; b >= 0; --b) w = (w << 8) | raw[word * (store_bits / 8) + static_cast<std::size_t>(b)];
          std::size_t pos = msb ? static_cast<std::size_t>(store_bits) - 1 - bit : bit;
          s.push_back(((w >> pos) & 1) ? '1' : '0');
        }
        return json(s);
      }
    }
    return Corrupted("SCALE: unknown type kind for " + what);
  }

  Result<json> decode_fields(const std::vector<Field>& fields, Decoder& in, int depth) {
    if (fields.empty()) return json(nullptr);
    bool named = !fields[0].name.empty();
    if (!named && fields.size() == 1) return decode(fields[0].type, in, depth + 1);
    json out = named ? json::object() : json::array();
    for (const auto& f : fields) {
      TESSERA_ASSIGN_OR_RETURN(auto v, decode(f.type, in, depth + 1));
      if (named) out[f.name] = std::move(v);
      else out.push_back(std::move(v));
    }
    return out;
  }

  Result<json> decode_primitive(Primitive p, Decoder& in, const std::string& what) {
    switch (p) {
      case Primitive::kBool: {
        TESSERA_ASSIGN_OR_RETURN(auto b, in.boolean(what));
        return json(b);
      }
      case Primitive::kStr: {
        TESSERA_ASSIGN_OR_RETURN(auto s, in.str(what));
        return json(s);
      }
      case Primitive::kChar: {
        TESSERA_ASSIGN_OR_RETURN(auto c, in.u32(what));
        if (c > 127) return json(std::to_string(c));
        return json(std::string(1, static_cast<char>(c)));
      }
      default: break;
    }
    int width = width_of(p);
    TESSERA_ASSIGN_OR_RETURN(auto low, in.fixed_le(std::min(width, 16), what));
    if (width == 32) {
      TESSERA_ASSIGN_OR_RETURN(auto high, in.fixed_le(16, what));
      if (high != 0 && !is_signed(p)) return json("0x" + hex_of(Encoder().fixed_le(high, 16).data(), false) + hex_of(Encoder().fixed_le(low, 16).data(), false));
    }
    if (!is_signed(p)) return number_json(low);
    int bits = 8 * std::min(width, 16);
    __int128 s = static_cast<__int128>(low);
    if (bits < 128 && ((low >> (bits - 1)) & 1)) s -= static_cast<__int128>(static_cast<u128>(1) << bits);
    if (s >= std::numeric_limits<std::int64_t>::min() && s <= std::numeric_limits<std::int64_t>::max())
      return json(static_cast<std::int64_t>(s));
    return json((s < 0 ? "-" : "") + u128_to_string(s < 0 ? static_cast<u128>(-s) : static_cast<u128>(s)));
  }

 private:
  const Metadata& md_;
};

bool zero_sized_at(const Metadata& md, std::uint32_t id, int depth) {
  if (depth > kMaxDepth || id >= md.types.size()) return false;
  const auto& d = md.types[id].def;
  switch (d.kind) {
    case TypeDef::Kind::kComposite:
      for (const auto& f : d.fields)
        if (!zero_sized_at(md, f.type, depth + 1)) return false;
      return true;
    case TypeDef::Kind::kTuple:
      for (auto e : d.tuple)
        if (!zero_sized_at(md, e, depth + 1)) return false;
      return true;
    case TypeDef::Kind::kArray: return d.length == 0 || zero_sized_at(md, d.element, depth + 1);
    default: return false;
  }
}

}  // namespace

bool zero_sized(const Metadata& md, std::uint32_t type) { return zero_sized_at(md, type, 0); }

Status encode_value(const Metadata& md, std::uint32_t type, const json& value, Encoder& out) {
  if (type >= md.types.size()) return InvalidArgument("no type " + std::to_string(type) + " in the metadata");
  return Codec(md).encode(type, value, out, 0);
}

Result<Bytes> encode_value(const Metadata& md, std::uint32_t type, const json& value) {
  Encoder out;
  TESSERA_RETURN_IF_ERROR(encode_value(md, type, value, out));
  return out.take();
}

Result<json> decode_value(const Metadata& md, std::uint32_t type, Decoder& in) {
  if (type >= md.types.size()) return InvalidArgument("no type " + std::to_string(type) + " in the metadata");
  return Codec(md).decode(type, in, 0);
}

Result<json> decode_value(const Metadata& md, std::uint32_t type, std::span<const std::uint8_t> bytes) {
  Decoder in(bytes);
  TESSERA_ASSIGN_OR_RETURN(auto v, decode_value(md, type, in));
  TESSERA_RETURN_IF_ERROR(in.expect_end(md.types[type].path_string().empty() ? "value" : md.types[type].path_string()));
  return v;
}

}  // namespace tessera::substrate
