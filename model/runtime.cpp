#include "model/runtime.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <algorithm>
#include <thread>

namespace tessera::model {

int configure_cpu_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Found at run time: the BLAS behind libtorch is chosen by Debian's alternatives and
  // may not be OpenBLAS.
  using SetThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_blas(1);
  }
  torch::set_num_threads(threads);
  return threads;
}

}  // namespace tessera::model
