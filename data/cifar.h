// CIFAR-10 and CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html).
// Each record is its label byte(s) then 3072 pixel bytes: the 1024 red values of the 32x32 image
// row by row, then the green, then the blue. CIFAR-10 records have 1 label byte (3073 bytes);
// CIFAR-100 records have the coarse (20 superclasses) then the fine (100 classes) label (3074).
// The images are decoded once into one uint8 block, (N, 32, 32, 3). load_dataset (load_dataset.h)
// finds the files; these functions read the ones they are given.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace neat {

enum class CifarLabels { Fine, Coarse };   // CIFAR-100 only

// Files are concatenated in order. Errors name the file and what is wrong (not a whole number
// of records, a label out of range).
std::shared_ptr<ArrayDataset> read_cifar10(const std::vector<std::string>& files,
                                           std::vector<std::string> class_names);
std::shared_ptr<ArrayDataset> read_cifar100(const std::string& file, CifarLabels labels,
                                            std::vector<std::string> class_names);

// Non-empty lines of a text file (batches.meta.txt, fine_label_names.txt, ...), which must
// number `expected`; when the file does not exist: "0", "1", ..., "expected-1". A byte that is
// not UTF-8 (the names go into JSON files) is an error naming the file, line and column.
std::vector<std::string> read_class_names(const std::string& path, int64_t expected);

}  // namespace neat
