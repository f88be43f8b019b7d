#include "core/sodium_init.h"

#include <sodium.h>

#include <cstdlib>
#include <cstdio>

namespace tessera {

void ensure_sodium() {
  static const bool initialised = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "fatal: libsodium failed to initialise\n");
      std::abort();
    }
    return true;
  }();
  (void)initialised;
}

}  // namespace tessera
