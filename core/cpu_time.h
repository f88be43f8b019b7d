// CPU time of other processes, read from /proc: `tessera demo` reports how its roles
// shared the machine's cores with it (this process's own time: process_cpu_seconds() in
// core/process.h).
#pragma once

#include <sys/types.h>

namespace tessera {

// User + system CPU seconds used so far by the live processes of process group `pgid`
// (a Subprocess leads its own group, so this includes what it started, such as the
// subtensor node under its localnet script). 0 where /proc cannot be read; a process
// that exits between the listing and the read is left out.
double process_group_cpu_seconds(pid_t pgid);

}  // namespace tessera
