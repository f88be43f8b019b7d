#include "tests/test_util.h"

#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>
#include <regex>
#include <thread>
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

void flip_byte_from_end(const std::filesystem::path& path, int back, unsigned char mask) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-back, std::ios::end);
  char ch = 0;
  f.read(&ch, 1);
  f.seekp(-back, std::ios::end);
  ch = static_cast<char>(static_cast<unsigned char>(ch) ^ mask);
  f.write(&ch, 1);
  if (!f) throw std::runtime_error("could not flip a byte of " + path.string());
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

std::string topical_text(std::size_t bytes, unsigned seed) {
  static const char* syllables[] = {"ka", "lo", "mi", "zu", "re", "ta", "vo", "ni", "pe", "xi", "go", "shu", "bar", "del", "fen"};
  static const char* verbs[] = {"sees", "likes", "finds", "follows", "reads", "builds"};
  std::mt19937 rng(seed);
  std::vector<std::vector<std::string>> nouns(32);
  for (auto& topic : nouns) {
    for (int i = 0; i < 6; ++i) {
      std::string word;
      for (int k = 0; k < 3; ++k) word += syllables[rng() % std::size(syllables)];
      topic.push_back(word);
    }
  }
  std::string out;
  while (out.size() < bytes) {
    const auto& topic = nouns[rng() % nouns.size()];
    for (const std::size_t end = out.size() + 1000; out.size() < end;) {
      out += "the " + topic[rng() % 6] + ' ' + verbs[rng() % 6] + " the " + topic[rng() % 6];
      out += (rng() % 4 == 0) ? ".\n%\n" : ". ";
    }
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

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string wait_for_match(const std::filesystem::path& path, const std::string& pattern,
                           std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  std::string found;
  wait_until(
      [&] {
        std::ifstream in(path);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        std::smatch m;
        if (std::regex_search(text, m, re) && m.size() > 1) found = m[1].str();
        return !found.empty();
      },
      timeout);
  return found;
}

}  // namespace tessera::testing
