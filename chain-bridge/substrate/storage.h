// Storage keys and values, from the metadata: twox128(pallet) ++ twox128(entry) ++ one
// hashed part per map key (each with its hasher), and values decoded by type, with the
// entry's default when the node has no value.
#pragma once

#include "chain-bridge/substrate/value.h"

namespace tessera::substrate {

// `keys` holds one value per hasher; fewer give the prefix of the entries that share
// them (for paged iteration of a map).
Result<Bytes> storage_key(const Metadata& md, std::string_view pallet, std::string_view entry, const json& keys = json::array());
// `raw` is the node's answer (nullopt: no value stored). Optional entries without a
// value decode to null; default entries to their default.
Result<json> decode_storage(const Metadata& md, std::string_view pallet, std::string_view entry,
                            const std::optional<Bytes>& raw);

// One record of System.Events.
struct EventRecord {
  std::optional<std::uint32_t> extrinsic;  // ApplyExtrinsic(index); nullopt for block hooks
  std::string pallet;
  std::string name;
  json fields;  // the event's fields, shaped as value.h describes
};
Result<std::vector<EventRecord>> decode_events(const Metadata& md, std::span<const std::uint8_t> system_events);

// The outcome of extrinsic `index` of a block: OK when System.ExtrinsicSuccess is among
// its events; the runtime's error by name ("SubtensorModule::HotKeyAccountNotExists") for
// System.ExtrinsicFailed.
Status dispatch_outcome(const Metadata& md, const std::vector<EventRecord>& events, std::uint32_t index);
// The name of a DispatchError value ("Balances::InsufficientBalance", "BadOrigin", …).
std::string dispatch_error_name(const Metadata& md, const json& dispatch_error);

}  // namespace tessera::substrate
