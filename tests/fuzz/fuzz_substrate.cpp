// libFuzzer target: what a hostile or broken subtensor node can send the substrate layer.
// The first byte picks the runtime (testfinney V14 or devnet V16 metadata, loaded once)
// and the mode: arbitrary bytes as System.Events, as a value of a chosen registry type
// (the next two bytes pick it), or as runtime metadata itself. Decoders must return an
// error or a value; a value must re-encode (where the type allows) to bytes that decode
// to the same value.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>

#include "chain-bridge/substrate/storage.h"

using namespace tessera::substrate;

namespace {
Metadata load(const char* name) {
  std::ifstream f(std::string(TESSERA_SOURCE_DIR) + "/tests/data/subtensor/" + name, std::ios::binary);
  Bytes b((std::istreambuf_iterator<char>(f)), {});
  auto md = parse_metadata(b);
  if (!md.ok()) __builtin_trap();
  return std::move(*md);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Metadata runtimes[] = {load("testfinney-metadata.scale"), load("devnet-metadata.scale")};
  if (size < 3) return 0;
  const Metadata& md = runtimes[data[0] & 1];
  const int mode = (data[0] >> 1) % 3;
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  if (mode == 0) {
    auto events = decode_events(md, rest);
    if (events.ok())
      for (std::uint32_t i = 0; i < 4; ++i) (void)dispatch_outcome(md, *events, i);
  } else if (mode == 1) {
    const std::uint32_t type = (static_cast<std::uint32_t>(rest[0]) | (static_cast<std::uint32_t>(rest[1]) << 8)) % md.types.size();
    auto value = decode_value(md, type, rest.subspan(2));
    if (value.ok()) {
      auto again = encode_value(md, type, *value);
      if (again.ok()) {
        auto back = decode_value(md, type, *again);
        if (!back.ok() || *back != *value) __builtin_trap();  // what decodes must round-trip
      }
    }
  } else {
    (void)parse_metadata(rest);
  }
  return 0;
}
