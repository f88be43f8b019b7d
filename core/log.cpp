#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace tessera {

Status init_logging(const std::string& role, const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidArgument("log level '" + level + "' must be one of trace, debug, info, warn, error, off");
  }
  auto logger = spdlog::get(role);
  if (!logger) logger = spdlog::stderr_color_mt(role);
  logger->set_pattern("%H:%M:%S.%e %n %^%l%$ %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace tessera
