#include "tests/fuzz/submission_harness.h"

#include "core/hash.h"
#include "net/submission.h"

namespace tessera::fuzz {
namespace {

const Keypair& test_miner() {
  static const Keypair miner = Keypair::from_seed(std::array<std::uint8_t, 32>{2});
  return miner;
}

const Keypair& test_validator() {
  static const Keypair validator = Keypair::from_seed(std::array<std::uint8_t, 32>{1});
  return validator;
}

net::SubmissionChecker& checker() {
  static net::SubmissionChecker c([] {
    net::ServerOptions o;
    o.max_per_hotkey_per_window = 1u << 30;  // so that inputs get past the rate limit
    o.netuid = 1;
    o.max_payload_bytes = 1 << 16;
    o.schedule.blocks_per_window = 10;
    const std::string key = raw_bytes(test_miner().public_key());
    o.uid_of = [key](const std::string& k) -> std::optional<std::uint32_t> {
      if (k == key) return 0u;
      return std::nullopt;
    };
    o.current_block = [] { return std::uint64_t{5}; };
    return o;
  }(), test_validator());
  return c;
}

}  // namespace

proto::Reply check_submission_input(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return {};
  std::vector<std::string> frames;
  const std::size_t count = 1 + (data[0] & 3);
  std::size_t pos = 1;
  for (std::size_t f = 0; f < count && pos + 2 <= size; ++f) {
    std::size_t len = data[pos] | (static_cast<std::size_t>(data[pos + 1]) << 8);
    pos += 2;
    len = std::min(len, size - pos);
    frames.emplace_back(reinterpret_cast<const char*>(data + pos), len);
    pos += len;
  }
  if ((data[0] & 4) != 0 && !frames.empty()) {
    proto::SubmissionHeader header;
    (void)header.ParseFromString(frames[0]);  // a partial parse still yields fuzzed fields
    header.set_hotkey(raw_bytes(test_miner().public_key()));
    header.set_version(2);
    if ((data[0] & 16) == 0) header.set_validator(raw_bytes(test_validator().public_key()));
    if ((data[0] & 8) != 0 && frames.size() >= 2) {
      header.set_payload_hash(raw_bytes(blake2b_256(frames[1])));
      header.set_payload_size(frames[1].size());
    }
    frames[0] = net::sign_header(header, test_miner());
  }
  net::Submission out;
  if ((data[0] & 4) != 0 && frames.size() == 2) {  // signed deliveries are committed first
    proto::Reply committed = checker().check({frames[0]}, {}, &out);
    if (!committed.accepted()) return committed;
  }
  return checker().check(frames, {}, &out);
}

}  // namespace tessera::fuzz
