// A child process started the way a user starts a command: argv[0] is the program, its
// stdout is appended to `out` and its stderr to `err` (the same file when `err` is
// empty), its environment this process's plus `env`. The destructor stops it (SIGTERM,
// then SIGKILL after 10 s) and reaps it. The child runs in its own process group (a
// terminal's Ctrl-C goes to the parent alone, which stops its children once) and gets
// SIGTERM if the parent dies (PR_SET_PDEATHSIG: the thread that started it must outlive
// it, so start children from the main thread). Everything the child needs is prepared before
// fork(), so the child only redirects and executes (safe in a multithreaded parent).
// Used by `tessera demo`, the crash harness and the end-to-end tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace tessera {

// CPU time (user + system, all threads) this process has used so far, in seconds.
double process_cpu_seconds();

class Subprocess {
 public:
  Subprocess(const std::vector<std::string>& argv, const std::filesystem::path& out, const std::filesystem::path& err = {},
             const std::vector<std::string>& env = {});  // "NAME=VALUE" entries
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  // Waits for the exit; true with its exit code (or 128 + signal) when it ended in time.
  bool wait(std::chrono::milliseconds timeout, int* exit_code = nullptr);
  void signal(int sig);
  void stop();  // SIGTERM, wait, SIGKILL if needed

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
};

}  // namespace tessera
