// CPU time of other processes, read from /proc: `tessera demo` reports how its roles
// shared the machine's cores with it (this process's own time: process_cpu_seconds() in
// core/process.h).
#pragma once

#include <sys/types.h>

#include <map>
#include <vector>

namespace tessera {

// User + system CPU seconds used so far by the live processes of each process group in
// `pgids` (a Subprocess leads its own group, so this includes what it started, such as
// the subtensor node under its localnet script), read in one pass over /proc. Every
// group asked for has an entry: 0 where /proc cannot be read or the id is not a group;
// a process that exits between the listing and the read is left out.
std::map<pid_t, double> process_group_cpu_seconds(const std::vector<pid_t>& pgids);

}  // namespace tessera
