// The usage examples at the top of the data/ headers, run as written (only file paths and the
// values the comments leave open are filled in), so they cannot go stale.
#include <doctest/doctest.h>

#include <algorithm>

#include "data/load_dataset.h"
#include "tests/test_data_util.h"

using namespace neat;
using namespace neat_test;

TEST_CASE("data/load_dataset.h usage example") {
  DataSpec spec;                                   // --data synthetic (or cifar10, folder:PATH, ...)
  spec.synthetic.n_train = 200;  spec.synthetic.n_test = 50;  spec.synthetic.image_size = 16;
  DataSplits splits = load_dataset(spec);          // train 180, val 20 (10% held out), test 50
  TransformConfig tc;  tc.native_resolution = true;   // small ViT: keep 16x16, flip + normalize
  LoaderConfig lc;  lc.batch_size = 32;  lc.drop_last = true;  lc.seed = 7;
  DataLoader loader(splits.train, Transform(tc, /*train=*/true), lc);   // 5 steps per epoch
  int64_t steps = 0;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    loader.start_epoch(epoch);                     // resume mid-epoch: start_epoch(epoch, step)
    Batch batch;
    while (loader.next(batch)) {
      // batch.images: (32, 3, 16, 16) float32 in [-1, 1]; batch.labels: (32) int64 in [0, 10)
      ++steps;
      CHECK(batch.images.shape() == Shape{32, 3, 16, 16});
      CHECK(batch.labels.shape() == Shape{32});
      CHECK(batch.labels.dtype() == DType::Int64);
      std::vector<float> v = batch.images.to_vector<float>();
      CHECK(*std::min_element(v.begin(), v.end()) >= -1.0f);
      CHECK(*std::max_element(v.begin(), v.end()) <= 1.0f);
      for (int64_t l : batch.labels.to_vector<int64_t>()) CHECK((l >= 0 && l < 10));
    }
  }
  CHECK(splits.train->size() == 180);
  CHECK(splits.val->size() == 20);
  CHECK(splits.test->size() == 50);
  CHECK(loader.steps_per_epoch() == 5);
  CHECK(steps == 10);
  CHECK(contains(splits.summary, "train 180, val 20 (10% of train held out, seed 0), test 50"));
}

TEST_CASE("data/image.h usage example") {
  TempDir tmp;
  Image img(2, 3, 1);                       // 2 rows, 3 columns, 1 channel, zero-filled
  img.at(1, 2, 0) = 255;
  write_image(tmp / "x.png", img);          // format from the extension: png, bmp, tga
  Image back = read_image(tmp / "x.png", 3);   // 3 = convert to RGB (0 = keep as stored)
  CHECK(back.height == 2);
  CHECK(back.width == 3);
  CHECK(back.channels == 3);
  CHECK(back.at(1, 2, 1) == 255);
  CHECK(back.at(0, 0, 0) == 0);
}

TEST_CASE("data/dataset.h usage example") {
  std::vector<uint8_t> pixels(50 * 28 * 28, 7);
  std::vector<int64_t> labels(50);
  for (int64_t i = 0; i < 50; ++i) labels[i] = (i * 3) % 10;
  std::vector<std::string> names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  auto all = std::make_shared<ArrayDataset>(ImageShape{1, 28, 28}, pixels, labels, names);
  Holdout h = holdout_split(all->size(), 0.1, /*seed=*/0);      // 10% for validation
  auto val = std::make_shared<SubsetDataset>(all, h.held_out);
  auto small = select_classes(all, parse_class_subset("0-4", all->num_classes()));
  Sample s = small->get(0);   // s.image (H, W, C) uint8, s.label in 0..4
  CHECK(val->size() == 5);
  CHECK(small->size() == 25);
  CHECK(s.image.height == 28);
  CHECK(s.image.channels == 1);
  CHECK(s.label == 0);
  CHECK(small->label(1) == 3);   // sample 1 has class 3
}

TEST_CASE("data/synthetic.h usage example") {
  SyntheticSpec spec;  spec.image_size = 32;  spec.num_classes = 10;
  auto train = make_synthetic(spec, /*n=*/1000, /*seed=*/0, /*split=*/0);
  auto test = make_synthetic(spec, 200, 0, 1);   // same class patterns, fresh noise
  CHECK(train->size() == 1000);
  CHECK(test->size() == 200);
  CHECK(train->image_shape().height == 32);
  CHECK(test->label(13) == 3);
}

TEST_CASE("data/transforms.h usage example") {
  Generator pick(1);
  Image image = random_image(40, 50, 3, pick);
  const uint64_t seed = 3, index = 17;
  TransformConfig tc;  tc.image_size = 224;              // ViT-B/16 in21k: mean = std = 0.5
  Transform train_tf(tc, /*train=*/true);
  std::vector<float> out(3 * 224 * 224);
  Generator gen(derive_seed(seed, index));               // one RNG per sample
  train_tf.apply(image, gen, out.data());                // (3, 224, 224)
  CHECK(*std::min_element(out.begin(), out.end()) >= -1.0f);
  CHECK(*std::max_element(out.begin(), out.end()) <= 1.0f);
  CHECK(*std::max_element(out.begin(), out.end()) > *std::min_element(out.begin(), out.end()));
}

TEST_CASE("data/loader.h usage example") {
  SyntheticSpec spec;
  spec.image_size = 8;
  std::shared_ptr<const Dataset> train_set = make_synthetic(spec, 150, 0, 0);
  TransformConfig tc;
  tc.image_size = 8;
  const int64_t epoch = 1;
  int64_t seen = 0;
  LoaderConfig lc;  lc.batch_size = 64;  lc.workers = 2;  lc.seed = 1;
  DataLoader loader(train_set, Transform(tc, /*train=*/true), lc);
  loader.start_epoch(epoch);                  // or start_epoch(epoch, step) to resume
  Batch b;
  while (loader.next(b)) { /* b.images (64, C, H, W) float32, b.labels (64) int64 */ seen += b.labels.numel(); }
  CHECK(seen == 150);   // 64 + 64 + 22: drop_last is off by default
  CHECK(loader.dataset().size() == 150);
  CHECK(b.images.shape() == Shape{22, 3, 8, 8});
}
