#include "train/train_vit_app.h"

#include <algorithm>
#include <memory>
#include <numeric>

#include "data/load_dataset.h"
#include "models/vit.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/peft_format.h"
#include "nn/peft/attach.h"
#include "nn/peft/lora.h"
#include "nn/peft/neat.h"
#include "nn/init.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/system.h"
#include "train/trainer.h"

namespace neat {

namespace {

// Flags that may differ between a run and its --resume (they do not change what is computed).
const std::vector<std::string> kResumeFreeFlags = {
    "--resume", "--threads", "--workers", "--quiet", "--log-every", "--save-every", "--max-steps",
    "--data-dir", "--eval-only", "--merge"};

struct Options {
  ModelOptions model;
  MethodOptions method;
  TrainOptions train;
};

std::string default_out_dir(const Options& o) {
  if (!o.train.out.empty()) return o.train.out;
  const std::string data = o.train.data.rfind("folder:", 0) == 0 ? "folder" : o.train.data;
  return "runs/" + o.method.method + "-" + data + "-" + timestamp();
}

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

// The first `limit` samples of a dataset (all when limit is 0 or larger than it).
std::shared_ptr<const Dataset> first_samples(std::shared_ptr<const Dataset> data, int64_t limit) {
  if (limit <= 0 || limit >= data->size()) return data;
  std::vector<int64_t> indices(static_cast<size_t>(limit));
  std::iota(indices.begin(), indices.end(), 0);
  return std::make_shared<SubsetDataset>(data, indices);
}

// Train and eval transforms for the model's input. At the data's native size the images are
// used as stored (augment auto: random flips); otherwise they are resized (eval: Resize +
// CenterCrop; train with augment auto: RandomResizedCrop + flip, the paper's setting).
std::pair<Transform, Transform> transforms_for(const ViTConfig& config, int64_t native_size,
                                               const std::string& augment) {
  TransformConfig tc;
  tc.image_size = config.image_size;
  tc.channels = config.channels;
  tc.mean = {0.5};   // as google/vit-base-patch16-224-in21k: (x - 0.5) / 0.5 on every channel
  tc.std = {0.5};
  const bool native = config.image_size == native_size;
  const bool crop = augment == "crop-flip" || (augment == "auto" && !native);
  tc.native_resolution = native && !crop;
  tc.random_resized_crop = crop;
  tc.horizontal_flip = augment != "none";
  Transform train(tc, /*train=*/augment != "none");
  Transform eval(tc, /*train=*/false);
  return {train, eval};
}

struct Run {
  const Options& o;
  const ArgParser& args;
  std::ostream& out;
  std::ostream& err;
  TrainState state;
  bool resuming = false;

  int execute();
};

int Run::execute() {
  const TrainOptions& t = o.train;
  const ScopedThreads threads(t.threads);
  Progress progress(err, stderr_is_terminal(), t.quiet, t.log_every);

  // Data.
  const DataSplits splits = load_dataset(data_spec(o));
  NEAT_CHECK(splits.class_names.size() >= 2, "data: ", splits.summary, ": ",
             splits.class_names.size(), " class; classification needs at least 2");
  NEAT_CHECK(splits.train->size() > 0 && splits.test->size() > 0, "data: ", splits.summary,
             ": an empty ", splits.train->size() > 0 ? "test" : "training",
             " split (too few images? a folder can bring its own train/ and test/)");
  const std::shared_ptr<const Dataset> train_set = first_samples(splits.train, t.train_limit);
  progress.line("data: " + splits.summary +
                (train_set != splits.train ? " (training on the first " +
                                                 std::to_string(train_set->size()) + ")"
                                           : ""));
  const ImageShape shape = splits.train->image_shape();
  const int64_t native_size = shape.height == shape.width ? shape.height : 0;

  // Model, weights, method.
  ViTConfig config = vit_config_from(o.model, args, shape.channels, native_size,
                                     int64_t(splits.class_names.size()));
  NEAT_CHECK(config.num_classes >= int64_t(splits.class_names.size()), "--num-classes ",
             config.num_classes, " is smaller than the data's ", splits.class_names.size(),
             " classes");
  config.seed = uint64_t(t.seed);
  ViTForImageClassification model(config);
  progress.line("model: " + config.str());
  if (!t.weights.empty()) {
    const ViTLoadReport loaded = load_vit_weights(model, t.weights);
    progress.line("weights: " + std::to_string(loaded.loaded) + " tensors from " + t.weights);
    for (const std::string& m : loaded.messages) progress.line("  " + m);
    if (t.new_head && loaded.classifier_loaded) {
      Generator gen(derive_seed(uint64_t(t.seed), 3));
      NoGradGuard no_grad;
      trunc_normal_(model.parameter("classifier.weight"), config.initializer_range, gen);
      zeros_(model.parameter("classifier.bias"));
      progress.line("  classifier re-initialised (--new-head)");
    }
  } else if (o.method.method != "full" && t.adapter.empty() && !resuming) {
    err << "warning: --method " << o.method.method
        << " on a randomly initialised backbone: neat, lora and head expect a pretrained one "
           "(--weights FILE.safetensors)\n";
  }
  const PeftConfig peft = seeded_peft_config(o.method, uint64_t(t.seed), model.shared_generator());
  const PeftReport report = attach_peft(model, peft);
  progress.line("method: " + report.str());
  if (!t.adapter.empty()) {
    load_adapter(t.adapter, model, peft);
    progress.line("adapter: loaded " + t.adapter);
  }
  AdamW optimizer(parameter_groups(model, t));

  // Loaders.
  const auto [train_tf, eval_tf] = transforms_for(config, native_size, t.augment);
  LoaderConfig train_lc;
  train_lc.batch_size = t.batch_size;
  train_lc.workers = t.workers;
  train_lc.seed = uint64_t(t.seed);
  LoaderConfig eval_lc = train_lc;
  eval_lc.shuffle = false;
  DataLoader train_loader(train_set, train_tf, train_lc);
  std::unique_ptr<DataLoader> val_loader;
  if (splits.val && splits.val->size() > 0)
    val_loader = std::make_unique<DataLoader>(splits.val, eval_tf, eval_lc);
  DataLoader test_loader(splits.test, eval_tf, eval_lc);

  const std::string& dir = t.out;
  const std::string title = o.method.method + " on " + t.data + " (" + dir + ")";
  ImageBatches train_batches(model, train_loader);
  std::unique_ptr<ImageBatches> val_batches;
  if (val_loader) val_batches = std::make_unique<ImageBatches>(model, *val_loader);
  double train_seconds = 0;
  const int code = train_with_flags("train_vit", t, args.values(), resuming, title, model,
                                    model.generator(), optimizer, train_batches,
                                    val_batches.get(), progress, err, state, train_seconds);
  if (code != 0) return code;

  // Test with the final model, then the files.
  const EvalResult test = evaluate(model, test_loader);
  Json results = Json::object();
  Json val_accuracy = Json::array();
  double best_val = -1;
  for (const EpochRecord& e : state.history.epochs) {
    val_accuracy.push_back(e.val_acc >= 0 ? Json(e.val_acc) : Json());   // null: no val set
    best_val = std::max(best_val, e.val_acc);
  }
  results.set("test_accuracy", test.accuracy);
  results.set("test_loss", test.loss);
  results.set("best_val_accuracy", best_val >= 0 ? Json(best_val) : Json());
  results.set("val_accuracy", val_accuracy);
  results.set("trainable_params", report.trainable);
  results.set("total_params", report.total);
  results.set("trainable_ratio", report.ratio());
  results.set("steps", state.step);
  results.set("wall_seconds", train_seconds);
  results.set("images_per_second",
              train_seconds > 0 ? double(state.images_seen) / train_seconds : 0.0);
  results.set("peak_rss_bytes", peak_rss_bytes());
  results.set("config", args.values());
  results.set("model", config.str());
  results.set("method", report.str());
  results.set("data", splits.summary);
  write_file_atomic(join_path(dir, "results.json"), results.dump(2) + "\n");
  save_adapter(join_path(dir, "adapter.safetensors"), model, peft);
  if (has_peft_layout(peft.method)) save_peft_adapter(join_path(dir, "peft"), model, peft);
  if (t.merge) {
    merge_peft_layers(model);
    save_vit_weights(model, join_path(dir, "model.safetensors"));
  }
  out << "test accuracy " << fixed(test.accuracy, 4) << " (" << test.correct << "/" << test.count
      << ")  " << o.method.method << ": trainable " << report.trainable << " / " << report.total
      << " (" << percent(report.ratio()) << ")  " << fixed(train_seconds, 1) << " s  -> " << dir
      << "\n";
  return 0;
}

}  // namespace

int train_vit_main(const std::vector<std::string>& arguments, std::ostream& out,
                   std::ostream& err) {
  Options o;
  ArgParser args("train_vit", "[--method neat|lora|head|full] [--data NAME] [options]",
                 "Fine-tune a Vision Transformer with Neat, LoRA, a linear probe or fully.");
  add_model_flags(args, o.model);
  add_method_flags(args, o.method);
  add_train_flags(args, o.train);
  bool resuming = false;
  try {
    try {
      args.parse(arguments);
      if (args.help_requested()) {
        out << args.help();
        return 0;
      }
      resuming = !o.train.resume.empty();
      if (resuming) {
        const std::string path = join_path(o.train.resume, "checkpoint.safetensors");
        NEAT_CHECK(file_exists(path), "--resume ", o.train.resume, ": no checkpoint at ", path);
        args.restore(read_checkpoint_state(path).config, kResumeFreeFlags);
        o.train.out = o.train.resume;
      }
      check_train_options(o.train);
      if (o.model.channels != 0 && o.model.channels != 1 && o.model.channels != 3)
        throw UsageError("--channels must be 1 or 3 (0 = the data's), got " +
                         std::to_string(o.model.channels));
      peft_config_from(o.method);
      if (o.train.eval_only && o.train.weights.empty() && o.train.adapter.empty() && !resuming)
        throw UsageError("--eval-only needs --weights, --adapter or --resume (nothing to evaluate)");
      o.train.out = default_out_dir(o);
      Run run{o, args, out, err, {}, resuming};
      return run.execute();
    } catch (const UsageError& e) {
      err << "train_vit: " << e.what() << "\n" << args.usage() << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    err << "train_vit: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}

}  // namespace neat
