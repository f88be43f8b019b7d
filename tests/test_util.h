// Helpers shared by the test binaries.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

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

// A child process (argv[0] is the program), its stdout appended to `out` and its stderr to
// `err` (the same file when `err` is empty). The destructor stops it with SIGTERM (then
// SIGKILL after 10 s) and reaps it.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::filesystem::path& out, const std::filesystem::path& err = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  pid_t pid() const { return pid_; }
  // Waits for the exit; true with its exit code (or 128 + signal) when it ended in time.
  bool wait(std::chrono::milliseconds timeout, int* exit_code = nullptr);
  void signal(int sig);
  void stop();  // SIGTERM, wait, SIGKILL if needed

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace tessera::testing
