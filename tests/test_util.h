// Helpers shared by the test binaries.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/process.h"

namespace tessera::testing {

// A fresh, empty folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `contents` to `path` (plain write, for fixtures).
void write_text(const std::filesystem::path& path, const std::string& contents);

// A deterministic, learnable English-like text of about `bytes` bytes.
std::string synthetic_text(std::size_t bytes, unsigned seed = 1);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line, capturing its output.
CommandResult run_command(const std::string& command_line);

// Child processes: core/process.h.
using Process = ::tessera::Subprocess;

}  // namespace tessera::testing
