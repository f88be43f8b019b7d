#include "core/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace tessera {

double process_cpu_seconds() {
  timespec t{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0) return 0.0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

Subprocess::Subprocess(const std::vector<std::string>& argv, const std::filesystem::path& out, const std::filesystem::path& err,
                       const std::vector<std::string>& env) {
  const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int e = err.empty() ? o : ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> environment = env;  // first, so that they win over inherited ones
  for (char** p = environ; *p != nullptr; ++p) environment.emplace_back(*p);
  std::vector<char*> envp;
  for (auto& v : environment) envp.push_back(v.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // Its own process group: a terminal's Ctrl-C reaches only the parent, which shuts its
    // children down once. SIGTERM when the parent dies, so that no orphan survives it
    // (checked again after the prctl, in case the parent died before it).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) _exit(1);
    if (o >= 0) dup2(o, 1);
    if (e >= 0) dup2(e, 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  if (o >= 0) ::close(o);
  if (e >= 0 && e != o) ::close(e);
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
