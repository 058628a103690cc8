// `synthetic`: a seeded, learnable toy dataset of any size and shape, for tests and smoke runs.
// Class c has a pattern: a mean colour plus a sinusoidal grating whose frequency, orientation
// and phase are drawn from (seed, c). A sample of class c is that pattern plus uniform noise in
// [-noise, noise], rounded and clamped to 0..255. Sample i has class i % num_classes.
//
//   SyntheticSpec spec;  spec.image_size = 32;  spec.num_classes = 10;
//   auto train = make_synthetic(spec, /*n=*/1000, /*seed=*/0, /*split=*/0);
//   auto test = make_synthetic(spec, 200, 0, 1);   // same class patterns, fresh noise
#pragma once
#include <cstdint>
#include <memory>

#include "data/dataset.h"

namespace neat {

struct SyntheticSpec {
  int64_t n_train = 1024, n_test = 256;   // used by load_dataset; make_synthetic takes n
  int64_t image_size = 32, channels = 3, num_classes = 10;
  double noise = 48;   // in pixel units (0..255)
};

// n samples; `split` only changes the noise, so splits share the class patterns.
std::shared_ptr<ArrayDataset> make_synthetic(const SyntheticSpec& spec, int64_t n, uint64_t seed,
                                             uint64_t split);

}  // namespace neat
