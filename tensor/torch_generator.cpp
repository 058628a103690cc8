#include "tensor/torch_generator.h"

#include "tensor/check.h"

namespace neat {

std::vector<float> TorchGenerator::uniform_float(int64_t n, double from, double to) {
  NEAT_CHECK(n >= 0, "TorchGenerator::uniform_float: n = ", n, " must be >= 0");
  const float low = float(from), high = float(to);
  const double divisor = 1.0 / double(uint64_t(1) << 24);
  std::vector<float> out(static_cast<size_t>(n));
  for (float& v : out) {
    const double x = double(random() & ((uint32_t(1) << 24) - 1)) * divisor;
    v = float(x * double(high - low) + double(low));
  }
  return out;
}

}  // namespace neat
