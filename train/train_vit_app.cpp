#include "train/train_vit_app.h"

#include <filesystem>
#include <memory>

#include "data/image_folder.h"
#include "data/load_dataset.h"
#include "models/vit.h"
#include "nn/init.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/gpu.h"
#include "train/options.h"
#include "train/precision.h"
#include "train/predict_model.h"
#include "train/run_skeleton.h"
#include "train/run_support.h"
#include "train/system.h"
#include "train/top_classes.h"
#include "train/trainer.h"
#include "train/weights_check.h"

namespace neat {

namespace {

using Options = TrainVitOptions;

DataSpec data_spec(const Options& o) {
  DataSpec spec;
  spec.name = o.train.data;
  if (!o.train.data_dir.empty()) spec.data_dir = o.train.data_dir;
  spec.classes = o.train.classes;
  spec.seed = uint64_t(o.train.seed);
  // Synthetic data takes the model's input shape and class count when they are given.
  if (o.model.image_size > 0) spec.synthetic.image_size = o.model.image_size;
  if (o.model.channels > 0) spec.synthetic.channels = o.model.channels;
  if (o.model.num_classes > 0) spec.synthetic.num_classes = o.model.num_classes;
  return spec;
}

// A seeded, class-balanced random subset of `limit` samples (all when limit is 0 or larger).
std::shared_ptr<const Dataset> limited(std::shared_ptr<const Dataset> data, int64_t limit,
                                       uint64_t seed) {
  if (limit <= 0 || limit >= data->size()) return data;
  return std::make_shared<SubsetDataset>(data, balanced_subset(*data, limit, seed));
}

// Train and eval transforms for the model's input. Eval: the images as stored at the data's
// native size, else Resize + CenterCrop. Train (--augment): flip (= auto) adds a random
// horizontal flip to the eval path; crop-flip uses RandomResizedCrop(0.08-1) + flip instead;
// none is the eval path.
std::pair<Transform, Transform> transforms_for(const ViTConfig& config, int64_t native_size,
                                               const std::string& augment) {
  TransformConfig tc;
  tc.image_size = config.image_size;
  tc.channels = config.channels;
  tc.mean = {0.5};   // as google/vit-base-patch16-224-in21k: (x - 0.5) / 0.5 on every channel
  tc.std = {0.5};
  const bool crop = augment == "crop-flip";
  tc.native_resolution = config.image_size == native_size && !crop;
  tc.random_resized_crop = crop;
  tc.horizontal_flip = augment != "none";
  Transform train(tc, /*train=*/augment != "none");
  Transform eval(tc, /*train=*/false);
  return {train, eval};
}

// What the largest activations of a run cost, for an out-of-memory message: attention keeps a
// (batch, heads, N, N) float matrix per layer for backward.
std::string attention_memory(const ViTConfig& c, int64_t batch) {
  const int64_t tokens = c.num_patches() + 1;
  const double bytes = double(batch) * double(c.heads) * double(tokens) * double(tokens) * 4;
  char text[320];
  std::snprintf(text, sizeof text,
                "the model sees %lld tokens per image (%lld px / patch %lld = %lldx%lld patches + 1); "
                "one attention matrix of a batch of %lld takes %.2f GiB and training keeps one per "
                "layer (%lld layers: %.1f GiB). Lower --batch-size or --image-size, or raise --patch",
                (long long)tokens, (long long)c.image_size, (long long)c.patch_size,
                (long long)c.grid(), (long long)c.grid(), (long long)batch, bytes / (1 << 30),
                (long long)c.depth, bytes * double(c.depth) / (1 << 30));
  return text;
}


// train_vit's parts: a ViT on image data, scored by accuracy.
class TrainVitProgram : public TrainingProgram {
 public:
  TrainVitProgram() : args_(train_vit_arguments(o_)) {}
  std::string name() const override { return "train_vit"; }
  ArgParser& arguments() override { return args_; }
  MethodOptions& method() override { return o_.method; }
  TrainOptions& train() override { return o_.train; }
  std::string data_name() const override { return o_.train.data; }
  void check_flags() override;
  void check_files(std::ostream& err) override;
  void build(Progress& progress, bool resuming) override;
  Module& model() override { return *model_; }
  Generator& dropout() override { return model_->generator(); }
  const PeftConfig& peft() const override { return peft_; }
  const PeftReport& report() const override { return report_; }
  ClassifierBatches& train_batches() override { return *train_batches_; }
  ClassifierBatches* val_batches() override { return val_batches_.get(); }
  std::string memory_hint() const override { return memory_hint_; }
  TestResult test(Progress& progress) override;
  void predict(const std::vector<std::string>& images, std::ostream& out) override;
  void results_fields(Json& results) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  Json model_config() const override { return hf_vit_config_json(config_, class_names_); }
  std::string rate_key() const override { return "images_per_second"; }
  void write_merged(const std::string& dir) override;

 private:
  void load_data(Progress& progress);
  void build_predictor(Progress& progress, bool resuming);
  void build_model(Progress& progress, bool resuming);
  void load_weights(Progress& progress);
  void build_loaders();
  std::vector<std::string> predict_inputs(const std::vector<std::string>& paths) const;

  Options o_;
  ArgParser args_;
  DataSplits splits_;
  std::vector<std::string> class_names_;   // the data's, or with --predict the model's config.json
  std::shared_ptr<const Dataset> train_set_;
  int64_t native_size_ = 0;
  ViTConfig config_;
  Device device_ = Device::CPU;
  std::unique_ptr<ViTForImageClassification> model_;
  PeftConfig peft_;
  PeftReport report_;
  std::unique_ptr<DataLoader> train_loader_, val_loader_, test_loader_;
  std::unique_ptr<ImageBatches> train_batches_, val_batches_;
  std::string memory_hint_;
  // For --predict: whether a file (weights, adapter, checkpoint) gave the classifier its weights.
  bool classifier_trained_ = false;
};

void TrainVitProgram::check_flags() {
  check_train_vit_options(o_, args_);
  // A relative folder is stored absolute, so the run resumes from any working directory.
  std::string& data = o_.train.data;
  if (data.rfind("folder:", 0) == 0 && data.size() > 7 && data[7] != '/')
    data = "folder:" + std::filesystem::absolute(data.substr(7)).lexically_normal().string();
}

void TrainVitProgram::check_files(std::ostream& err) {
  const TrainOptions& t = o_.train;
  if (!t.weights.empty()) resolve_weights_path(t.weights);
  NEAT_CHECK(t.weights.empty() || file_exists(t.weights), "--weights ", t.weights, ": no such file");
  // (cifar10 and cifar100 look only there: their error names it.)
  const bool reads_data_dir = t.data.rfind("cifar", 0) == 0;
  if (!t.data_dir.empty() && !is_directory(t.data_dir) && !reads_data_dir)
    err << "warning: --data-dir " << t.data_dir << " does not exist"
        << (t.data == "fashion-mnist" ? "; looking for fashion-mnist in the default places"
                                      : " (--data " + t.data + " does not read it)")
        << "\n";
}

void TrainVitProgram::load_data(Progress& progress) {
  const TrainOptions& t = o_.train;
  splits_ = load_dataset(data_spec(o_));
  NEAT_CHECK(splits_.class_names.size() >= 2, "data: ", splits_.summary, ": ",
             splits_.class_names.size(), " class; classification needs at least 2");
  NEAT_CHECK(splits_.train->size() > 0 && splits_.test->size() > 0, "data: ", splits_.summary,
             ": an empty ", splits_.train->size() > 0 ? "test" : "training",
             " split (too few images? a folder can bring its own train/ and test/)");
  class_names_ = splits_.class_names;
  train_set_ = limited(splits_.train, t.train_limit, uint64_t(t.seed));
  progress.line("data: " + splits_.summary +
                (train_set_ != splits_.train ? " (training on " + std::to_string(train_set_->size()) +
                                                   " of them: a class-balanced random subset, seed " +
                                                   std::to_string(t.seed) + ")"
                                             : ""));
  const ImageShape shape = splits_.train->image_shape();
  native_size_ = shape.height == shape.width ? shape.height : 0;
  config_ = vit_config_from(o_.model, args_, shape.channels, native_size_,
                            int64_t(splits_.class_names.size()));
  NEAT_CHECK(config_.num_classes >= int64_t(splits_.class_names.size()), "--num-classes ",
             config_.num_classes, " is smaller than the data's ", splits_.class_names.size(),
             " classes");
  config_.seed = uint64_t(t.seed);
}

void TrainVitProgram::load_weights(Progress& progress) {
  const TrainOptions& t = o_.train;
  const std::string weights = resolve_weights_path(t.weights);
  const SafetensorsFile file = read_safetensors(weights);
  const ViTShape in_file = vit_shape_in(file);
  NEAT_CHECK(!in_file.found || in_file.matches(config_), "--weights ", weights, " holds a ViT of ",
             in_file.str(), " but this run builds ", config_.str(), ": run with ", in_file.flags());
  const ViTLoadReport loaded = load_vit_weights(*model_, file);
  check_finite_parameters(*model_, weights);
  classifier_trained_ = classifier_trained_ || (loaded.classifier_loaded && !t.new_head);
  progress.line("weights: " + std::to_string(loaded.loaded) + " tensors from " + weights);
  for (const std::string& m : loaded.messages) {
    const bool notice = m.find("keeps its initialisation") != std::string::npos;
    if (notice && !t.new_head) progress.warning(m);
    else progress.line("  " + m);
  }
  if (t.new_head && loaded.classifier_loaded) {
    Generator gen(derive_seed(uint64_t(t.seed), 3));
    NoGradGuard no_grad;
    trunc_normal_(model_->parameter("classifier.weight"), config_.initializer_range, gen);
    zeros_(model_->parameter("classifier.bias"));
    progress.line("  classifier re-initialised (--new-head)");
  }
}

void TrainVitProgram::build_model(Progress& progress, bool resuming) {
  const TrainOptions& t = o_.train;
  check_rank(o_.method, config_.hidden);
  memory_hint_ = attention_memory(config_, t.batch_size);
  // Training keeps one attention matrix per layer for backward: more than the machine's memory
  // cannot work, so say so now rather than after the data loader has started.
  const double tokens = double(config_.num_patches() + 1);
  const double attention_bytes = double(t.batch_size) * double(config_.heads) * tokens * tokens *
                                 4 * double(t.eval_only || !t.predict.empty() ? 1 : config_.depth);
  NEAT_CHECK(device_ != Device::CPU || attention_bytes <= double(physical_memory_bytes()),
             "not enough memory: ", memory_hint_, " (this machine has ",
             physical_memory_bytes() >> 30, " GiB)");
  model_ = std::make_unique<ViTForImageClassification>(config_);
  progress.line("model: " + config_.str());
  if (!t.weights.empty()) load_weights(progress);
  else if (o_.method.method != "full" && t.adapter.empty() && !resuming)
    progress.warning("--method " + o_.method.method +
                     " on a randomly initialised backbone: neat, lora and head expect a "
                     "pretrained one (--weights FILE.safetensors)");
  MethodOptions method = o_.method;
  // A merged model predicts as it is: no adapter to load, so none is attached.
  if (!t.predict.empty() && t.adapter.empty() && !resuming) method.method = "full";
  peft_ = seeded_peft_config(method, uint64_t(t.seed), model_->shared_generator());
  report_ = attach_peft(*model_, peft_);
  progress.line("method: " + report_.str());
  if (!t.adapter.empty()) {
    load_adapter(t.adapter, *model_, peft_);
    check_finite_parameters(*model_, t.adapter);
    classifier_trained_ = classifier_trained_ || adapter_has_classifier(t.adapter);
    progress.line("adapter: loaded " + t.adapter);
  }
  if (device_ != Device::CPU) {
    model_->to(device_);   // the optimizer keeps its state beside the parameters
    progress.line("device: " + cuda_device_description() + ", " + cuda_blas_description() +
                  (parse_precision(t.precision, t.tf32) == Precision::Tf32 ? ", TF32 GEMMs" : ""));
  }
  // After the weights and adapters are in: frozen weights to bf16 once (train/precision.h)
  const PrecisionReport precision = apply_precision(*model_, parse_precision(t.precision, t.tf32));
  if (precision.converted > 0) progress.line(precision.str());
}

void TrainVitProgram::build_loaders() {
  const TrainOptions& t = o_.train;
  const auto [train_tf, eval_tf] = transforms_for(config_, native_size_, t.augment);
  LoaderConfig train_lc;
  train_lc.batch_size = t.batch_size;
  train_lc.workers = t.workers;
  train_lc.seed = uint64_t(t.seed);
  train_lc.pin_memory = device_ != Device::CPU;
  LoaderConfig eval_lc = train_lc;
  eval_lc.shuffle = false;
  train_loader_ = std::make_unique<DataLoader>(train_set_, train_tf, train_lc);
  if (splits_.val && splits_.val->size() > 0)
    val_loader_ = std::make_unique<DataLoader>(splits_.val, eval_tf, eval_lc);
  test_loader_ = std::make_unique<DataLoader>(splits_.test, eval_tf, eval_lc);
  train_batches_ = std::make_unique<ImageBatches>(*model_, *train_loader_);
  if (val_loader_) val_batches_ = std::make_unique<ImageBatches>(*model_, *val_loader_);
}

// --predict: the model's sizes and classes from its config.json (a finished run's or a merged
// model's), no data read. A resumed run's checkpoint holds the classifier (it always trains).
void TrainVitProgram::build_predictor(Progress& progress, bool resuming) {
  const PredictModel found = find_predict_model(o_.train);
  try {
    config_ = vit_config_from_json(found.config);
  } catch (const std::runtime_error& e) {
    NEAT_CHECK(false, found.path, ": ", e.what());
  }
  config_.seed = uint64_t(o_.train.seed);
  class_names_ = found.class_names;
  progress.line("classes: " + std::to_string(class_names_.size()) + " from " + found.path);
  build_model(progress, resuming);
  classifier_trained_ = classifier_trained_ || resuming;
}

void TrainVitProgram::build(Progress& progress, bool resuming) {
  device_ = compute_device(o_.train.device,
                           parse_precision(o_.train.precision, o_.train.tf32) == Precision::Tf32);   // before the data: a missing GPU fails fast
  if (!o_.train.predict.empty()) return build_predictor(progress, resuming);
  load_data(progress);
  build_model(progress, resuming);
  build_loaders();
}

TestResult TrainVitProgram::test(Progress& progress) {
  const EvalResult test = evaluate(*model_, *test_loader_, [&](int64_t done, int64_t total) {
    progress.eval("test", done, total);
  });
  TestResult r;
  r.interrupted = test.interrupted;
  r.loss = test.loss;
  r.fields.set("test_accuracy", test.accuracy);
  r.fields.set("test_loss", test.loss);
  r.line = "test accuracy " + fixed(test.accuracy, 4) + " (" + std::to_string(test.correct) + "/" +
           std::to_string(test.count) + ")";
  return r;
}

// The images of --predict: files as given, and every image under a directory (sorted).
std::vector<std::string> TrainVitProgram::predict_inputs(const std::vector<std::string>& paths) const {
  std::vector<std::string> images;
  for (const std::string& path : paths) {
    if (!is_directory(path)) {
      images.push_back(path);
      continue;
    }
    const std::vector<std::string> found = image_files_under(path);
    NEAT_CHECK(!found.empty(), "--predict ", path, ": a directory without images (png, jpg, ...)");
    images.insert(images.end(), found.begin(), found.end());
  }
  return images;
}

// Each image's top classes, by the names the model's files record (print_top_classes). An image
// of any size is resized (shorter side) and center-cropped to the model's input, as an image
// processor does.
void TrainVitProgram::predict(const std::vector<std::string>& paths, std::ostream& out) {
  NEAT_CHECK(classifier_trained_, "--predict: the classifier is untrained (no --resume, --adapter "
             "or --weights file gave it weights for ", config_.num_classes, " classes): its "
             "predictions would be random; predict with a trained run (--resume DIR) or a file "
             "that holds its classifier");
  // native size 0: never the stored size, always Resize + CenterCrop to the model's input.
  const Transform eval_tf = transforms_for(config_, /*native_size=*/0, "none").second;
  model_->eval();
  NoGradGuard no_grad;
  for (const std::string& path : predict_inputs(paths)) {
    const Image image = read_image(path, config_.channels);
    const auto shape = eval_tf.output_shape(image.height, image.width);
    std::vector<float> pixels(size_t(shape[0] * shape[1] * shape[2]));
    Generator unused(0);
    eval_tf.apply(image, unused, pixels.data());
    const Tensor batch = from_vector(pixels, {1, shape[0], shape[1], shape[2]}).to(model_->device());
    print_top_classes(out, path, model_->forward(Variable(batch)).data().to_vector<float>(),
                      class_names_);
  }
}

void TrainVitProgram::results_fields(Json& results) const {
  const TrainOptions& t = o_.train;
  results.set("model", config_.str());
  results.set("device", device_ == Device::CPU ? std::string("cpu")
                                               : cuda_device_description() + (t.tf32 ? ", TF32" : ""));
  results.set("precision", precision_name(parse_precision(t.precision, t.tf32)));
  results.set("method", report_.str());
  results.set("data", splits_.summary);
}

// With config.json beside it (model_config), transformers'
// ViTForImageClassification.from_pretrained(dir) loads the model.
void TrainVitProgram::write_merged(const std::string& dir) {
  Json names = Json::array();
  for (const std::string& name : class_names_) names.push_back(name);
  save_vit_weights(*model_, join_path(dir, "model.safetensors"),
                   {{"class_names", names.dump()}, {"format", "pt"}});   // "pt": what transformers reads
}

}  // namespace

int train_vit_main(const std::vector<std::string>& arguments, std::ostream& out,
                   std::ostream& err) {
  TrainVitProgram program;
  return run_training_program(program, arguments, out, err);
}

}  // namespace neat
