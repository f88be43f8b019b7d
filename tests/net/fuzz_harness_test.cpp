// The submission fuzz harness (tests/fuzz/submission_harness.h) reaches what its comment
// claims: raw inputs stop at the header and signature checks, signed inputs reach every
// later check, and a well-formed signed input is accepted.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/fuzz/submission_harness.h"

namespace tessera::fuzz {
namespace {

// Byte 0, then each frame as a 2-byte little-endian length and its bytes.
std::vector<std::uint8_t> input(std::uint8_t mode, const std::vector<std::string>& frames) {
  std::vector<std::uint8_t> out{mode};
  for (const auto& f : frames) {
    out.push_back(static_cast<std::uint8_t>(f.size() & 0xff));
    out.push_back(static_cast<std::uint8_t>(f.size() >> 8));
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

proto::RejectCode code(std::uint8_t mode, const proto::SubmissionHeader& header, const std::string& payload) {
  const auto in = input(mode, {header.SerializeAsString(), payload});
  const proto::Reply r = check_submission_input(in.data(), in.size());
  return r.accepted() ? proto::REJECT_NONE : r.code();
}

TEST(FuzzHarness, SignedModeReachesEveryCheckAfterTheSignature) {
  proto::SubmissionHeader h;
  h.set_netuid(1);
  h.set_window(0);
  h.set_uid(0);
  h.set_nonce(9);
  h.set_codec("int2-k32");
  // Raw, 2 frames: the header frame is not a SignedHeader.
  EXPECT_EQ(code(1, h, "payload"), proto::REJECT_MALFORMED_HEADER);
  // Signed for another validator: refused at the commitment.
  EXPECT_EQ(code(1 | 4 | 16, h, "payload"), proto::REJECT_WRONG_VALIDATOR);
  // Signed, 2 frames, payload fields not matched: committed, then stops at the payload check.
  EXPECT_EQ(code(1 | 4, h, "payload"), proto::REJECT_PAYLOAD_MISMATCH);
  h.set_nonce(10);
  // Signed, payload matched: accepted; the same nonce again is a replay.
  EXPECT_EQ(code(1 | 4 | 8, h, "payload"), proto::REJECT_NONE);
  EXPECT_EQ(code(1 | 4 | 8, h, "payload"), proto::REJECT_REPLAY);
  h.set_nonce(11);
  h.set_window(7);
  EXPECT_EQ(code(1 | 4 | 8, h, "payload"), proto::REJECT_WRONG_WINDOW);
  h.set_window(0);
  h.set_netuid(2);
  EXPECT_EQ(code(1 | 4 | 8, h, "payload"), proto::REJECT_WRONG_SUBNET);
  h.set_netuid(1);
  h.set_uid(3);
  EXPECT_EQ(code(1 | 4 | 8, h, "payload"), proto::REJECT_NOT_REGISTERED);
}

}  // namespace
}  // namespace tessera::fuzz
