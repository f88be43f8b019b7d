// Values of any type in a runtime's registry, as JSON, encoded and decoded by type id.
//
// The JSON shape (close to polkadot-js's toJSON, so test vectors compare directly):
//   bool → true/false; integers → numbers, or decimal strings past 64 bits;
//   str/char → string; u8 sequences and arrays → "0x…" hex (AccountId32, hashes, names);
//   composites → {field: value}, a one-field unnamed composite → its field (newtypes),
//   other unnamed composites and tuples → arrays, empty ones → null;
//   Option → null or the value; other variants → "Name" (no fields) or {"Name": fields};
//   compact → the number; bit sequences (decode only) → "0101…", first bit first.
// Encoding accepts the same shapes (and decimal strings for any integer). Every error
// names the type path and field where it occurred; decoding is bounded in depth and
// never allocates more than the input can hold.
#pragma once

#include <nlohmann/json.hpp>

#include "chain-bridge/substrate/metadata.h"

namespace tessera::substrate {

using json = nlohmann::json;

Status encode_value(const Metadata& md, std::uint32_t type, const json& value, Encoder& out);
Result<Bytes> encode_value(const Metadata& md, std::uint32_t type, const json& value);
Result<json> decode_value(const Metadata& md, std::uint32_t type, Decoder& in);
// Decodes exactly: trailing bytes are an error.
Result<json> decode_value(const Metadata& md, std::uint32_t type, std::span<const std::uint8_t> bytes);
// True when every value of the type encodes to zero bytes (PhantomData, (), empty structs).
bool zero_sized(const Metadata& md, std::uint32_t type);

}  // namespace tessera::substrate
