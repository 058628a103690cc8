#include "train/train_vit_app.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <new>
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
#include "tensor/gpu.h"
#include "train/options.h"
#include "train/run_support.h"
#include "train/run_directory.h"
#include "train/weights_check.h"
#include "train/system.h"
#include "train/trainer.h"

namespace neat {

namespace {

using Options = TrainVitOptions;

// runs/<method>-<data>-<time>: the name create_unique_directory starts from.
std::string default_out_base(const Options& o) {
  const std::string data = o.train.data.rfind("folder:", 0) == 0 ? "folder" : o.train.data;
  return "runs/" + o.method.method + "-" + data + "-" + timestamp();
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// --out checks that need no data: not a file, and not another run's directory unless
// --overwrite (a resumed run writes its own directory).
void check_out_dir(const TrainOptions& t, bool resuming) {
  if (t.out.empty() || resuming) return;
  if (file_exists(t.out) && !is_directory(t.out))
    throw UsageError("--out " + t.out + " is a file, not a directory");
  const std::vector<std::string> files = run_files_in(t.out);
  if (!files.empty() && !t.overwrite)
    throw UsageError("--out " + t.out + " already holds a run (" + join(files) +
                     "): continue it with --resume " + t.out + ", replace it with --overwrite, "
                     "or choose another --out");
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

// The class names as JSON, for results.json and the files' metadata.
Json class_names_json(const std::vector<std::string>& names) {
  Json list = Json::array();
  for (const std::string& name : names) list.push_back(name);
  return list;
}

// Prints each image's top classes (at most 5) by name with their probabilities:
//   photo.jpg: cat 0.912, dog 0.051, ...
void predict(ViTForImageClassification& model, const Transform& eval_tf,
             const std::vector<std::string>& images, const std::vector<std::string>& names,
             std::ostream& out) {
  model.eval();
  NoGradGuard no_grad;
  for (const std::string& path : images) {
    const Image image = read_image(path, 3);
    const auto shape = eval_tf.output_shape(image.height, image.width);
    std::vector<float> pixels(size_t(shape[0] * shape[1] * shape[2]));
    Generator unused(0);
    eval_tf.apply(image, unused, pixels.data());
    const Tensor batch = from_vector(pixels, {1, shape[0], shape[1], shape[2]}).to(model.device());
    const std::vector<float> logits = model.forward(Variable(batch)).data().to_vector<float>();
    const float top = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double total = 0;
    for (size_t c = 0; c < p.size(); ++c) total += p[c] = std::exp(double(logits[c] - top));
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), size_t(0));
    const size_t k = std::min<size_t>(5, order.size());
    std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(),
                      [&](size_t a, size_t b) { return p[a] > p[b]; });
    out << path << ":";
    for (size_t i = 0; i < k; ++i) {
      const size_t c = order[i];
      out << (i ? ", " : " ") << (c < names.size() ? names[c] : "class " + std::to_string(c)) << " "
          << fixed(p[c] / total, 3);
    }
    out << "\n";
  }
}

struct Run {
  const Options& o;
  const ArgParser& args;
  std::ostream& out;
  std::ostream& err;
  TrainState state;
  bool resuming = false;
  std::string& memory_hint;   // set once the model's size is known, for an out-of-memory error

  int execute();
};

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

int Run::execute() {
  const TrainOptions& t = o.train;
  const ScopedThreads threads(t.threads);
  Progress progress(err, stderr_is_terminal(), t.quiet, t.log_every);
  const Device device = compute_device(t.device, t.tf32);   // before the data: a missing GPU fails fast

  // Data.
  const DataSplits splits = load_dataset(data_spec(o));
  NEAT_CHECK(splits.class_names.size() >= 2, "data: ", splits.summary, ": ",
             splits.class_names.size(), " class; classification needs at least 2");
  NEAT_CHECK(splits.train->size() > 0 && splits.test->size() > 0, "data: ", splits.summary,
             ": an empty ", splits.train->size() > 0 ? "test" : "training",
             " split (too few images? a folder can bring its own train/ and test/)");
  const std::shared_ptr<const Dataset> train_set = limited(splits.train, t.train_limit, uint64_t(t.seed));
  progress.line("data: " + splits.summary +
                (train_set != splits.train ? " (training on " + std::to_string(train_set->size()) +
                                                 " of them: a class-balanced random subset, seed " +
                                                 std::to_string(t.seed) + ")"
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
  check_rank(o.method, config.hidden);
  memory_hint = attention_memory(config, t.batch_size);
  // Training keeps one attention matrix per layer for backward: more than the machine's memory
  // cannot work, so say so now rather than after the data loader has started.
  const double attention_bytes = double(t.batch_size) * double(config.heads) *
                                 double(config.num_patches() + 1) * double(config.num_patches() + 1) *
                                 4 * double(t.eval_only || !t.predict.empty() ? 1 : config.depth);
  NEAT_CHECK(device != Device::CPU || attention_bytes <= double(physical_memory_bytes()),
             "not enough memory: ", memory_hint, " (this machine has ",
             physical_memory_bytes() >> 30, " GiB)");
  ViTForImageClassification model(config);
  progress.line("model: " + config.str());
  if (!t.weights.empty()) {
    const std::string weights = resolve_weights_path(t.weights);
    const SafetensorsFile file = read_safetensors(weights);
    const ViTShape in_file = vit_shape_in(file);
    NEAT_CHECK(!in_file.found || in_file.matches(config), "--weights ", weights, " holds a ViT of ",
               in_file.str(), " but this run builds ", config.str(), ": run with ", in_file.flags());
    const ViTLoadReport loaded = load_vit_weights(model, file);
    check_finite_parameters(model, weights);
    progress.line("weights: " + std::to_string(loaded.loaded) + " tensors from " + weights);
    for (const std::string& m : loaded.messages) {
      const bool notice = m.find("keeps its initialisation") != std::string::npos;
      if (notice && !t.new_head) progress.warning(m);
      else progress.line("  " + m);
    }
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
    check_finite_parameters(model, t.adapter);
    progress.line("adapter: loaded " + t.adapter);
  }
  if (device != Device::CPU) {
    model.to(device);   // the optimizer below keeps its state beside the parameters
    progress.line("device: " + cuda_device_description() + ", " + cuda_blas_description() +
                  (t.tf32 ? ", TF32 GEMMs" : ""));
  }
  AdamW optimizer(parameter_groups(model, t));
  if (!t.predict.empty()) {
    if (resuming) load_checkpoint(join_path(t.out, "checkpoint.safetensors"), model, optimizer);
    predict(model, transforms_for(config, native_size, "none").second, t.predict,
            splits.class_names, out);
    return 0;
  }

  // Loaders.
  const auto [train_tf, eval_tf] = transforms_for(config, native_size, t.augment);
  LoaderConfig train_lc;
  train_lc.batch_size = t.batch_size;
  train_lc.workers = t.workers;
  train_lc.seed = uint64_t(t.seed);
  train_lc.pin_memory = device != Device::CPU;
  LoaderConfig eval_lc = train_lc;
  eval_lc.shuffle = false;
  DataLoader train_loader(train_set, train_tf, train_lc);
  std::unique_ptr<DataLoader> val_loader;
  if (splits.val && splits.val->size() > 0)
    val_loader = std::make_unique<DataLoader>(splits.val, eval_tf, eval_lc);
  DataLoader test_loader(splits.test, eval_tf, eval_lc);

  // The run directory: this run's own (a new name by default), locked while it writes.
  std::string dir = t.out;
  if (dir.empty()) dir = create_unique_directory(default_out_base(o));
  else make_directories(dir);
  const RunLock lock(dir);
  if (!resuming) {
    check_out_dir(t, resuming);   // again, under the lock: another run may have finished here
    if (t.overwrite) remove_run_files(dir);
  }
  if (const int stale = remove_stale_temp_files(dir))
    progress.line("removed " + std::to_string(stale) + " temporary file(s) left by a killed run in " + dir);
  const std::string checkpoint_path = join_path(dir, "checkpoint.safetensors");
  const std::string title = o.method.method + " on " + t.data + " (" + dir + ")";
  ImageBatches train_batches(model, train_loader);
  std::unique_ptr<ImageBatches> val_batches;
  if (val_loader) val_batches = std::make_unique<ImageBatches>(model, *val_loader);
  double train_seconds = 0;
  TrainRun run;
  const int code = train_with_flags("train_vit", t, dir, args.values(), resuming, title, model,
                                    model.generator(), optimizer, train_batches,
                                    val_batches.get(), progress, err, state, run);
  if (code != 0) return code;
  const bool checkpoint_failed = run.checkpoint_failed;
  train_seconds = run.train_seconds;

  // Test with the final model, then the files.
  const EvalResult test = evaluate(model, test_loader, [&](int64_t done, int64_t total) {
    progress.eval("test", done, total);
  });
  if (test.interrupted) {
    const bool saved = file_exists(checkpoint_path) && !checkpoint_failed;
    err << "train_vit: " << (stop_signal() == SIGINT ? "interrupted (SIGINT)" : "terminated")
        << " during the test evaluation"
        << (saved ? "; the trained model is in the checkpoint: evaluate it with train_vit --resume " +
                        dir + " --eval-only"
                  : "")
        << "\n";
    return 128 + stop_signal();
  }
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
  set_run_fields(results, report, state, train_seconds, "images_per_second", args.values());
  results.set("model", config.str());
  results.set("device", device == Device::CPU ? std::string("cpu") : cuda_device_description() + (t.tf32 ? ", TF32" : ""));
  results.set("method", report.str());
  results.set("data", splits.summary);
  results.set("class_names", class_names_json(splits.class_names));
  // Evaluation only: its own file, so a run's results.json (its training time, throughput) stays.
  write_file_atomic(join_path(dir, t.eval_only ? "eval.json" : "results.json"), results.dump(2) + "\n");
  const std::string names = class_names_json(splits.class_names).dump();
  if (!t.eval_only) {
    // The adapter file with the class names added to its metadata (what --predict prints).
    const std::string path = join_path(dir, "adapter.safetensors");
    save_adapter(path, model, peft);
    SafetensorsFile adapter = read_safetensors(path);
    adapter.metadata["class_names"] = names;
    write_safetensors(path, adapter.tensors, adapter.metadata);
    if (has_peft_layout(peft.method)) save_peft_adapter(join_path(dir, "peft"), model, peft);
  }
  if (t.merge) {
    merge_peft_layers(model);
    save_vit_weights(model, join_path(dir, "model.safetensors"),
                     {{"class_names", names}, {"format", "pt"}});   // "pt": what transformers reads
    // With it, transformers' ViTForImageClassification.from_pretrained(dir) loads the model.
    write_file_atomic(join_path(dir, "config.json"),
                      hf_vit_config_json(config, splits.class_names).dump(2) + "\n");
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
  ArgParser args = train_vit_arguments(o);
  bool resuming = false;
  std::string memory_hint;
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
        args.restore(resumable_config(read_checkpoint_state(path).config), kResumeFreeFlags);
        o.train.out = o.train.resume;
      }
      check_train_vit_options(o, args);
      check_out_dir(o.train, resuming);
      // Files named on the command line, before the data is read.
      if (!o.train.weights.empty()) resolve_weights_path(o.train.weights);
      NEAT_CHECK(o.train.weights.empty() || file_exists(o.train.weights), "--weights ",
                 o.train.weights, ": no such file");
      NEAT_CHECK(o.train.adapter.empty() || file_exists(o.train.adapter), "--adapter ",
                 o.train.adapter, ": no such file");
      for (const std::string& warning : ignored_flag_warnings(o, args))
        err << "warning: " << warning << "\n";
      // (cifar10 and cifar100 look only there: their error names it.)
      const bool reads_data_dir = o.train.data.rfind("cifar", 0) == 0;
      if (!o.train.data_dir.empty() && !is_directory(o.train.data_dir) && !reads_data_dir)
        err << "warning: --data-dir " << o.train.data_dir << " does not exist"
            << (o.train.data == "fashion-mnist" ? "; looking for fashion-mnist in the default places"
                                                : " (--data " + o.train.data + " does not read it)")
            << "\n";
      Run run{o, args, out, err, {}, resuming, memory_hint};
      return run.execute();
    } catch (const UsageError& e) {
      err << "train_vit: " << e.what() << "\n" << args.usage() << "\n";
      return 2;
    }
  } catch (const std::bad_alloc&) {
    err << "train_vit: error: out of memory"
        << (memory_hint.empty() ? std::string() : ": " + memory_hint) << "\n";
    return 1;
  } catch (const std::exception& e) {
    // An allocation refused by the tensor storage: add what the model needs.
    const bool memory = std::string(e.what()).find("out of memory") != std::string::npos;
    err << "train_vit: error: " << one_line(e.what())
        << (memory && !memory_hint.empty() ? "; " + memory_hint : "") << "\n";
    return 1;
  }
}

}  // namespace neat
