#include "tensor/torch_randperm.h"

#include <limits>
#include <utility>

#include "tensor/check.h"
#include "tensor/torch_generator.h"

namespace neat {

std::vector<int64_t> torch_randperm(int64_t n, uint64_t seed) {
  NEAT_CHECK(n >= 0 && n < int64_t(std::numeric_limits<uint32_t>::max() / 20),
             "torch_randperm: n = ", n, " is outside [0, 2^32 / 20), where torch's small-n path "
             "(the one reproduced here) applies");
  TorchGenerator engine(seed);
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[size_t(i)] = i;
  for (int64_t i = 0; i + 1 < n; ++i) {
    const int64_t z = int64_t(engine.random() % uint32_t(n - i));
    std::swap(r[size_t(i)], r[size_t(z + i)]);
  }
  return r;
}

}  // namespace neat
