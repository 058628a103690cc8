// IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed (detected from the
// content, so "train-images-idx3-ubyte" and "train-images-idx3-ubyte.gz" read the same way).
// Layout: two zero bytes, a type byte (0x08 = unsigned byte, the only type images use), the
// number of dimensions, each dimension as a big-endian uint32, then the data row-major.
// Images have magic 0x00000803 and dims (N, H, W); labels 0x00000801 and dims (N). An images
// file and its labels file become one grayscale ArrayDataset of (N, H, W, 1).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace neat {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Reads a uint8 IDX file with `ndims` dimensions. Errors name the file and what is wrong: bad
// magic, wrong type or rank, truncated or trailing data, a corrupt gzip stream.
IdxArray read_idx(const std::string& path, int64_t ndims);

// An images file (N, H, W) and a labels file (N) as one grayscale dataset.
std::shared_ptr<ArrayDataset> read_idx_dataset(const std::string& images_path,
                                               const std::string& labels_path,
                                               std::vector<std::string> class_names);

}  // namespace neat
