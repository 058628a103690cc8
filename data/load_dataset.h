// data/: datasets, transforms and the batching loader; only tensor/ below it. This header is
// the entry point: load_dataset turns the command line's --data choice into train / val / test
// datasets, a Transform says how an image becomes model input, a DataLoader makes batches.
//
//   DataSpec spec;                                   // --data synthetic (or cifar10, folder:PATH, ...)
//   spec.synthetic.n_train = 200;  spec.synthetic.n_test = 50;  spec.synthetic.image_size = 16;
//   DataSplits splits = load_dataset(spec);          // train 180, val 20 (10% held out), test 50
//   TransformConfig tc;  tc.native_resolution = true;   // small ViT: keep 16x16, flip + normalize
//   LoaderConfig lc;  lc.batch_size = 32;  lc.drop_last = true;  lc.seed = 7;
//   DataLoader loader(splits.train, Transform(tc, /*train=*/true), lc);   // 5 steps per epoch
//   for (int64_t epoch = 0; epoch < 2; ++epoch) {
//     loader.start_epoch(epoch);                     // resume mid-epoch: start_epoch(epoch, step)
//     Batch batch;
//     while (loader.next(batch)) {
//       // batch.images: (32, 3, 16, 16) float32 in [-1, 1]; batch.labels: (32) int64 in [0, 10)
//     }
//   }
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/cifar.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "data/transforms.h"

namespace neat {

struct DataSpec {
  // cifar10 | cifar100 | fashion-mnist | synthetic | folder:PATH
  std::string name = "synthetic";
  // Where cifar10 (<dir>/cifar-10-batches-bin), cifar100 (<dir>/cifar-100-binary) and
  // fashion-mnist (<dir>, <dir>/fashion-mnist, then ./data/fashion-mnist and
  // /usr/share/datasets/fashion-mnist) are looked for.
  std::string data_dir = "data";
  std::string classes;          // "" = all; "0-4", "1,3,5": kept classes, relabelled 0..k-1
  double val_fraction = 0.1;    // held out of train (seeded) when there is no val split
  uint64_t seed = 0;            // of the holdout and of the synthetic data
  CifarLabels cifar100_labels = CifarLabels::Fine;
  SyntheticSpec synthetic;
  size_t folder_cache_bytes = size_t(512) << 20;   // decoded-image cache of each folder split
};

struct DataSplits {
  std::shared_ptr<const Dataset> train, val, test;
  std::vector<std::string> class_names;
  // Where each split came from and its size, e.g. "cifar10 (data/cifar-10-batches-bin): train
  // 45000, val 5000 (10% of train held out, seed 0), test 10000".
  std::string summary;
};

// A missing dataset is an error that says where it looked and the command that fetches it
// (scripts/get_data.sh cifar10). Image folders: root/train, root/val, root/test when root has
// a train/ subfolder, else root itself is the training pool; without val/ a seeded
// val_fraction of train is held out; without test/ the test split is the val split.
DataSplits load_dataset(const DataSpec& spec);

}  // namespace neat
