// libFuzzer target: the manifest and safetensors parsers a checkpoint server feeds
// (tests/fuzz/checkpoint_harness.h says what is checked beyond not crashing).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/checkpoint_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)tessera::fuzz::check_checkpoint_input(data, size);
  return 0;
}
