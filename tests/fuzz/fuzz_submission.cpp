// libFuzzer target over the submission checks; the input format and its two modes are in
// tests/fuzz/submission_harness.h.
#include "tests/fuzz/submission_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)tessera::fuzz::check_submission_input(data, size);
  return 0;
}
