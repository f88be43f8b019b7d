// libFuzzer target: arbitrary frames into the submission checks (header decoding,
// signature, registry, window, replay, payload hash). Input layout: byte 0 = frame count
// (1..4), then per frame a 2-byte little-endian length and that many bytes.
#include <cstddef>
#include <cstdint>

#include "core/hash.h"
#include "net/submission.h"

using namespace tessera;

namespace {
net::SubmissionChecker& checker() {
  static Keypair validator = Keypair::from_seed(std::array<std::uint8_t, 32>{1});
  static Keypair miner = Keypair::from_seed(std::array<std::uint8_t, 32>{2});
  static net::SubmissionChecker c([] {
    net::ServerOptions o;
    o.netuid = 1;
    o.max_payload_bytes = 1 << 16;
    o.schedule.blocks_per_window = 10;
    const std::string key = raw_bytes(miner.public_key());
    o.uid_of = [key](const std::string& k) -> std::optional<std::uint32_t> {
      if (k == key) return 0u;
      return std::nullopt;
    };
    o.current_block = [] { return std::uint64_t{5}; };
    return o;
  }(), validator);
  return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::string> frames;
  const std::size_t count = 1 + data[0] % 4;
  std::size_t pos = 1;
  for (std::size_t f = 0; f < count && pos + 2 <= size; ++f) {
    std::size_t len = data[pos] | (static_cast<std::size_t>(data[pos + 1]) << 8);
    pos += 2;
    len = std::min(len, size - pos);
    frames.emplace_back(reinterpret_cast<const char*>(data + pos), len);
    pos += len;
  }
  net::Submission out;
  (void)checker().check(frames, 0, &out);
  return 0;
}
