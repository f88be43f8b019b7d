// CPU threading for libtorch. Torch parallelises element-wise ops and the loops around
// BLAS calls with OpenMP; OpenBLAS (pthreads build) has its own pool. Letting both use
// every core oversubscribes a small machine (measured on 2 cores: 1.8k tokens/s against
// 4.9k with BLAS single-threaded), so BLAS gets one thread and torch gets `threads`.
#pragma once

namespace tessera::model {

// threads <= 0: every core. Returns the number of torch threads set.
int configure_cpu_threads(int threads);

}  // namespace tessera::model
