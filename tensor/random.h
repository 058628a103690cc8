// One seeded random number generator for everything random in neat.cpp: init, dropout,
// shuffling, augmentation. splitmix64 is tiny, fast, passes BigCrush, and its whole state is
// one 64-bit counter, so saving and restoring it (checkpoints, resume) is trivial.
//
//   Generator gen(42);
//   double u = gen.uniform();       // [0, 1)
//   double z = gen.normal();        // N(0, 1)
//   uint64_t saved = gen.state();   // ... later: gen.set_state(saved) replays the same stream
#pragma once
#include <cmath>
#include <cstdint>

namespace neat {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : state_(seed) {}

  uint64_t next_u64() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // 53 random bits -> a double in [0, 1).
  double uniform() { return double(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Integer in [0, n).
  uint64_t below(uint64_t n) { return next_u64() % n; }
  // Box-Muller; one normal per call (the second value is dropped to keep the state a counter).
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

}  // namespace neat
