// The submission fuzz harness: arbitrary frames into the submission checks. Input: byte 0
// holds the frame count (1 + bits 0–1) and the mode (bits 2–4); then per frame a 2-byte
// little-endian length and that many bytes. One frame is a commitment, two a delivery.
//   raw (bit 2 clear): the frames go in as they are — header decoding, the version and
//     recipient, the subnet and registration lookups and the signature check (for a
//     commitment), the commitment lookup (for a delivery), which almost every input fails.
//   signed (bit 2 set): frame 0 is parsed as a SubmissionHeader (whatever parses), made
//     version 2 for the test validator (bit 4 set: the recipient is left as fuzzed), its
//     hotkey set to the registered test miner's, and it is signed with that miner's known
//     test key — so the checks after the signature (window, nonce replay, payload size and
//     hash, rate limit, queue space) and the subnet check see fuzzed values. A signed
//     delivery is committed first. With bit 3 also set, the payload hash and size are made
//     to match frame 1, so inputs reach the checks after the payload comparison too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/net.pb.h"

namespace tessera::fuzz {

// Runs one fuzz input through a SubmissionChecker (netuid 1, the test miner registered as
// uid 0, block 5 of 10-block windows) and returns its reply.
proto::Reply check_submission_input(const std::uint8_t* data, std::size_t size);

}  // namespace tessera::fuzz
