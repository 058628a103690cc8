// Learning-rate schedules with linear warmup, as Hugging Face transformers'
// get_{linear,cosine,constant}_schedule_with_warmup (a LambdaLR multiplier on each group's
// base lr). Optimizer step k (0-based) of `total` runs at base_lr * lr_multiplier(...).
//
//   LrSchedule s{Schedule::Linear, /*total_steps=*/1000, warmup_steps(1000, 0.1)};
//   s.multiplier(0) == 0;  s.multiplier(50) == 0.5;  s.multiplier(100) == 1;  s.multiplier(550) == 0.5;
//
//   linear:   k < W ? k / W : max(0, (T - k) / (T - W))
//   cosine:   k < W ? k / W : max(0, 0.5 (1 + cos(pi (k - W) / (T - W))))
//   constant: k < W ? k / W : 1
#pragma once
#include <cstdint>
#include <string>

namespace neat {

enum class Schedule { Linear, Cosine, Constant };

// "linear" | "cosine" | "constant"; error naming the value otherwise.
Schedule parse_schedule(const std::string& name);

// ceil(total_steps * ratio), as the Hugging Face Trainer's warmup_ratio.
int64_t warmup_steps(int64_t total_steps, double ratio);

struct LrSchedule {
  Schedule kind = Schedule::Linear;
  int64_t total_steps = 1;
  int64_t warmup = 0;
  double multiplier(int64_t step) const;
};

}  // namespace neat
