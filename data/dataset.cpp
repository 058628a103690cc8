#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "tensor/check.h"
#include "tensor/random.h"

namespace neat {

// ---- ArrayDataset ------------------------------------------------------------------------
ArrayDataset::ArrayDataset(ImageShape shape, std::vector<uint8_t> pixels,
                           std::vector<int64_t> labels, std::vector<std::string> class_names)
    : shape_(shape), pixels_(std::move(pixels)), labels_(std::move(labels)),
      class_names_(std::move(class_names)) {
  int64_t per_image = shape_.channels * shape_.height * shape_.width;
  NEAT_CHECK(per_image > 0, "ArrayDataset: image shape must be positive, got C=", shape_.channels,
             " H=", shape_.height, " W=", shape_.width);
  NEAT_CHECK(int64_t(pixels_.size()) == size() * per_image, "ArrayDataset: ", size(),
             " labels need ", size() * per_image, " pixel bytes, got ", pixels_.size());
  for (int64_t i = 0; i < size(); ++i)
    NEAT_CHECK(labels_[i] >= 0 && labels_[i] < num_classes(), "ArrayDataset: label ", labels_[i],
               " of sample ", i, " is outside [0, ", num_classes(), ")");
}

const uint8_t* ArrayDataset::image_data(int64_t i) const {
  NEAT_CHECK(i >= 0 && i < size(), "ArrayDataset: index ", i, " out of range for size ", size());
  return pixels_.data() + i * shape_.channels * shape_.height * shape_.width;
}

Sample ArrayDataset::get(int64_t i) const {
  const uint8_t* src = image_data(i);
  Sample s{Image(shape_.height, shape_.width, shape_.channels), labels_[i]};
  std::copy(src, src + s.image.pixels.size(), s.image.pixels.begin());
  return s;
}

int64_t ArrayDataset::label(int64_t i) const {
  NEAT_CHECK(i >= 0 && i < size(), "ArrayDataset: index ", i, " out of range for size ", size());
  return labels_[i];
}

// ---- SubsetDataset -----------------------------------------------------------------------
SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)), class_names_(base_->class_names()) {
  for (int64_t j : indices_)
    NEAT_CHECK(j >= 0 && j < base_->size(), "SubsetDataset: index ", j,
               " out of range for a dataset of ", base_->size());
}

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices,
                             std::vector<int64_t> label_map, std::vector<std::string> class_names)
    : SubsetDataset(std::move(base), std::move(indices)) {
  NEAT_CHECK(int64_t(label_map.size()) == base_->num_classes(), "SubsetDataset: label map has ",
             label_map.size(), " entries for ", base_->num_classes(), " classes");
  label_map_ = std::move(label_map);
  class_names_ = std::move(class_names);
  for (int64_t j : indices_) {
    int64_t mapped = label_map_[base_->label(j)];
    NEAT_CHECK(mapped >= 0 && mapped < num_classes(), "SubsetDataset: sample ", j, " has class ",
               base_->label(j), " which the label map does not keep");
  }
}

int64_t SubsetDataset::base_index(int64_t i) const {
  NEAT_CHECK(i >= 0 && i < size(), "SubsetDataset: index ", i, " out of range for size ", size());
  return indices_[i];
}

Sample SubsetDataset::get(int64_t i) const {
  Sample s = base_->get(base_index(i));
  if (!label_map_.empty()) s.label = label_map_[s.label];
  return s;
}

int64_t SubsetDataset::label(int64_t i) const {
  int64_t l = base_->label(base_index(i));
  return label_map_.empty() ? l : label_map_[l];
}

// ---- splits and class subsets ------------------------------------------------------------
uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  Generator g(seed ^ (stream * 0xD1B54A32D192ED03ull));
  g.next_u64();
  return g.next_u64();
}

Holdout holdout_split(int64_t n, double fraction, uint64_t seed) {
  NEAT_CHECK(n >= 0 && fraction >= 0 && fraction < 1, "holdout_split: need n >= 0 and fraction in [0, 1), got n=",
             n, " fraction=", fraction);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  Generator gen(derive_seed(seed, 0x484F4C44));   // stream "HOLD"
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[gen.below(uint64_t(i + 1))]);
  int64_t n_held = int64_t(std::llround(double(n) * fraction));
  Holdout h;
  h.held_out.assign(order.begin(), order.begin() + n_held);
  h.kept.assign(order.begin() + n_held, order.end());
  std::sort(h.held_out.begin(), h.held_out.end());
  std::sort(h.kept.begin(), h.kept.end());
  return h;
}

std::vector<int64_t> balanced_subset(const Dataset& data, int64_t count, uint64_t seed) {
  const int64_t n = data.size();
  std::vector<int64_t> chosen;
  if (count >= n) {
    chosen.resize(size_t(n));
    std::iota(chosen.begin(), chosen.end(), int64_t(0));
    return chosen;
  }
  std::vector<std::vector<int64_t>> by_class(size_t(std::max<int64_t>(data.num_classes(), 1)));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = data.label(i);
    if (label >= int64_t(by_class.size())) by_class.resize(size_t(label + 1));
    by_class[size_t(label)].push_back(i);
  }
  Generator gen(derive_seed(seed, 0x4C494D54));   // stream "LIMT"
  for (std::vector<int64_t>& members : by_class)
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[gen.below(i)]);
  for (size_t round = 0; int64_t(chosen.size()) < count; ++round)
    for (const std::vector<int64_t>& members : by_class)
      if (round < members.size() && int64_t(chosen.size()) < count) chosen.push_back(members[round]);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

static int64_t parse_class_number(const std::string& text, const std::string& spec) {
  // At most 9 digits: no dataset has a billion classes, and std::stoll cannot overflow.
  NEAT_CHECK(!text.empty() && text.size() <= 9 &&
                 text.find_first_not_of("0123456789") == std::string::npos,
             "classes: '", text, "' in '", spec, "' is not a class number (use e.g. 0-4 or 1,3,5)");
  return std::stoll(text);
}

std::vector<std::pair<int64_t, int64_t>> parse_class_ranges(const std::string& spec) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::stringstream parts(spec);
  std::string part;
  while (std::getline(parts, part, ',')) {
    size_t dash = part.find('-');
    int64_t first = parse_class_number(part.substr(0, dash), spec);
    int64_t last = dash == std::string::npos ? first : parse_class_number(part.substr(dash + 1), spec);
    NEAT_CHECK(first <= last, "classes: empty range '", part, "' in '", spec, "'");
    ranges.emplace_back(first, last);
  }
  NEAT_CHECK(!ranges.empty(), "classes: '", spec, "' selects no class");
  std::vector<std::pair<int64_t, int64_t>> sorted = ranges;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i)
    NEAT_CHECK(sorted[i].first > sorted[i - 1].second, "classes: class ", sorted[i].first,
               " appears twice in '", spec, "'");
  return ranges;
}

std::vector<int64_t> parse_class_subset(const std::string& spec, int64_t num_classes) {
  std::vector<int64_t> classes;
  for (const auto& [first, last] : parse_class_ranges(spec)) {
    NEAT_CHECK(last < num_classes, "classes: class ", last, " in '", spec, "' is out of range: the dataset has ",
               num_classes, " classes (0..", num_classes - 1, ")");
    for (int64_t c = first; c <= last; ++c) classes.push_back(c);
  }
  std::sort(classes.begin(), classes.end());
  return classes;
}

std::shared_ptr<const Dataset> select_classes(std::shared_ptr<const Dataset> data,
                                              const std::vector<int64_t>& classes) {
  std::vector<int64_t> label_map(static_cast<size_t>(data->num_classes()), -1);
  std::vector<std::string> names;
  for (int64_t c : classes) {
    NEAT_CHECK(c >= 0 && c < data->num_classes() && label_map[c] < 0, "select_classes: class ", c,
               " is out of range or repeated (", data->num_classes(), " classes)");
    label_map[c] = int64_t(names.size());
    names.push_back(data->class_names()[c]);
  }
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < data->size(); ++i)
    if (label_map[data->label(i)] >= 0) indices.push_back(i);
  return std::make_shared<SubsetDataset>(std::move(data), std::move(indices), std::move(label_map),
                                         std::move(names));
}

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  Generator gen(seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);
  return order;
}

}  // namespace neat
