// Deliberate crash points for crash testing (bench/chain_crash). With the environment
// variable TESSERA_FAULT=NAME:N, the N-th time the process reaches fault_point("NAME") it
// kills itself with SIGKILL, exactly as a crash or power cut would stop it there. Without
// the variable a fault point costs one relaxed atomic load.
//
// Points: "file:written" (an atomic file write's temp file is synced, not yet renamed),
// "file:renamed" (renamed, directory not yet synced), "log:written" (a block record is
// written to the log, not yet synced), "log:synced" (durable, no client told yet),
// "epoch" (the live state just ran an epoch, nothing of the block is written).
#pragma once

#include <string_view>

namespace tessera {

void fault_point(std::string_view name);

}  // namespace tessera
