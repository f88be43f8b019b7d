// Runtime metadata V14, V15 and V16 (frame-metadata's layouts): the portable type
// registry, pallets with their calls, events, errors, storage and constants, and the
// signed (transaction) extensions an extrinsic must carry. Everything the client encodes
// is looked up here by name, so the same code serves runtimes whose pallet and call
// indices differ (testfinney's SubtensorModule is pallet 8, today's devnet's is 7).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "chain-bridge/substrate/hashing.h"
#include "chain-bridge/substrate/scale.h"

namespace tessera::substrate {

enum class Primitive : std::uint8_t { kBool, kChar, kStr, kU8, kU16, kU32, kU64, kU128, kU256, kI8, kI16, kI32, kI64, kI128, kI256 };

struct Field {
  std::string name;  // empty for tuple-like fields
  std::uint32_t type = 0;
  std::string type_name;
};

struct Variant {
  std::string name;
  std::vector<Field> fields;
  std::uint8_t index = 0;
};

struct TypeDef {
  enum class Kind : std::uint8_t { kComposite, kVariant, kSequence, kArray, kTuple, kPrimitive, kCompact, kBitSequence };
  Kind kind = Kind::kComposite;
  std::vector<Field> fields;                 // composite
  std::vector<Variant> variants;             // variant
  std::uint32_t element = 0;                 // sequence, array, compact; bit store type
  std::uint32_t length = 0;                  // array
  std::vector<std::uint32_t> tuple;          // tuple
  Primitive primitive = Primitive::kBool;    // primitive
  std::uint32_t bit_order = 0;               // bit sequence
};

struct TypeParam {
  std::string name;
  std::optional<std::uint32_t> type;
};

struct Type {
  std::vector<std::string> path;  // e.g. {"sp_core", "crypto", "AccountId32"}
  std::vector<TypeParam> params;
  TypeDef def;
  std::string path_string() const;  // "sp_core::crypto::AccountId32"
};

struct StorageEntry {
  std::string name;
  bool optional = false;  // modifier Optional: absent reads as None, else as `default_value`
  bool is_map = false;
  std::vector<StorageHasher> hashers;  // one per key part (maps)
  std::uint32_t key_type = 0;          // maps: a tuple type when there are several hashers
  std::uint32_t value_type = 0;
  Bytes default_value;
};

struct Constant {
  std::string name;
  std::uint32_t type = 0;
  Bytes value;
};

struct Pallet {
  std::string name;
  std::uint8_t index = 0;
  std::string storage_prefix;
  std::vector<StorageEntry> storage;
  std::optional<std::uint32_t> calls, events, errors;  // variant types
  std::vector<Constant> constants;
};

// One signed extension: `type` is what the extrinsic carries, `implicit` what only the
// signing payload carries ("additional signed").
struct Extension {
  std::string identifier;
  std::uint32_t type = 0;
  std::uint32_t implicit = 0;
};

class Metadata {
 public:
  std::uint8_t version = 0;
  std::vector<Type> types;  // indexed by type id
  std::vector<Pallet> pallets;
  std::vector<std::uint8_t> extrinsic_versions;
  std::optional<std::uint32_t> address_type, signature_type;
  // The extensions of a version-4 signed extrinsic, in order (V16: extension version 0).
  std::vector<Extension> extensions;

  Result<const Type*> type(std::uint32_t id) const;
  Result<const Pallet*> pallet(std::string_view name) const;
  const Pallet* pallet_by_index(std::uint8_t index) const;
  Result<const Variant*> call(std::string_view pallet, std::string_view call) const;
  Result<const StorageEntry*> storage(std::string_view pallet, std::string_view entry) const;
  Result<const Constant*> constant(std::string_view pallet, std::string_view name) const;
  // "SubtensorModule::SettingWeightsTooFast", or a description of the unknown index.
  std::string error_name(std::uint8_t pallet_index, std::uint8_t error_index) const;
};

// Parses `state_getMetadata`'s bytes ("meta" magic, version byte, body). Versions other
// than 14, 15 and 16 are refused by number; every type id is checked to be in range.
Result<Metadata> parse_metadata(std::span<const std::uint8_t> bytes);

}  // namespace tessera::substrate
