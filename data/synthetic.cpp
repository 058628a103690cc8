#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "tensor/check.h"
#include "tensor/random.h"

namespace neat {

std::shared_ptr<ArrayDataset> make_synthetic(const SyntheticSpec& spec, int64_t n, uint64_t seed,
                                             uint64_t split) {
  const int64_t S = spec.image_size, C = spec.channels, K = spec.num_classes;
  NEAT_CHECK(S > 0 && C > 0 && K > 0 && n >= 0 && spec.noise >= 0, "synthetic: need positive image_size, channels and ",
             "num_classes and n >= 0, got image_size=", S, " channels=", C, " num_classes=", K, " n=", n);
  const double two_pi = 6.283185307179586;
  // The class patterns, (K, S, S, C) in float: mean colour + a grating of amplitude 48.
  std::vector<float> patterns(static_cast<size_t>(K * S * S * C));
  for (int64_t k = 0; k < K; ++k) {
    Generator gen(derive_seed(seed, uint64_t(k)));
    double angle = gen.uniform(0, two_pi / 2), freq = gen.uniform(1, 4);
    double fx = freq * std::cos(angle) / double(S), fy = freq * std::sin(angle) / double(S);
    std::vector<double> mean(C), phase(C);
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = gen.uniform(64, 192);
      phase[c] = gen.uniform(0, two_pi);
    }
    float* out = patterns.data() + k * S * S * C;
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x)
        for (int64_t c = 0; c < C; ++c)
          out[(y * S + x) * C + c] = float(mean[c] + 48 * std::sin(two_pi * (fx * x + fy * y) + phase[c]));
  }
  std::vector<uint8_t> pixels(static_cast<size_t>(n * S * S * C));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  const uint64_t split_seed = derive_seed(derive_seed(seed, 0x53594E54), split);   // stream "SYNT"
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = i % K;
    Generator gen(derive_seed(split_seed, uint64_t(i)));
    const float* pattern = patterns.data() + labels[i] * S * S * C;
    uint8_t* out = pixels.data() + i * S * S * C;
    for (int64_t p = 0; p < S * S * C; ++p)
      out[p] = uint8_t(std::clamp(std::nearbyint(pattern[p] + gen.uniform(-spec.noise, spec.noise)), 0.0, 255.0));
  }
  std::vector<std::string> names;
  for (int64_t k = 0; k < K; ++k) names.push_back("pattern_" + std::to_string(k));
  return std::make_shared<ArrayDataset>(ImageShape{C, S, S}, std::move(pixels), std::move(labels),
                                        std::move(names));
}

}  // namespace neat
