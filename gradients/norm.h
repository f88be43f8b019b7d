// The norm reference shared by the validator's outlier check and the aggregator's clip:
// one delta's L2 norm and the median of a set of norms. Both are consensus arithmetic
// (the merge depends on them), so they run in double in a fixed order on the host.
#pragma once

#include <vector>

#include "gradients/codec.h"

namespace tessera::gradients {

// L2 norm of a decoded delta (sparse values or dense tensors), accumulated in double in
// tensor order.
double delta_norm(const DecodedDelta& delta);

// The median of `values` (mean of the two middle ones for an even count); 0 when empty.
double median(std::vector<double> values);

}  // namespace tessera::gradients
