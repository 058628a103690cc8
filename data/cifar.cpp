#include "data/cifar.h"

#include <filesystem>

#include "data/text_lines.h"
#include "tensor/check.h"

namespace neat {

namespace {

constexpr int64_t kSide = 32, kPlane = kSide * kSide, kPixels = 3 * kPlane;

// Appends the records of one file: label_bytes label bytes (the one at label_index is kept),
// then three 32x32 colour planes, which are interleaved into (H, W, C).
void append_records(const std::string& path, int64_t label_bytes, int64_t label_index,
                    int64_t num_classes, std::vector<uint8_t>& pixels, std::vector<int64_t>& labels) {
  std::vector<uint8_t> bytes = read_file_bytes(path, "cifar");
  const int64_t record = label_bytes + kPixels;
  const int64_t n = int64_t(bytes.size()) / record;
  NEAT_CHECK(!bytes.empty() && int64_t(bytes.size()) == n * record, "cifar: ", path, " is truncated or not a CIFAR file: ",
             bytes.size(), " bytes is not a whole number of ", record, "-byte records");
  size_t base = pixels.size();
  pixels.resize(base + size_t(n * kPixels));
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = bytes.data() + r * record;
    int64_t label = rec[label_index];
    NEAT_CHECK(label < num_classes, "cifar: ", path, ": record ", r, " has label ", label,
               ", outside [0, ", num_classes, ") (corrupt file?)");
    labels.push_back(label);
    const uint8_t* planes = rec + label_bytes;
    uint8_t* out = pixels.data() + base + r * kPixels;
    for (int64_t p = 0; p < kPlane; ++p)
      for (int64_t c = 0; c < 3; ++c) out[p * 3 + c] = planes[c * kPlane + p];
  }
}

}  // namespace

std::shared_ptr<ArrayDataset> read_cifar10(const std::vector<std::string>& files,
                                           std::vector<std::string> class_names) {
  NEAT_CHECK(class_names.size() == 10, "cifar10: expected 10 class names, got ", class_names.size());
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (const std::string& f : files) append_records(f, 1, 0, 10, pixels, labels);
  return std::make_shared<ArrayDataset>(ImageShape{3, kSide, kSide}, std::move(pixels),
                                        std::move(labels), std::move(class_names));
}

std::shared_ptr<ArrayDataset> read_cifar100(const std::string& file, CifarLabels which,
                                            std::vector<std::string> class_names) {
  int64_t classes = which == CifarLabels::Fine ? 100 : 20;
  NEAT_CHECK(int64_t(class_names.size()) == classes, "cifar100: expected ", classes,
             " class names, got ", class_names.size());
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  append_records(file, 2, which == CifarLabels::Fine ? 1 : 0, classes, pixels, labels);
  return std::make_shared<ArrayDataset>(ImageShape{3, kSide, kSide}, std::move(pixels),
                                        std::move(labels), std::move(class_names));
}

std::vector<std::string> read_class_names(const std::string& path, int64_t expected) {
  std::vector<std::string> names;
  if (!std::filesystem::exists(path)) {
    for (int64_t c = 0; c < expected; ++c) names.push_back(std::to_string(c));
    return names;
  }
  TextLines lines(path, "class names");
  std::string line;
  while (lines.next(line)) {
    size_t first = line.find_first_not_of(" \t\r"), last = line.find_last_not_of(" \t\r");
    if (first != std::string::npos) names.push_back(line.substr(first, last - first + 1));
  }
  NEAT_CHECK(int64_t(names.size()) == expected, "class names: ", path, " has ", names.size(),
             " names, expected ", expected);
  return names;
}

}  // namespace neat
