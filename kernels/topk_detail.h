// Internals of the CPU top-k, exposed for tests: the group-maxima pass in each of its
// instruction-set variants. The kernel itself picks the best one the CPU has, so the
// others would otherwise go untested on the development machine.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::kernels::detail {

enum class MaximaIsa { kPortable, kSse41, kAvx2 };

bool maxima_isa_available(MaximaIsa isa);

// For each of `groups` groups of 16 floats at x: the bits of max |v| (sign cleared),
// stored as a float in out[g]. Returns the largest of them; >= 0x7f800000 means some
// value was an infinity or NaN. An unavailable variant falls back to the portable one.
std::uint32_t group_maxima_with(MaximaIsa isa, const float* x, std::size_t groups, float* out);

}  // namespace tessera::kernels::detail
