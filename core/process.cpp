#include "core/process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace tessera {

Subprocess::Subprocess(const std::vector<std::string>& argv, const std::filesystem::path& out, const std::filesystem::path& err) {
  pid_ = fork();
  if (pid_ == 0) {
    FILE* o = std::fopen(out.c_str(), "a");
    FILE* e = err.empty() ? o : std::fopen(err.c_str(), "a");
    if (o != nullptr) dup2(fileno(o), 1);
    if (e != nullptr) dup2(fileno(e), 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Subprocess::~Subprocess() { stop(); }

void Subprocess::signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

bool Subprocess::wait(std::chrono::milliseconds timeout, int* exit_code) {
  if (pid_ <= 0) return false;
  if (reaped_) {
    if (exit_code) *exit_code = exit_code_;
    return true;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (exit_code) *exit_code = exit_code_;
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    usleep(20000);
  }
  return false;
}

bool Subprocess::running() {
  if (pid_ <= 0 || reaped_) return false;
  return !wait(std::chrono::milliseconds(0));
}

void Subprocess::stop() {
  if (pid_ <= 0 || reaped_) return;
  kill(pid_, SIGTERM);
  if (!wait(std::chrono::seconds(10))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }
}

}  // namespace tessera
