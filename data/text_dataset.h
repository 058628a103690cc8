// A text classification (or regression) task held in memory: the examples of each split, the
// label names, and the task's metric. Filled by data/wordnet.h and data/glue.h.
//
//   TextDataset d = wordnet_supersenses("noun", 42);
//   d.train[0].a   // "a domestic animal ..."     d.train[0].label  // index into d.labels
//   TextScores s = score_predictions(d.metric, predictions, gold);
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace neat {

struct TextExample {
  std::string a, b;      // b empty for single-sentence tasks
  int64_t label = -1;    // class index; -1 when the split has no labels (GLUE test files)
  double score = std::numeric_limits<double>::quiet_NaN();  // regression target (STS-B); NaN: none
};

// What a task reports: accuracy; accuracy and F1 of class 1 (MRPC, QQP); Matthews correlation
// (CoLA); Pearson and Spearman correlation (STS-B, a regression).
enum class TextMetric { kAccuracy, kAccuracyF1, kMatthews, kPearsonSpearman };

struct TextDataset {
  std::string name;
  std::vector<std::string> labels;  // class names (empty for regression)
  bool pair = false;                // examples have a second text
  bool regression = false;
  TextMetric metric = TextMetric::kAccuracy;
  std::vector<TextExample> train, validation, test;
  // What the reader skipped and why, one line each (e.g. GLUE rows with too few fields):
  // programs print them before training.
  std::vector<std::string> notes;
  int64_t num_labels() const { return regression ? 1 : int64_t(labels.size()); }
};

struct TextScores {
  double main = 0;  // the task's headline number: accuracy, F1, Matthews or Pearson
  double accuracy = 0, f1 = 0, matthews = 0, pearson = 0, spearman = 0;
  std::string str() const;  // "accuracy 0.8123, f1 0.8456" (the metric's figures only)
  TextMetric metric = TextMetric::kAccuracy;
};

// Classification: predicted and gold class indices; regression: predicted and gold scores.
// Errors when the sizes differ or are zero. Undefined correlations (a constant side) are 0.
TextScores score_classes(TextMetric metric, const std::vector<int64_t>& predicted,
                         const std::vector<int64_t>& gold);
TextScores score_regression(const std::vector<double>& predicted, const std::vector<double>& gold);

double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y);
// Pearson of the ranks, ties sharing their average rank.
double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace neat
