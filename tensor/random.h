// One seeded random number generator for everything random in neat.cpp: init, dropout,
// shuffling, augmentation. splitmix64 is tiny, fast, passes BigCrush, and its whole state is
// one 64-bit counter, so saving and restoring it (checkpoints, resume) is trivial.
//
//   Generator gen(42);
//   double u = gen.uniform();       // [0, 1)
//   double z = gen.normal();        // N(0, 1)
//   uint64_t saved = gen.state();   // ... later: gen.set_state(saved) replays the same stream
//
// The generator is a counter: draw i (i = 0, 1, ...) after state s is
// mix(s + (i + 1) * golden), so any draw can be made on its own, in any order, on either device.
// That is how a dropout mask is the same bits on the CPU (any thread count) and on the GPU:
//
//   const uint64_t start = gen.state();
//   gen.skip(n);                                        // as if n draws were made
//   mask[i] = uniform_from_bits(splitmix64_draw(start, i)) < p ? 0 : keep;   // any i, any order
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/host_device.h"

namespace neat {

constexpr uint64_t kSplitmix64Golden = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio, odd

// The i-th output (i = 0, 1, ...) of splitmix64 started at `state`.
NEAT_HOST_DEVICE inline uint64_t splitmix64_draw(uint64_t state, uint64_t i) {
  uint64_t z = state + (i + 1) * kSplitmix64Golden;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The top 53 of 64 random bits -> a double in [0, 1) (exact: no rounding on either device).
NEAT_HOST_DEVICE inline double uniform_from_bits(uint64_t bits) {
  return double(bits >> 11) * (1.0 / 9007199254740992.0);
}

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : state_(seed) {}

  uint64_t next_u64() {
    const uint64_t bits = splitmix64_draw(state_, 0);
    state_ += kSplitmix64Golden;
    return bits;
  }
  // Moves on as if n draws were made (their values made elsewhere with splitmix64_draw).
  void skip(uint64_t n) { state_ += n * kSplitmix64Golden; }
  double uniform() { return uniform_from_bits(next_u64()); }
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
