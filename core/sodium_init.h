// libsodium must be initialised once before use; every wrapper calls this first.
#pragma once

namespace tessera {
void ensure_sodium();
}
