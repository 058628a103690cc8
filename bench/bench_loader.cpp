// Images per second the DataLoader delivers (decode from memory, augment, normalize, batch) for
// CIFAR-shaped 32x32 synthetic data through three pipelines:
//   native32: RandomHorizontalFlip + Normalize at 32x32 (small ViTs)
//   cifar32:  RandomResizedCrop(32) + flip + Normalize
//   vit224:   RandomResizedCrop(224) + flip + Normalize (ViT-B/16 fine-tuning on CIFAR)
// each with workers = 0 (the reference: batches built inside next(), no prefetch) and 1 and 2
// background threads. The consumer does no work, so this is the loader's ceiling; in training
// the workers share the cores with the model. Prints a table and one `BENCH {json}` line per row.
#include <chrono>
#include <cstdio>
#include <string>

#include "data/load_dataset.h"

using namespace neat;

namespace {

struct Pipeline {
  const char* name;
  int64_t image_size;   // 0 = native resolution
  int64_t samples, batch_size;
};

double images_per_second(std::shared_ptr<const Dataset> data, const Pipeline& p, int64_t workers) {
  TransformConfig tc;
  tc.native_resolution = p.image_size == 0;
  if (p.image_size > 0) tc.image_size = p.image_size;
  LoaderConfig lc;
  lc.batch_size = p.batch_size;
  lc.workers = workers;
  lc.seed = 1;
  DataLoader loader(data, Transform(tc, /*train=*/true), lc);
  double best = 0;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {   // best of 3 epochs
    auto start = std::chrono::steady_clock::now();
    loader.start_epoch(epoch);
    Batch batch;
    int64_t images = 0;
    while (loader.next(batch)) images += batch.images.size(0);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, double(images) / seconds);
  }
  return best;
}

}  // namespace

int main() {
  const Pipeline pipelines[] = {
      {"native32", 0, 16384, 128},
      {"cifar32", 32, 16384, 128},
      {"vit224", 224, 768, 64},
  };
  std::printf("%-10s %10s %8s %14s %10s\n", "pipeline", "image_size", "workers", "images/s", "vs sync");
  for (const Pipeline& p : pipelines) {
    SyntheticSpec spec;   // CIFAR-shaped: 32x32x3, 10 classes
    std::shared_ptr<const Dataset> data = make_synthetic(spec, p.samples, /*seed=*/0, /*split=*/0);
    const int64_t size = p.image_size == 0 ? 32 : p.image_size;
    double reference = 0;
    for (int64_t workers : {0, 1, 2}) {
      double rate = images_per_second(data, p, workers);
      if (workers == 0) reference = rate;
      std::printf("%-10s %10lld %8lld %14.0f %9.2fx\n", p.name, (long long)size, (long long)workers, rate,
                  rate / reference);
      std::printf("BENCH {\"name\": \"loader_%s\", \"image_size\": %lld, \"workers\": %lld, "
                  "\"images_per_second\": %.1f, \"ref\": \"workers=0 (no prefetch)\", "
                  "\"ref_images_per_second\": %.1f, \"speedup_vs_ref\": %.3f}\n",
                  p.name, (long long)size, (long long)workers, rate, reference, rate / reference);
    }
  }
  return 0;
}
