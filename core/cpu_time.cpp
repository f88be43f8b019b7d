#include "core/cpu_time.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tessera {

namespace {

// Fields 5 (pgrp), 14 (utime) and 15 (stime) of a /proc/PID/stat line, counted from 1 as
// proc(5) counts them. The command name (field 2) may hold spaces and parentheses, so
// the fields are counted from its last ')'.
bool parse_stat(const std::string& line, long* pgrp, unsigned long long* ticks) {
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; index <= 15 && in >> field; ++index) {
    if (index == 5) *pgrp = std::strtol(field.c_str(), nullptr, 10);
    if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (index == 15) {
      stime = std::strtoull(field.c_str(), nullptr, 10);
      *ticks = utime + stime;
      return true;
    }
  }
  return false;
}

}  // namespace

std::map<pid_t, double> process_group_cpu_seconds(const std::vector<pid_t>& pgids) {
  std::map<pid_t, unsigned long long> ticks_of;
  for (pid_t g : pgids) ticks_of[g] = 0;
  std::map<pid_t, double> seconds;
  for (pid_t g : pgids) seconds[g] = 0.0;
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return seconds;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    long pgrp = 0;
    unsigned long long ticks = 0;
    if (!parse_stat(line, &pgrp, &ticks) || pgrp <= 0) continue;
    const auto it = ticks_of.find(static_cast<pid_t>(pgrp));
    if (it != ticks_of.end()) it->second += ticks;
  }
  for (const auto& [g, t] : ticks_of) seconds[g] = static_cast<double>(t) / static_cast<double>(ticks_per_second);
  return seconds;
}

}  // namespace tessera
