// Helpers shared by the test binaries.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
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

// Corrupts the byte `back` bytes before the end of `path` by XOR with `mask` (non-zero), so
// the byte always changes: writing a fixed value is a no-op whenever the byte already holds it.
void flip_byte_from_end(const std::filesystem::path& path, int back, unsigned char mask = 0x40);

// A deterministic, learnable English-like text of about `bytes` bytes.
std::string synthetic_text(std::size_t bytes, unsigned seed = 1);

// Like synthetic_text, but each stretch of about a kilobyte is about one of 32 topics with
// its own made-up nouns, so pages of a kilobyte differ in content as real documents do:
// training on some pages teaches what others do not show, which the validators' own-data
// test measures. On synthetic_text every page is the same 216 sentences in another order
// and that test is a coin flip.
std::string topical_text(std::size_t bytes, unsigned seed = 1);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line, capturing its output.
CommandResult run_command(const std::string& command_line);

// Child processes: core/process.h.
using Process = ::tessera::Subprocess;

// Polls `done` every 20 ms until it holds or `timeout` passed; returns its last value.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// The first match of `pattern`'s first group in the file at `path`, once the file holds
// one (polled until `timeout`); empty if none appeared. For a child's "ready on ADDR" line.
std::string wait_for_match(const std::filesystem::path& path, const std::string& pattern,
                           std::chrono::milliseconds timeout);

}  // namespace tessera::testing
