#include "train/top_classes.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "train/run_support.h"

namespace neat {

void print_top_classes(std::ostream& out, const std::string& label, const std::vector<float>& logits,
                       const std::vector<std::string>& names) {
  const float top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double total = 0;
  for (size_t c = 0; c < p.size(); ++c) total += p[c] = std::exp(double(logits[c] - top));
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), size_t(0));
  const size_t k = std::min<size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(),
                    [&](size_t a, size_t b) { return p[a] > p[b]; });
  out << label << ":";
  for (size_t i = 0; i < k; ++i) {
    const size_t c = order[i];
    out << (i ? ", " : " ") << (c < names.size() ? names[c] : "class " + std::to_string(c)) << " "
        << fixed(p[c] / total, 3);
  }
  out << "\n";
}

}  // namespace neat
