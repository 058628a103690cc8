// Dataset: numbered samples, each an 8-bit image and a class label in [0, num_classes).
// Readers (cifar.h, idx.h, image_folder.h, synthetic.h) produce Datasets; splits and class
// subsets are views on them (SubsetDataset); the loader (loader.h) turns them into batches.
//
//   auto all = std::make_shared<ArrayDataset>(ImageShape{1, 28, 28}, pixels, labels, names);
//   Holdout h = holdout_split(all->size(), 0.1, /*seed=*/0);      // 10% for validation
//   auto val = std::make_shared<SubsetDataset>(all, h.held_out);
//   auto small = select_classes(all, parse_class_subset("0-4", all->num_classes()));
//   Sample s = small->get(0);   // s.image (H, W, C) uint8, s.label in 0..4
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/image.h"

namespace neat {

struct Sample {
  Image image;
  int64_t label = 0;
};

// Shape of the stored images; height and width are 0 when they differ per sample (folders).
struct ImageShape {
  int64_t channels = 0, height = 0, width = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Sample i, 0 <= i < size(). Safe to call from several threads at once.
  virtual Sample get(int64_t i) const = 0;
  // The label of sample i without decoding its image.
  virtual int64_t label(int64_t i) const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  virtual ImageShape image_shape() const = 0;
  int64_t num_classes() const { return int64_t(class_names().size()); }
};

// Images decoded once into one uint8 block of (N, H, W, C): CIFAR, IDX, synthetic.
class ArrayDataset : public Dataset {
 public:
  ArrayDataset(ImageShape shape, std::vector<uint8_t> pixels, std::vector<int64_t> labels,
               std::vector<std::string> class_names);
  int64_t size() const override { return int64_t(labels_.size()); }
  Sample get(int64_t i) const override;
  int64_t label(int64_t i) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  ImageShape image_shape() const override { return shape_; }
  const uint8_t* image_data(int64_t i) const;   // H*W*C bytes of sample i

 private:
  ImageShape shape_;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
};

// Samples indices[0], indices[1], ... of another dataset. With a label map, base label l becomes
// label_map[l] (every selected sample must map to >= 0) and the class names are replaced.
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices,
                std::vector<int64_t> label_map, std::vector<std::string> class_names);
  int64_t size() const override { return int64_t(indices_.size()); }
  Sample get(int64_t i) const override;
  int64_t label(int64_t i) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  ImageShape image_shape() const override { return base_->image_shape(); }

 private:
  int64_t base_index(int64_t i) const;
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
  std::vector<int64_t> label_map_;   // empty: labels unchanged
  std::vector<std::string> class_names_;
};

// A seeded random split of 0..n-1: round(n * fraction) indices held out, the rest kept; both
// sorted. The same (n, fraction, seed) always gives the same split.
struct Holdout {
  std::vector<int64_t> kept, held_out;
};
Holdout holdout_split(int64_t n, double fraction, uint64_t seed);

// `count` indices of a dataset chosen at random (seeded), class-balanced: the classes take
// turns, each giving its next sample in a seeded shuffle, until count are taken (a class that
// runs out leaves its turns to the others). Sorted. All indices when count >= size. The same
// for every dataset kind, so --train-limit N on a folder sorted class by class is not N images
// of the first class.
std::vector<int64_t> balanced_subset(const Dataset& data, int64_t count, uint64_t seed);

// "0-4" -> {0,1,2,3,4}; "1,3,5" -> {1,3,5}; "0-2,7" -> {0,1,2,7}. Sorted; each class in
// [0, num_classes) at most once; errors name the offending part of the spec.
std::vector<int64_t> parse_class_subset(const std::string& spec, int64_t num_classes);
// The spec's ranges as written, [first, last] each ("0-2,7" -> {0,2}, {7,7}): its syntax,
// order within each range and repeats checked, the dataset's class count not (a flag check).
std::vector<std::pair<int64_t, int64_t>> parse_class_ranges(const std::string& spec);
// The samples whose label is in `classes` (sorted), relabelled 0..k-1 in that order.
std::shared_ptr<const Dataset> select_classes(std::shared_ptr<const Dataset> data,
                                              const std::vector<int64_t>& classes);

// A new seed from a seed and a stream number (splitmix64 of both), e.g. the seed of one
// sample's augmentation in one epoch: derive_seed(derive_seed(seed, epoch), index).
uint64_t derive_seed(uint64_t seed, uint64_t stream);

// 0 .. n-1 shuffled by Fisher-Yates with Generator(seed) (the order in which train/text_batches.h
// and train/lm_batches.h visit an epoch).
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed);

}  // namespace neat
