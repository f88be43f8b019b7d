// Consensus arithmetic gives the same bits whatever the code generation: the probe built
// with the project's flags and built with -march=native print the same hash. A third
// build that allows FMA contraction must differ on a CPU with FMA, which shows the probe
// does see a change of rounding.
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace tessera {
namespace {

std::string probe(const char* binary) {
  const auto r = testing::run_command(binary);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

TEST(Reproducibility, MergeOuterStepAndDctIgnoreMarchNative) {
  const std::string plain = probe(TESSERA_PROBE_PLAIN);
  ASSERT_EQ(plain.size(), 65u) << plain;  // 64 hex digits and a newline
  EXPECT_EQ(probe(TESSERA_PROBE_NATIVE), plain);
}

TEST(Reproducibility, ProbeSeesContraction) {
  if (!__builtin_cpu_supports("fma")) GTEST_SKIP() << "this CPU has no FMA: contraction cannot change rounding here";
  EXPECT_NE(probe(TESSERA_PROBE_CONTRACTED), probe(TESSERA_PROBE_PLAIN));
}

}  // namespace
}  // namespace tessera
