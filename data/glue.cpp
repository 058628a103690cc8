#include "data/glue.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "data/text_lines.h"
#include "tensor/check.h"

namespace neat {

namespace {

struct GlueTask {
  const char* name;
  const char* folder;
  const char* text_a;
  const char* text_b;   // "" for single-sentence tasks
  const char* label;
  std::vector<std::string> labels;  // empty: regression
  TextMetric metric;
  const char* dev_file;
  const char* test_file;
};

const std::vector<GlueTask>& tasks() {
  static const std::vector<GlueTask> all = {
      {"sst2", "SST-2", "sentence", "", "label", {"0", "1"}, TextMetric::kAccuracy, "dev.tsv", "test.tsv"},
      {"cola", "CoLA", "sentence", "", "label", {"0", "1"}, TextMetric::kMatthews, "dev.tsv", "test.tsv"},
      {"mrpc", "MRPC", "#1 String", "#2 String", "Quality", {"0", "1"}, TextMetric::kAccuracyF1,
       "dev.tsv", "test.tsv"},
      {"qqp", "QQP", "question1", "question2", "is_duplicate", {"0", "1"},
       TextMetric::kAccuracyF1, "dev.tsv", "test.tsv"},
      {"stsb", "STS-B", "sentence1", "sentence2", "score", {}, TextMetric::kPearsonSpearman,
       "dev.tsv", "test.tsv"},
      {"mnli", "MNLI", "sentence1", "sentence2", "gold_label",
       {"contradiction", "entailment", "neutral"}, TextMetric::kAccuracy, "dev_matched.tsv",
       "test_matched.tsv"},
      {"qnli", "QNLI", "question", "sentence", "label", {"entailment", "not_entailment"},
       TextMetric::kAccuracy, "dev.tsv", "test.tsv"},
      {"rte", "RTE", "sentence1", "sentence2", "label", {"entailment", "not_entailment"},
       TextMetric::kAccuracy, "dev.tsv", "test.tsv"},
  };
  return all;
}

const GlueTask& find_task(const std::string& name) {
  std::string known;
  for (const GlueTask& t : tasks()) {
    if (name == t.name) return t;
    known += (known.empty() ? "" : ", ") + std::string(t.name);
  }
  NEAT_CHECK(false, "glue: unknown task '", name, "' (known: ", known, ")");
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t from = 0;
  for (size_t tab = line.find('\t'); tab != std::string::npos; tab = line.find('\t', from)) {
    fields.push_back(line.substr(from, tab - from));
    from = tab + 1;
  }
  fields.push_back(line.substr(from));
  return fields;
}

// The byte offset in line of field k (0-based) of a tab-separated row.
size_t field_offset(const std::string& line, size_t k) {
  size_t at = 0;
  for (size_t i = 0; i < k; ++i) at = line.find('\t', at) + 1;
  return at;
}

// Rows with fewer fields than the columns read are skipped and counted: QQP's official train
// file has a few (HF's run_glue skips them too). The note names the file, the count and the
// first lines, so they are reported, never dropped in silence.
struct ShortRows {
  int64_t count = 0;
  std::string lines;  // the first few line numbers
  void add(int64_t line) {
    if (++count <= 5) lines += (lines.empty() ? "" : ", ") + std::to_string(line);
  }
  std::string note(const std::string& path, int64_t needed) const {
    return "glue: " + path + ": skipped " + std::to_string(count) + " row" +
           (count == 1 ? "" : "s") + " with fewer than " + std::to_string(needed) +
           " tab-separated fields (line" + (count == 1 ? " " : "s ") + lines +
           (count > 5 ? ", ..." : "") + ")";
  }
};

// One split. CoLA's train and dev files have no header: source, label, notation, sentence.
std::vector<TextExample> read_split(const GlueTask& task, const std::string& path, bool labelled,
                                    std::vector<std::string>& notes) {
  TextLines lines(path, "glue", std::string("scripts/get_data.sh glue ") + task.name);
  const bool headerless = std::string(task.name) == "cola" && labelled;
  std::string line;
  int64_t a = 3, b = -1, label = 1;
  if (!headerless) {
    NEAT_CHECK(lines.next(line), "glue: ", path, " is empty");
    const std::vector<std::string> header = split_tabs(line);
    auto column = [&](const std::string& name) {
      for (size_t i = 0; i < header.size(); ++i)
        if (header[i] == name) return int64_t(i);
      NEAT_CHECK(false, "glue: ", path, " has no column '", name, "' in its header");
    };
    a = column(task.text_a);
    if (*task.text_b) b = column(task.text_b);
    label = labelled ? column(task.label) : -1;
  }
  const int64_t needed = std::max<int64_t>({a, b, label}) + 1;
  std::vector<TextExample> out;
  ShortRows short_rows;
  while (lines.next(line)) {
    if (line.empty()) continue;
    const std::vector<std::string> f = split_tabs(line);
    if (int64_t(f.size()) < needed) {
      short_rows.add(lines.number());
      continue;
    }
    TextExample e;
    e.a = f[size_t(a)];
    if (b >= 0) e.b = f[size_t(b)];
    if (label >= 0) {
      const std::string& value = f[size_t(label)];
      const std::string at = lines.where(field_offset(line, size_t(label)));
      if (task.labels.empty()) {
        char* end = nullptr;
        e.score = std::strtod(value.c_str(), &end);
        NEAT_CHECK(end != value.c_str() && *end == 0 && std::isfinite(e.score), at, ": ",
                   task.label, " '", value, "' is not a number");
      } else {
        for (size_t k = 0; k < task.labels.size(); ++k)
          if (value == task.labels[k]) e.label = int64_t(k);
        NEAT_CHECK(e.label >= 0, at, ": unknown ", task.label, " '", value, "'");
      }
    }
    out.push_back(std::move(e));
  }
  if (short_rows.count > 0) notes.push_back(short_rows.note(path, needed));
  NEAT_CHECK(!out.empty(), "glue: ", path, " holds no examples");
  return out;
}

}  // namespace

std::vector<std::string> glue_task_names() {
  std::vector<std::string> names;
  for (const GlueTask& t : tasks()) names.push_back(t.name);
  return names;
}

std::string glue_folder(const std::string& task) { return find_task(task).folder; }

TextDataset read_glue(const std::string& task_name, const std::string& dir) {
  const GlueTask& task = find_task(task_name);
  TextDataset d;
  d.name = task.name;
  d.labels = task.labels;
  d.pair = *task.text_b != 0;
  d.regression = task.labels.empty();
  d.metric = task.metric;
  d.train = read_split(task, dir + "/train.tsv", true, d.notes);
  d.validation = read_split(task, dir + "/" + task.dev_file, true, d.notes);
  const std::string test = dir + "/" + task.test_file;  // unlabelled, never trained on
  if (std::filesystem::exists(test)) d.test = read_split(task, test, false, d.notes);
  return d;
}

}  // namespace neat
