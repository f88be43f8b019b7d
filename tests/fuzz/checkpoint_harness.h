// The checkpoint fuzz harness: arbitrary bytes into the two parsers a checkpoint server
// controls, the manifest and the safetensors header. Byte 0 picks the parser (bit 0 clear:
// manifest JSON, set: a safetensors file); the rest is the input. Besides not crashing,
// each parser must keep its contracts, checked here (a broken one traps):
//   manifest: whatever parses survives to_json → from_json with the same content hash, and
//     verify_manifest (with and without an expected signer) answers without crashing;
//   safetensors: a file that decodes has a layout naming the same tensors and shapes, and
//     re-encoding the decoded tensors decodes to equal tensors.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::fuzz {

// How far one input got.
enum class CheckpointStage {
  kRejected = 0,  // the parser refused it (the usual case)
  kParsed = 1,    // manifest parsed / safetensors layout valid
  kAccepted = 2,  // manifest signature verifies / safetensors file decodes
};

CheckpointStage check_checkpoint_input(const std::uint8_t* data, std::size_t size);

}  // namespace tessera::fuzz
