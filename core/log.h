// Logging through spdlog. One process-wide logger named after the role ("miner",
// "validator", …), writing "HH:MM:SS.mmm role level message" to stderr.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "core/status.h"

namespace tessera {

// Sets up the default logger. `level` is one of trace, debug, info, warn, error, off.
Status init_logging(const std::string& role, const std::string& level = "info");

}  // namespace tessera
