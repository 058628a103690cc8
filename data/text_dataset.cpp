#include "data/text_dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "tensor/check.h"

namespace neat {

std::string TextScores::str() const {
  std::ostringstream s;
  s.precision(4);
  s << std::fixed;
  switch (metric) {
    case TextMetric::kAccuracy: s << "accuracy " << accuracy; break;
    case TextMetric::kAccuracyF1: s << "accuracy " << accuracy << ", f1 " << f1; break;
    case TextMetric::kMatthews: s << "matthews " << matthews << ", accuracy " << accuracy; break;
    case TextMetric::kPearsonSpearman: s << "pearson " << pearson << ", spearman " << spearman; break;
  }
  return s.str();
}

// Matthews: (tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn)), classes 1 / 0.
// F1 of class 1: 2 tp / (2 tp + fp + fn).
TextScores score_classes(TextMetric metric, const std::vector<int64_t>& predicted,
                         const std::vector<int64_t>& gold) {
  NEAT_CHECK(!gold.empty() && predicted.size() == gold.size(), "score_classes: ",
             predicted.size(), " predictions for ", gold.size(), " labels");
  TextScores s;
  s.metric = metric;
  double correct = 0, tp = 0, tn = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    correct += predicted[i] == gold[i];
    tp += predicted[i] == 1 && gold[i] == 1;
    tn += predicted[i] != 1 && gold[i] != 1;
    fp += predicted[i] == 1 && gold[i] != 1;
    fn += predicted[i] != 1 && gold[i] == 1;
  }
  s.accuracy = correct / double(gold.size());
  s.f1 = tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
  const double denominator = std::sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
  s.matthews = denominator > 0 ? (tp * tn - fp * fn) / denominator : 0;
  s.main = metric == TextMetric::kAccuracyF1 ? s.f1
           : metric == TextMetric::kMatthews ? s.matthews
                                             : s.accuracy;
  return s;
}

double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  NEAT_CHECK(!x.empty() && x.size() == y.size(), "pearson_correlation: sizes ", x.size(),
             " and ", y.size());
  const double n = double(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0;
}

static std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = (double(i) + double(j)) / 2 + 1;
    i = j + 1;
  }
  return rank;
}

double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  NEAT_CHECK(!x.empty() && x.size() == y.size(), "spearman_correlation: sizes ", x.size(),
             " and ", y.size());
  return pearson_correlation(average_ranks(x), average_ranks(y));
}

TextScores score_regression(const std::vector<double>& predicted, const std::vector<double>& gold) {
  TextScores s;
  s.metric = TextMetric::kPearsonSpearman;
  s.pearson = pearson_correlation(predicted, gold);
  s.spearman = spearman_correlation(predicted, gold);
  s.main = s.pearson;
  return s;
}

}  // namespace neat
