#include "tests/test_util.h"

#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>

namespace tessera::testing {

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "tessera-test-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_text(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

std::string synthetic_text(std::size_t bytes, unsigned seed) {
  static const char* subjects[] = {"the cat", "a dog", "my friend", "the old man", "a small bird", "the teacher"};
  static const char* verbs[] = {"sees", "likes", "finds", "follows", "reads", "builds"};
  static const char* objects[] = {"the red ball", "a long road", "the river", "a quiet house", "the garden", "a book"};
  std::mt19937 rng(seed);
  std::string out;
  while (out.size() < bytes) {
    out += subjects[rng() % 6];
    out += ' ';
    out += verbs[rng() % 6];
    out += ' ';
    out += objects[rng() % 6];
    out += (rng() % 4 == 0) ? ".\n%\n" : ". ";
  }
  out.resize(bytes);
  return out;
}

CommandResult run_command(const std::string& command_line) {
  CommandResult result;
  FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) result.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Process::Process(const std::vector<std::string>& argv, const std::filesystem::path& out, const std::filesystem::path& err) {
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

Process::~Process() { stop(); }

void Process::signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

bool Process::wait(std::chrono::milliseconds timeout, int* exit_code) {
  if (pid_ <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    usleep(20000);
  }
  return false;
}

void Process::stop() {
  if (pid_ <= 0 || reaped_) return;
  kill(pid_, SIGTERM);
  if (!wait(std::chrono::seconds(10))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }
}

}  // namespace tessera::testing
