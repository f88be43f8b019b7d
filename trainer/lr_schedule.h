// Learning-rate schedule shared by the baseline trainer and the miner's inner loop:
// linear warm-up to `lr`, then cosine decay to `lr · min_lr_ratio` at `total_steps`.
#pragma once

#include <cmath>

#include "core/schedule.h"

namespace tessera::trainer {

struct CosineSchedule {
  double lr = 1e-3;
  double min_lr_ratio = 0.1;
  long warmup_steps = 0;
  long total_steps = 1;

  double at(long step) const {
    if (warmup_steps > 0 && step < warmup_steps) return lr * warmup_factor(step, warmup_steps);
    const long decay_steps = total_steps - warmup_steps;
    if (decay_steps <= 0) return lr;
    double progress = static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps);
    if (progress > 1.0) progress = 1.0;
    const double min_lr = lr * min_lr_ratio;
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
  }
};

}  // namespace tessera::trainer
