// What a validator keeps across restarts (Boost.Serialization in a sealed state file,
// core/file_io.h): the per-uid moving averages of scores, the last finalised window,
// the weights cadence, a pending commit–reveal, counters and a short history. A damaged
// file is reported and the state reset — never trusted.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::verification {

struct WindowSummary {
  std::uint64_t window = 0;
  std::uint32_t received = 0, scored = 0;
  double before_loss = 0.0, seconds = 0.0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& window& received& scored& before_loss& seconds;
  }
};

struct ValidatorState {
  std::uint32_t netuid = 0;
  std::string hotkey;  // hex: a state file of another identity is not used
  bool has_window = false;
  std::uint64_t last_window = 0;  // last finalised window
  std::map<std::uint32_t, double> ema;            // moving average of the window score, by uid
  std::map<std::uint32_t, std::string> uid_hotkey;  // raw hotkey the average belongs to
  std::uint64_t windows_since_weights = 0;
  bool pending_reveal = false;
  std::vector<std::uint32_t> reveal_uids, reveal_values;
  std::string reveal_salt;
  std::uint64_t commit_block = 0;
  std::map<std::string, std::uint64_t> counters;  // outcome / event → count
  std::deque<WindowSummary> history;             // the newest 64 windows

  template <class A>
  void serialize(A& ar, unsigned) {
    ar& netuid& hotkey& has_window& last_window& ema& uid_hotkey& windows_since_weights& pending_reveal& reveal_uids&
        reveal_values& reveal_salt& commit_block& counters& history;
  }
};

Status save_validator_state(const std::filesystem::path& path, const ValidatorState& state);
// NotFound when absent; Corrupted (with the reason) when damaged.
Result<ValidatorState> load_validator_state(const std::filesystem::path& path);

}  // namespace tessera::verification
