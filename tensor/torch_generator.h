// torch's CPU generator, value for value: what peft draws with when it rebuilds state from a
// seed instead of reading it from a file (FourierFT's spectrum positions from random_loc_seed,
// VeRA's shared projections from projection_prng_key), so our draws and peft's agree.
//
//   TorchGenerator gen(0);                                  // torch.Generator().manual_seed(0)
//   std::vector<float> a = gen.uniform_float(6 * 20, -0.5, 0.5);
//   // == torch.empty(6, 20).uniform_(-0.5, 0.5, generator=gen) as float32, in row-major order
//
// torch's CPU generator is a 32-bit MT19937 seeded with the low 32 bits of the seed (the
// standard init, as std::mt19937). A float32 uniform_(from, to) takes one 32-bit draw per value:
// x = (draw & (2^24 - 1)) / 2^24 in double, value = float(x * float(to - from) + from), with
// from and to first rounded to float (ATen's uniform_real_distribution on the CPU).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace neat {

class TorchGenerator {
 public:
  explicit TorchGenerator(uint64_t seed) : engine_(uint32_t(seed & 0xffffffffu)) {}
  uint32_t random() { return uint32_t(engine_()); }   // the next 32-bit draw
  // n values of a float32 tensor's uniform_(from, to), in order.
  std::vector<float> uniform_float(int64_t n, double from, double to);

 private:
  std::mt19937 engine_;
};

}  // namespace neat
