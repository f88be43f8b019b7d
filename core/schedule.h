// Window and epoch arithmetic. Time is counted in chain blocks.
//
// window(b)  = b / blocks_per_window; window w spans blocks [w·bpw, (w+1)·bpw).
// Epochs: subnet `netuid` with tempo T runs its epoch at the end of every block b with
// (b + netuid + 1) mod (T + 1) == 0, so subnets do not all run on the same block. That
// is the phase subtensor's documentation states; its runtime's code runs the epoch at the
// start of the block where that sum is ≡ T (`blocks_until_next_epoch` returns
// T − (b + netuid + 1) mod (T + 1)), one block earlier. The embedded ledger keeps this
// rule, under which its block logs replay. Tempo 0 means "never".
#pragma once

#include <algorithm>
#include <cstdint>

namespace tessera {

using Block = std::uint64_t;
using WindowIndex = std::uint64_t;

struct WindowSchedule {
  std::uint64_t blocks_per_window = 1;

  WindowIndex window_of(Block block) const { return block / blocks_per_window; }
  Block first_block(WindowIndex w) const { return w * blocks_per_window; }
  Block last_block(WindowIndex w) const { return (w + 1) * blocks_per_window - 1; }
  // Blocks left in the window that contains `block`, counting `block` itself.
  std::uint64_t blocks_left(Block block) const {
    return blocks_per_window - block % blocks_per_window;
  }
  // A submission for window `w` is accepted while the current window is `w` or, with a
  // grace of `grace_blocks`, in the first blocks of `w + 1`.
  bool accepts(WindowIndex w, Block now, std::uint64_t grace_blocks) const {
    const WindowIndex current = window_of(now);
    if (current == w) return true;
    return current == w + 1 && now - first_block(w + 1) < grace_blocks;
  }
};

struct EpochSchedule {
  std::uint16_t netuid = 0;
  std::uint16_t tempo = 360;

  bool is_epoch_block(Block block) const {
    if (tempo == 0) return false;
    return (block + netuid + 1) % (static_cast<std::uint64_t>(tempo) + 1) == 0;
  }
  // Blocks until the next epoch block strictly after `block` (tempo 0: never → UINT64_MAX).
  std::uint64_t blocks_until_next_epoch(Block block) const {
    if (tempo == 0) return UINT64_MAX;
    const std::uint64_t period = static_cast<std::uint64_t>(tempo) + 1;
    const std::uint64_t phase = (block + netuid + 1) % period;
    return phase == 0 ? period : period - phase;
  }
  // The first epoch block strictly after `block` (tempo 0: UINT64_MAX).
  Block next_epoch_block(Block block) const {
    const std::uint64_t until = blocks_until_next_epoch(block);
    return until == UINT64_MAX ? UINT64_MAX : block + until;
  }
  // Number of epoch blocks in [0, block].
  std::uint64_t epochs_through(Block block) const {
    if (tempo == 0) return 0;
    return (block + netuid + 1) / (static_cast<std::uint64_t>(tempo) + 1);
  }
};

// The learning-rate schedule's step for inner step `step` of `window`: windows count
// from the run's origin window (its checkpoints' `origin_window`); a window before it
// counts as the first.
inline long window_schedule_step(std::uint64_t window, std::uint64_t origin_window, int inner_steps, int step) {
  return static_cast<long>(window - std::min(window, origin_window)) * inner_steps + step;
}

// The linear warm-up's factor of the peak learning rate at schedule step `step`:
// (step + 1) / warmup_steps during the warm-up, 1 after it (and without one).
inline double warmup_factor(long step, long warmup_steps) {
  if (warmup_steps <= 0 || step >= warmup_steps) return 1.0;
  return static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
}

// The mean warm-up factor over the `inner_steps` steps of `window`: how far the warm-up
// scales that window's deltas against a window at the full rate. Consensus arithmetic
// (the norm references are per unit of it, docs/roles.md): sums of exact
// quotients in a fixed order, no library function, so every platform gets the same bits.
inline double window_warmup_rate(std::uint64_t window, std::uint64_t origin_window, int inner_steps, long warmup_steps) {
  if (inner_steps <= 0) return 1.0;
  double sum = 0.0;
  for (int k = 0; k < inner_steps; ++k) {
    sum += warmup_factor(window_schedule_step(window, origin_window, inner_steps, k), warmup_steps);
  }
  return sum / static_cast<double>(inner_steps);
}

}  // namespace tessera
