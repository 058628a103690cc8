#include "train/train_text_app.h"

#include <algorithm>
#include <memory>

#include "data/glue.h"
#include "data/wordnet.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/safetensors.h"
#include "train/options.h"
#include "train/predict_model.h"
#include "train/run_skeleton.h"
#include "train/precision.h"
#include "train/run_support.h"
#include "train/system.h"
#include "train/text_batches.h"
#include "train/text_model.h"
#include "train/top_classes.h"
#include "train/trainer.h"

namespace neat {

namespace {

struct TextOptions {
  std::string task = "wordnet-nouns";
  int64_t max_len = 64;
  int64_t eval_limit = 0;
  std::string tokenize;   // --tokenize TEXT: print its tokens and ids, nothing else
};

std::vector<std::string> task_names() {
  std::vector<std::string> names = {"wordnet-nouns", "wordnet-verbs"};
  for (const std::string& t : glue_task_names()) names.push_back("glue-" + t);
  return names;
}

// The first `limit` examples (all when limit is 0).
std::vector<TextExample> first(const std::vector<TextExample>& all, int64_t limit) {
  if (limit <= 0 || limit >= int64_t(all.size())) return all;
  return {all.begin(), all.begin() + limit};
}

// The model's logits for every example of a split, in order (eval mode, no gradients).
std::vector<std::vector<float>> all_logits(BertForSequenceClassification& model, TextBatches& data) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  std::vector<std::vector<float>> out;
  data.start_epoch(0);
  Tensor labels;
  int64_t step = 0;
  while (data.next(labels, step)) {
    const Tensor logits = data.logits().data().to(Device::CPU);
    const std::vector<float> flat = logits.to_vector<float>();
    const size_t width = size_t(logits.size(1));
    for (size_t b = 0; b < size_t(logits.size(0)); ++b)
      out.emplace_back(flat.begin() + std::ptrdiff_t(b * width), flat.begin() + std::ptrdiff_t((b + 1) * width));
  }
  model.train(was_training);
  return out;
}

// The task's scores of a split's logits: the metric of its classes' argmax, or for a
// regression (one output) Pearson and Spearman of the outputs against the scores.
TextScores score_logits(const TextDataset& data, const std::vector<TextExample>& examples,
                        const std::vector<std::vector<float>>& logits) {
  std::vector<int64_t> classes, gold;
  std::vector<double> predicted, scores;
  for (size_t i = 0; i < examples.size(); ++i) {
    const std::vector<float>& row = logits[i];
    classes.push_back(int64_t(std::max_element(row.begin(), row.end()) - row.begin()));
    predicted.push_back(row[0]);
    gold.push_back(examples[i].label);
    scores.push_back(examples[i].score);
  }
  return data.regression ? score_regression(predicted, scores) : score_classes(data.metric, classes, gold);
}

// train_text's parts: a pretrained BERT / RoBERTa encoder on a text task, scored by the task's
// metric.
class TrainTextProgram : public TrainingProgram {
 public:
  TrainTextProgram();
  std::string name() const override { return "train_text"; }
  ArgParser& arguments() override { return args_; }
  MethodOptions& method() override { return method_; }
  TrainOptions& train() override { return train_; }
  std::string help_note() const override;
  std::string data_name() const override { return text_.task; }
  void check_flags() override;
  void check_files(std::ostream&) override {}
  bool answer_query(std::ostream& out) override;
  void build(Progress& progress, bool resuming) override;
  Module& model() override { return *pretrained_.model; }
  Generator& dropout() override { return pretrained_.model->generator(); }
  const PeftConfig& peft() const override { return peft_; }
  const PeftReport& report() const override { return report_; }
  ClassifierBatches& train_batches() override { return *train_batches_; }
  ClassifierBatches* val_batches() override { return val_batches_.get(); }
  TestResult test(Progress& progress) override;
  void predict(const std::vector<std::string>& texts, std::ostream& out) override;
  void results_fields(Json& results) const override;
  std::vector<std::string> class_names() const override { return data_.labels; }
  Json model_config() const override;
  std::string rate_key() const override { return "examples_per_second"; }
  void write_merged(const std::string& dir) override;

 private:
  void load_task(Progress& progress);
  void build_predictor(Progress& progress, bool resuming);
  void build_model(Progress& progress, bool resuming);
  std::string weights_dir() const;   // --weights' model directory

  TextOptions text_;
  MethodOptions method_;
  TrainOptions train_;
  ArgParser args_;
  TextDataset data_;
  std::vector<TextExample> train_set_, val_set_, test_set_;
  std::string weights_;
  PretrainedText pretrained_;
  PeftConfig peft_;
  PeftReport report_;
  std::unique_ptr<TextBatches> train_batches_, val_batches_, test_batches_;
};

TrainTextProgram::TrainTextProgram()
    : args_("train_text", "[--method neat|lora|head|full] [--task NAME] [options]",
            "Fine-tune a pretrained BERT / RoBERTa encoder (a Hugging Face model directory, "
            "default all-MiniLM-L6-v2 from make deps) on a text classification task, or STS-B's "
            "regression (one output, MSE).") {
  train_.batch_size = 32;
  train_.epochs = 3;
  args_.section("Data");
  args_.add("--task", &text_.task, "NAME",
            "wordnet-nouns / wordnet-verbs (supersense of a WordNet definition, from "
            "/usr/share/wordnet) or glue-TASK (scripts/get_data.sh glue TASK)", task_names());
  args_.add("--data-dir", &train_.data_dir, "DIR",
            "WordNet's dict directory, or the GLUE root holding <TASK>/ (default data/glue)");
  args_.add("--train-limit", &train_.train_limit, "N", "use the first N training examples; 0 = all");
  args_.add("--eval-limit", &text_.eval_limit, "N",
            "use the first N validation and test examples; 0 = all");
  args_.add("--max-len", &text_.max_len, "N", "tokens per example, special tokens included");
  args_.add("--tokenize", &text_.tokenize, "TEXT",
            "print TEXT's tokens and ids under the model's tokenizer (--weights, or the run's "
            "with --resume), then exit");
  add_method_flags(args_, method_);
  add_run_flags(args_, train_, "TEXT...");
}

std::string TrainTextProgram::help_note() const {
  return "\n--weights is a model directory (config.json, model.safetensors, vocab.txt) or its "
         "model.safetensors; default " + default_minilm_dir() + "\n--predict takes texts, or one "
         "file with a text a line (a pair task's two texts separated by a tab)\n";
}

void TrainTextProgram::check_flags() {
  if (text_.max_len < 8 || text_.max_len > 512)
    throw UsageError("--max-len must be in [8, 512], got " + std::to_string(text_.max_len));
  if (text_.eval_limit < 0) throw UsageError("--eval-limit must be >= 0");
}

std::string TrainTextProgram::weights_dir() const {
  std::string dir = train_.weights.empty() ? default_minilm_dir() : train_.weights;
  if (file_exists(dir) && dir.size() > 12 && dir.substr(dir.size() - 12) == ".safetensors")
    dir = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
  return dir;
}

// --tokenize TEXT: "token id" a line, special tokens included, as transformers'
// tokenizer(TEXT) gives them.
bool TrainTextProgram::answer_query(std::ostream& out) {
  if (text_.tokenize.empty()) return false;
  const std::string dir = weights_dir();
  const Encoding encoding = load_text_tokenizer(dir)->encode(text_.tokenize, nullptr, text_.max_len);
  const std::vector<std::string> vocabulary = text_vocabulary(dir);
  for (const int64_t id : encoding.ids)
    out << (id >= 0 && id < int64_t(vocabulary.size()) ? vocabulary[size_t(id)] : "?") << " " << id
        << "\n";
  return true;
}

void TrainTextProgram::load_task(Progress& progress) {
  const std::string& task = text_.task;
  if (task.rfind("wordnet-", 0) == 0) {
    const std::string dir = train_.data_dir.empty() ? "/usr/share/wordnet" : train_.data_dir;
    data_ = wordnet_supersenses(task == "wordnet-nouns" ? "noun" : "verb", uint64_t(train_.seed), dir);
  } else {
    const std::string name = task.substr(5);
    const std::string root = train_.data_dir.empty() ? "data/glue" : train_.data_dir;
    data_ = read_glue(name, root + "/" + glue_folder(name));
    data_.test = data_.validation;   // GLUE's test labels are private: the dev set scores a run
  }
  train_set_ = first(data_.train, train_.train_limit);
  val_set_ = first(data_.validation, text_.eval_limit);
  test_set_ = first(data_.test, text_.eval_limit);
  progress.line("data: " + data_.name + ", " + std::to_string(data_.num_labels()) + " classes, " +
                std::to_string(train_set_.size()) + " train / " + std::to_string(val_set_.size()) +
                " val / " + std::to_string(test_set_.size()) + " test examples, max-len " +
                std::to_string(text_.max_len));
}

void TrainTextProgram::build_model(Progress& progress, bool resuming) {
  weights_ = weights_dir();
  pretrained_ = load_pretrained_text(weights_, data_.num_labels(), uint64_t(train_.seed));
  BertForSequenceClassification& model = *pretrained_.model;
  progress.line("model: " + pretrained_.config.str() + " from " + weights_);
  progress.line("weights: " + std::to_string(pretrained_.report.loaded) + " tensors");
  for (const std::string& m : pretrained_.report.messages) progress.line("  " + m);
  MethodOptions method = method_;
  // A merged model predicts as it is: no adapter to load, so none is attached.
  if (!train_.predict.empty() && train_.adapter.empty() && !resuming) method.method = "full";
  peft_ = seeded_peft_config(method, uint64_t(train_.seed), model.shared_generator());
  report_ = attach_peft(model, peft_);
  progress.line("method: " + report_.str());
  if (!train_.adapter.empty()) {
    load_adapter(train_.adapter, model, peft_);
    progress.line("adapter: loaded " + train_.adapter);
  }
  // After the weights and adapters are in: frozen weights to bf16 once (train/precision.h)
  const PrecisionReport precision =
      apply_precision(model, parse_precision(train_.precision, train_.tf32));
  if (precision.converted > 0) progress.line(precision.str());
}

// --predict: the classes (or a regression) from the model's config.json, a finished run's or a
// merged model's, no data read; the tokenizer from the weights' directory.
void TrainTextProgram::build_predictor(Progress& progress, bool resuming) {
  const PredictModel found = find_predict_model(train_);
  // A merged model's tokenizer_config.json records the --max-len it was trained with.
  const std::string tokenizer_config = join_path(weights_dir(), "tokenizer_config.json");
  if (!resuming && !args_.was_set("--max-len") && file_exists(tokenizer_config)) {
    const Json tokenizer = Json::parse(read_file(tokenizer_config));
    if (tokenizer.contains("model_max_length") && tokenizer["model_max_length"].is_number())
      text_.max_len = int64_t(std::clamp(tokenizer["model_max_length"].as_number(), 8.0, 512.0));
  }
  data_.labels = found.class_names;
  data_.regression = found.regression;
  progress.line("classes: " + (found.regression ? std::string("a regression (one score)")
                                                : std::to_string(data_.labels.size())) +
                " from " + found.path);
  build_model(progress, resuming);
  const bool trained = resuming || pretrained_.report.classifier_loaded ||
                       (!train_.adapter.empty() && adapter_has_classifier(train_.adapter));
  NEAT_CHECK(trained, "--predict: the classifier is untrained (no --resume, --adapter or --weights "
             "file gave it weights for ", data_.num_labels(), " outputs): its predictions would be "
             "random; predict with a finished run (--resume DIR) or a merged model (--weights DIR)");
}

void TrainTextProgram::build(Progress& progress, bool resuming) {
  if (!train_.predict.empty()) return build_predictor(progress, resuming);
  load_task(progress);
  build_model(progress, resuming);
  BertForSequenceClassification& model = *pretrained_.model;
  const Tokenizer& tokenizer = *pretrained_.tokenizer;
  const int64_t len = text_.max_len, batch = train_.batch_size;
  train_batches_ = std::make_unique<TextBatches>(model, tokenizer, train_set_, len, batch, true,
                                                 uint64_t(train_.seed));
  if (!val_set_.empty())
    val_batches_ = std::make_unique<TextBatches>(model, tokenizer, val_set_, len, batch, false, 0);
  test_batches_ = std::make_unique<TextBatches>(model, tokenizer, test_set_, len, batch, false, 0);
}

TestResult TrainTextProgram::test(Progress& progress) {
  const EvalResult eval = evaluate(*pretrained_.model, *test_batches_, [&](int64_t done, int64_t total) {
    progress.eval("test", done, total);
  });
  TestResult r;
  r.interrupted = eval.interrupted;
  if (r.interrupted) return r;
  const TextScores scores = score_logits(data_, test_set_, all_logits(*pretrained_.model, *test_batches_));
  r.loss = eval.loss;
  r.fields.set("task", text_.task);
  r.fields.set("test_accuracy", data_.regression ? Json() : Json(scores.accuracy));
  r.fields.set("test_loss", eval.loss);
  r.fields.set("test_metric", scores.main);
  r.fields.set("test_scores", scores.str());
  const size_t n = test_set_.size();
  r.line = "test " + scores.str() + " (" +
           (data_.regression ? std::to_string(n) + " examples"
                             : std::to_string(int64_t(scores.accuracy * double(n) + 0.5)) + "/" +
                                   std::to_string(n)) +
           ")";
  return r;
}

// Each text's top classes, by name (print_top_classes); a tab splits a pair task's two texts.
void TrainTextProgram::predict(const std::vector<std::string>& inputs, std::ostream& out) {
  BertForSequenceClassification& model = *pretrained_.model;
  std::vector<std::string> texts = inputs;
  if (inputs.size() == 1 && file_exists(inputs[0]) && !is_directory(inputs[0])) {
    texts.clear();   // a file: one text a line, empty lines skipped
    const std::string all = read_file(inputs[0]);
    size_t start = 0;
    for (size_t end; start < all.size(); start = end + 1) {
      end = std::min(all.find('\n', start), all.size());
      if (end > start) texts.push_back(all.substr(start, end - start));
    }
    NEAT_CHECK(!texts.empty(), "--predict ", inputs[0], ": an empty file (one text a line)");
  }
  std::vector<TextExample> examples;
  for (const std::string& text : texts) {
    TextExample e;
    const size_t tab = text.find('\t');
    e.a = text.substr(0, tab);
    if (tab != std::string::npos) e.b = text.substr(tab + 1);
    e.label = 0;
    e.score = 0;
    examples.push_back(e);
  }
  TextBatches batches(model, *pretrained_.tokenizer, examples, text_.max_len, 1, false, 0);
  model.eval();
  NoGradGuard no_grad;
  batches.start_epoch(0);
  Tensor labels;
  int64_t step = 0;
  for (size_t i = 0; batches.next(labels, step); ++i) {
    const std::vector<float> logits = batches.logits().data().to_vector<float>();
    if (data_.regression) out << texts[i] << ": score " << fixed(logits[0], 4) << "\n";   // STS-B
    else print_top_classes(out, texts[i], logits, data_.labels);
  }
}

void TrainTextProgram::results_fields(Json& results) const {
  results.set("model", pretrained_.config.str());
  results.set("method", report_.str());
  results.set("data", data_.name);
}

// The weights' config.json with this task's labels, which transformers'
// AutoModelForSequenceClassification.from_pretrained(dir) reads.
Json TrainTextProgram::model_config() const {
  Json config = Json::parse(read_file(join_path(weights_, "config.json")));
  Json id2label = Json::object(), label2id = Json::object();
  for (size_t i = 0; i < data_.labels.size(); ++i) {
    id2label.set(std::to_string(i), data_.labels[i]);
    label2id.set(data_.labels[i], int64_t(i));
  }
  if (data_.regression) {   // transformers: one output, problem_type regression (MSE)
    id2label.set("0", "LABEL_0");
    label2id.set("LABEL_0", 0);
  }
  // Set either way: the weights' own config may be a merged model's of another task.
  config.set("id2label", id2label);
  config.set("label2id", label2id);
  config.set("num_labels", data_.num_labels());
  config.set("problem_type", data_.regression ? "regression" : "single_label_classification");
  const bool roberta = pretrained_.config.model_type == "roberta";
  config.set("architectures", Json::array({Json(roberta ? "RobertaForSequenceClassification"
                                                        : "BertForSequenceClassification")}));
  return config;
}

// model.safetensors (HF names) beside model_config()'s config.json.
void TrainTextProgram::write_merged(const std::string& dir) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, p] : pretrained_.model->named_parameters()) tensors.emplace_back(name, p.data());
  write_safetensors(join_path(dir, "model.safetensors"), tensors, {{"format", "pt"}});
  // The tokenizer beside it, so the directory is a model --weights and transformers both open;
  // its model_max_length is the run's --max-len (what --predict on the directory truncates to).
  for (const char* file : {"vocab.txt", "vocab.json", "merges.txt"})
    if (file_exists(join_path(weights_, file)))
      write_file_atomic(join_path(dir, file), read_file(join_path(weights_, file)));
  const std::string base_config = join_path(weights_, "tokenizer_config.json");
  Json tokenizer = file_exists(base_config) ? Json::parse(read_file(base_config)) : Json::object();
  tokenizer.set("model_max_length", text_.max_len);
  write_file_atomic(join_path(dir, "tokenizer_config.json"), tokenizer.dump(2) + "\n");
}

}  // namespace

int train_text_main(const std::vector<std::string>& arguments, std::ostream& out,
                    std::ostream& err) {
  TrainTextProgram program;
  return run_training_program(program, arguments, out, err);
}

}  // namespace neat
