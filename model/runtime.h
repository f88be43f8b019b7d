// CPU threading for libtorch. Torch parallelises element-wise ops and the loops around
// BLAS calls with OpenMP; OpenBLAS (pthreads build) has its own pool. Both using every
// core oversubscribes the machine (bench/README.md has the figures), so BLAS gets one
// thread and torch gets `threads`.
#pragma once

namespace tessera::model {

// threads <= 0: every core. Returns the number of torch threads set.
int configure_cpu_threads(int threads);

}  // namespace tessera::model
