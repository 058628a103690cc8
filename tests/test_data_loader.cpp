// Tests for splits, class subsets, load_dataset (every --data kind, on files written here, and
// the real Debian Fashion-MNIST when installed) and the DataLoader: one epoch visits every
// sample once, batches do not depend on the worker count, resume reproduces the rest of an
// epoch, and a worker's error reaches the caller.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "data/idx.h"
#include "data/image_folder.h"
#include "data/load_dataset.h"
#include "tests/skip.h"
#include "tests/test_data_util.h"

using namespace neat;
using namespace neat_test;

namespace {

std::shared_ptr<const Dataset> small_synthetic(int64_t n, int64_t size = 8, int64_t classes = 4) {
  SyntheticSpec s;
  s.image_size = size;
  s.num_classes = classes;
  return make_synthetic(s, n, 3, 0);
}

std::vector<Batch> whole_epoch(DataLoader& loader, int64_t epoch, int64_t first_step = 0) {
  loader.start_epoch(epoch, first_step);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

bool same_batch(const Batch& a, const Batch& b) {
  return a.indices == b.indices && a.images.shape() == b.images.shape() &&
         a.images.to_vector<float>() == b.images.to_vector<float>() &&
         a.labels.to_vector<int64_t>() == b.labels.to_vector<int64_t>();
}

}  // namespace

TEST_CASE("holdout_split: disjoint, complete, stable for a seed, 10% held out") {
  Holdout a = holdout_split(1003, 0.1, 5), b = holdout_split(1003, 0.1, 5), c = holdout_split(1003, 0.1, 6);
  CHECK(a.held_out.size() == 100);
  CHECK(a.kept.size() == 903);
  CHECK(a.held_out == b.held_out);
  CHECK(a.kept == b.kept);
  CHECK(a.held_out != c.held_out);
  std::vector<int64_t> all = a.kept;
  all.insert(all.end(), a.held_out.begin(), a.held_out.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 1003; ++i) REQUIRE(all[i] == i);   // disjoint and complete
  CHECK(std::is_sorted(a.held_out.begin(), a.held_out.end()));
  CHECK(holdout_split(10, 0.0, 1).held_out.empty());
  CHECK(contains(thrown_message([] { holdout_split(10, 1.0, 1); }), "fraction in [0, 1)"));
}

TEST_CASE("class subsets: parsing and relabelling to 0..k-1") {
  CHECK(parse_class_subset("0-4", 10) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(parse_class_subset("1,3,5", 10) == std::vector<int64_t>{1, 3, 5});
  CHECK(parse_class_subset("7,0-2", 10) == std::vector<int64_t>{0, 1, 2, 7});
  CHECK(contains(thrown_message([] { parse_class_subset("0-10", 10); }), "class 10 in '0-10' is out of range"));
  CHECK(contains(thrown_message([] { parse_class_subset("4-2", 10); }), "empty range '4-2'"));
  CHECK(contains(thrown_message([] { parse_class_subset("1,x", 10); }), "'x' in '1,x' is not a class number"));
  CHECK(contains(thrown_message([] { parse_class_subset("1,1", 10); }), "class 1 appears twice"));
  CHECK(contains(thrown_message([] { parse_class_subset("", 10); }), "selects no class"));
  // Overlapping ranges repeat a class; a number too long for int64 is not a class number
  // (std::stoll used to throw its bare "stoll").
  CHECK(contains(thrown_message([] { parse_class_subset("2-5,0-3", 10); }), "class 2 appears twice"));
  CHECK(contains(thrown_message([] { parse_class_subset("99999999999999999999", 10); }),
                 "'99999999999999999999' in '99999999999999999999' is not a class number"));
  CHECK(parse_class_ranges("7,0-2") == std::vector<std::pair<int64_t, int64_t>>{{7, 7}, {0, 2}});
  CHECK(parse_class_ranges("0-500") == std::vector<std::pair<int64_t, int64_t>>{{0, 500}});

  auto data = small_synthetic(40, 4, 8);   // sample i has class i % 8
  auto sub = select_classes(data, {2, 5});
  CHECK(sub->num_classes() == 2);
  CHECK(sub->class_names() == std::vector<std::string>{"pattern_2", "pattern_5"});
  REQUIRE(sub->size() == 10);
  for (int64_t i = 0; i < sub->size(); ++i) {
    Sample s = sub->get(i);
    CHECK(s.label == (i % 2 == 0 ? 0 : 1));
    CHECK(sub->label(i) == s.label);
  }
  CHECK(sub->get(1).image.pixels == data->get(5).image.pixels);
}

TEST_CASE("synthetic: seeded, shared class patterns, learnable by the class mean") {
  SyntheticSpec s;
  s.image_size = 6;
  s.channels = 2;
  s.num_classes = 3;
  auto a = make_synthetic(s, 30, 9, 0), b = make_synthetic(s, 30, 9, 0), test = make_synthetic(s, 30, 9, 1);
  CHECK(a->image_shape().channels == 2);
  CHECK(a->get(4).image.pixels == b->get(4).image.pixels);
  CHECK(a->get(4).image.pixels != test->get(4).image.pixels);
  // Nearest class mean (from the train split) classifies the test split well above chance.
  std::vector<std::vector<double>> mean(3, std::vector<double>(72, 0.0));
  for (int64_t i = 0; i < a->size(); ++i) {
    Sample x = a->get(i);
    for (int p = 0; p < 72; ++p) mean[x.label][p] += x.image.pixels[p] / 10.0;
  }
  int correct = 0;
  for (int64_t i = 0; i < test->size(); ++i) {
    Sample x = test->get(i);
    int best = 0;
    double best_d = 1e300;
    for (int k = 0; k < 3; ++k) {
      double d = 0;
      for (int p = 0; p < 72; ++p) d += (x.image.pixels[p] - mean[k][p]) * (x.image.pixels[p] - mean[k][p]);
      if (d < best_d) best_d = d, best = k;
    }
    correct += best == x.label;
  }
  CHECK(correct >= 27);
}

TEST_CASE("DataLoader: one epoch visits every sample exactly once") {
  auto data = small_synthetic(23);
  TransformConfig tc;
  tc.image_size = 8;
  for (int64_t workers : {0, 1, 2}) {
    LoaderConfig lc;
    lc.batch_size = 5;
    lc.workers = workers;
    DataLoader loader(data, Transform(tc, true), lc);
    CHECK(loader.steps_per_epoch() == 5);
    std::vector<Batch> batches = whole_epoch(loader, 0);
    REQUIRE(batches.size() == 5);
    CHECK(batches.back().images.size(0) == 3);   // 23 = 4 * 5 + 3
    std::vector<int64_t> seen;
    for (const Batch& b : batches) {
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
      std::vector<int64_t> labels = b.labels.to_vector<int64_t>();
      for (size_t k = 0; k < labels.size(); ++k) CHECK(labels[k] == data->label(b.indices[k]));
    }
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 23; ++i) REQUIRE(sorted[i] == i);
    CHECK(seen != sorted);   // shuffled
  }
}

TEST_CASE("DataLoader: drop_last, no shuffle, and each image is the transformed sample") {
  auto data = small_synthetic(23);
  TransformConfig tc;
  tc.native_resolution = true;
  LoaderConfig lc;
  lc.batch_size = 5;
  lc.drop_last = true;
  lc.shuffle = false;
  lc.workers = 2;
  DataLoader loader(data, Transform(tc, false), lc);
  CHECK(loader.steps_per_epoch() == 4);
  std::vector<Batch> batches = whole_epoch(loader, 3);
  REQUIRE(batches.size() == 4);
  CHECK(batches[1].indices == std::vector<int64_t>{5, 6, 7, 8, 9});
  CHECK(batches[1].epoch == 3);
  CHECK(batches[1].step == 1);
  std::vector<float> want(3 * 8 * 8);
  normalize_to_chw(data->get(7).image, tc.mean, tc.std, 3, want.data());
  std::vector<float> all = batches[1].images.to_vector<float>();
  CHECK(std::vector<float>(all.begin() + 2 * 192, all.begin() + 3 * 192) == want);
}

TEST_CASE("DataLoader: batches depend on (seed, epoch, step) only, not on the workers") {
  auto data = small_synthetic(30, 12);
  TransformConfig tc;
  tc.image_size = 10;
  std::vector<std::vector<Batch>> runs;
  for (int64_t workers : {0, 1, 2}) {
    LoaderConfig lc;
    lc.batch_size = 4;
    lc.workers = workers;
    lc.prefetch = 3;
    lc.seed = 21;
    DataLoader loader(data, Transform(tc, true), lc);
    std::vector<Batch> run = whole_epoch(loader, 0);
    std::vector<Batch> second = whole_epoch(loader, 1);
    run.insert(run.end(), second.begin(), second.end());
    runs.push_back(run);
  }
  REQUIRE(runs[0].size() == 16);
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t i = 0; i < runs[0].size(); ++i) REQUIRE(same_batch(runs[0][i], runs[r][i]));
  CHECK(runs[0][0].indices != runs[0][8].indices);   // epochs 0 and 1 differ
  LoaderConfig other;
  other.batch_size = 4;
  other.seed = 22;
  DataLoader loader(data, Transform(tc, true), other);
  CHECK(!same_batch(whole_epoch(loader, 0)[0], runs[0][0]));
}

TEST_CASE("DataLoader: resuming at (epoch, step) reproduces the remaining batches") {
  auto data = small_synthetic(26);
  TransformConfig tc;
  tc.image_size = 6;
  LoaderConfig lc;
  lc.batch_size = 4;
  lc.workers = 2;
  lc.seed = 5;
  DataLoader full(data, Transform(tc, true), lc);
  std::vector<Batch> uninterrupted = whole_epoch(full, 2);
  REQUIRE(uninterrupted.size() == 7);
  // A fresh loader (as after a restart from a checkpoint) started at step 4 of epoch 2.
  DataLoader resumed(data, Transform(tc, true), lc);
  std::vector<Batch> rest = whole_epoch(resumed, 2, 4);
  REQUIRE(rest.size() == 3);
  for (size_t i = 0; i < rest.size(); ++i) CHECK(same_batch(rest[i], uninterrupted[4 + i]));
  // Restarting while workers are still prefetching drops their stale batches.
  Batch b;
  full.start_epoch(0);
  REQUIRE(full.next(b));
  full.start_epoch(2, 6);
  REQUIRE(full.next(b));
  CHECK(same_batch(b, uninterrupted[6]));
  CHECK(!full.next(b));
  CHECK(contains(thrown_message([&] { full.start_epoch(0, 8); }), "cannot start epoch 0 at step 8"));
}

TEST_CASE("DataLoader: a worker's error reaches next(), naming the image") {
  TempDir tmp;
  Generator gen(8);
  save_image(tmp / "r/a/0.png", random_image(6, 6, 3, gen));
  write_bytes(tmp / "r/a/1.png", {1, 2, 3, 4});
  save_image(tmp / "r/b/0.png", random_image(9, 7, 3, gen));
  auto folder = std::make_shared<ImageFolder>(tmp / "r", 1 << 20);
  TransformConfig tc;
  tc.image_size = 4;
  for (int64_t workers : {0, 2}) {
    LoaderConfig lc;
    lc.batch_size = 3;
    lc.workers = workers;
    DataLoader loader(folder, Transform(tc, true), lc);
    loader.start_epoch(0);
    Batch b;
    CHECK(contains(thrown_message([&] { loader.next(b); }), "cannot decode " + tmp / "r/a/1.png"));
  }
  // Native resolution cannot batch images of different sizes.
  std::filesystem::remove(tmp / "r/a/1.png");
  auto sized = std::make_shared<ImageFolder>(tmp / "r", 1 << 20);
  tc.native_resolution = true;
  LoaderConfig lc;
  lc.batch_size = 2;
  DataLoader loader(sized, Transform(tc, false), lc);
  loader.start_epoch(0);
  Batch b;
  CHECK(contains(thrown_message([&] { loader.next(b); }), "turn native_resolution off"));
}

TEST_CASE("load_dataset: cifar10 and cifar100 from --data-dir, with holdout and classes") {
  TempDir tmp;
  Generator gen(9);
  for (int b = 1; b <= 5; ++b) {
    std::vector<uint8_t> bytes;
    for (int r = 0; r < 4; ++r) append_cifar_record(bytes, {uint8_t((b + r) % 10)}, random_image(32, 32, 3, gen));
    write_bytes(tmp / ("cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin"), bytes);
  }
  std::vector<uint8_t> test;
  for (int r = 0; r < 6; ++r) append_cifar_record(test, {uint8_t(r)}, random_image(32, 32, 3, gen));
  write_bytes(tmp / "cifar-10-batches-bin/test_batch.bin", test);
  DataSpec spec;
  spec.name = "cifar10";
  spec.data_dir = tmp.path();
  DataSplits s = load_dataset(spec);
  CHECK(s.train->size() == 18);
  CHECK(s.val->size() == 2);
  CHECK(s.test->size() == 6);
  CHECK(s.class_names == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  spec.classes = "1,3";
  s = load_dataset(spec);
  CHECK(s.class_names.size() == 2);
  CHECK(s.test->size() == 2);
  CHECK(s.test->label(1) == 1);
  CHECK(contains(s.summary, "classes 1,3 (relabelled 0..1)"));

  std::vector<uint8_t> c100;
  for (int r = 0; r < 10; ++r) append_cifar_record(c100, {uint8_t(r), uint8_t(10 * r)}, random_image(32, 32, 3, gen));
  write_bytes(tmp / "cifar-100-binary/train.bin", c100);
  write_bytes(tmp / "cifar-100-binary/test.bin", c100);
  spec.name = "cifar100";
  spec.classes = "";
  s = load_dataset(spec);
  CHECK(s.train->size() == 9);
  CHECK(s.class_names.size() == 100);
  CHECK(s.test->label(3) == 30);
  spec.cifar100_labels = CifarLabels::Coarse;
  CHECK(load_dataset(spec).test->label(3) == 3);
}

TEST_CASE("load_dataset: missing data says where it looked and how to fetch it") {
  TempDir tmp;
  DataSpec spec;
  spec.data_dir = tmp / "nothing";
  spec.name = "cifar10";
  std::string msg = thrown_message([&] { load_dataset(spec); });
  CHECK(contains(msg, "cannot find " + tmp / "nothing/cifar-10-batches-bin/data_batch_1.bin"));
  CHECK(contains(msg, "fetch it with: scripts/get_data.sh cifar10 " + tmp / "nothing"));
  spec.data_dir = "data";
  spec.name = "cifar100";
  CHECK(contains(thrown_message([&] { load_dataset(spec); }), "fetch it with: scripts/get_data.sh cifar100"));
  spec.name = "imagenet";
  CHECK(contains(thrown_message([&] { load_dataset(spec); }), "unknown dataset 'imagenet'"));
  spec.name = "folder:" + tmp / "nowhere";
  CHECK(contains(thrown_message([&] { load_dataset(spec); }), tmp / "nowhere is not a directory"));
}

TEST_CASE("load_dataset: fashion-mnist from gzip IDX files in --data-dir") {
  TempDir tmp;
  Generator gen(10);
  std::vector<uint8_t> pixels(20 * 28 * 28), labels(20);
  for (uint8_t& v : pixels) v = uint8_t(gen.below(256));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = uint8_t(i % 10);
  write_gzip(tmp / "fm/train-images-idx3-ubyte.gz", idx_bytes({20, 28, 28}, pixels));
  write_gzip(tmp / "fm/train-labels-idx1-ubyte.gz", idx_bytes({20}, labels));
  write_bytes(tmp / "fm/t10k-images-idx3-ubyte", idx_bytes({20, 28, 28}, pixels));   // plain works too
  write_bytes(tmp / "fm/t10k-labels-idx1-ubyte", idx_bytes({20}, labels));
  DataSpec spec;
  spec.name = "fashion-mnist";
  spec.data_dir = tmp / "fm";
  DataSplits s = load_dataset(spec);
  CHECK(s.train->size() == 18);
  CHECK(s.test->size() == 20);
  CHECK(s.class_names[9] == "Ankle boot");
  CHECK(s.test->get(3).image.pixels == std::vector<uint8_t>(pixels.begin() + 3 * 784, pixels.begin() + 4 * 784));
  std::filesystem::remove(tmp / "fm/t10k-labels-idx1-ubyte");
  CHECK(contains(thrown_message([&] { load_dataset(spec); }), "no t10k-labels-idx1-ubyte[.gz]"));
}

TEST_CASE("load_dataset: image folders with and without train/val/test") {
  TempDir tmp;
  Generator gen(11);
  for (const char* split : {"train", "val", "test"})
    for (const char* cls : {"b_cls", "a_cls"})
      for (int i = 0; i < (std::string(split) == "train" ? 3 : 1); ++i)
        save_image(tmp / ("ds/" + std::string(split) + "/" + cls + "/" + std::to_string(i) + ".png"),
                    random_image(5 + i, 4, 3, gen));
  DataSpec spec;
  spec.name = "folder:" + tmp / "ds";
  DataSplits s = load_dataset(spec);
  CHECK(s.class_names == std::vector<std::string>{"a_cls", "b_cls"});
  CHECK(s.train->size() == 6);
  CHECK(s.val->size() == 2);
  CHECK(s.test->size() == 2);
  CHECK(s.test != s.val);
  // Without val/ and test/, val is held out of train and test is val.
  std::filesystem::remove_all(tmp / "ds/val");
  std::filesystem::remove_all(tmp / "ds/test");
  spec.val_fraction = 0.5;
  s = load_dataset(spec);
  CHECK(s.train->size() == 3);
  CHECK(s.val->size() == 3);
  CHECK(s.test == s.val);
  CHECK(contains(s.summary, "(= val: no test/ folder)"));
  // A bare root/<class>/<image> tree is the training pool itself.
  spec.name = "folder:" + tmp / "ds/train";
  spec.classes = "1";
  s = load_dataset(spec);
  CHECK(s.class_names == std::vector<std::string>{"b_cls"});
  CHECK(s.train->size() + s.val->size() == 3);
  CHECK(s.test == s.val);
}

TEST_CASE("load_dataset: the real Fashion-MNIST (Debian's dataset-fashion-mnist)") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"))
    return neat::test::skip(dir + " not found (apt-get install dataset-fashion-mnist)");
  DataSpec spec;
  spec.name = "fashion-mnist";
  spec.data_dir = dir;
  DataSplits s = load_dataset(spec);
  CHECK(s.train->size() == 54000);
  CHECK(s.val->size() == 6000);
  CHECK(s.test->size() == 10000);
  CHECK(s.train->image_shape().height == 28);
  CHECK(s.train->image_shape().channels == 1);
  // The published set is balanced: 6000 training and 1000 test images per class.
  std::vector<int64_t> train_count(10, 0), test_count(10, 0);
  for (auto part : {s.train, s.val})
    for (int64_t i = 0; i < part->size(); ++i) ++train_count[part->label(i)];
  for (int64_t i = 0; i < s.test->size(); ++i) ++test_count[s.test->label(i)];
  CHECK(train_count == std::vector<int64_t>(10, 6000));
  CHECK(test_count == std::vector<int64_t>(10, 1000));
  // The first training image is an ankle boot (class 9).
  IdxArray labels = read_idx(dir + "/train-labels-idx1-ubyte.gz", 1);
  CHECK(labels.data[0] == 9);
}
