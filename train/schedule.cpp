#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "tensor/check.h"

namespace neat {

Schedule parse_schedule(const std::string& name) {
  if (name == "linear") return Schedule::Linear;
  if (name == "cosine") return Schedule::Cosine;
  if (name == "constant") return Schedule::Constant;
  NEAT_CHECK(false, "schedule: unknown '", name, "' (expected linear, cosine or constant)");
}

int64_t warmup_steps(int64_t total_steps, double ratio) {
  NEAT_CHECK(ratio >= 0 && ratio <= 1, "schedule: warmup ratio ", ratio, " is not in [0, 1]");
  return int64_t(std::ceil(double(total_steps) * ratio));
}

double LrSchedule::multiplier(int64_t step) const {
  if (step < warmup) return double(step) / double(std::max<int64_t>(1, warmup));
  const double remaining = double(std::max<int64_t>(1, total_steps - warmup));
  switch (kind) {
    case Schedule::Linear:
      return std::max(0.0, double(total_steps - step) / remaining);
    case Schedule::Cosine: {
      const double progress = double(step - warmup) / remaining;
      return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
    }
    case Schedule::Constant:
      return 1.0;
  }
  return 1.0;
}

}  // namespace neat
