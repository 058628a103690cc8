#include "train/options.h"

#include <filesystem>

#include "data/dataset.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/neat_function.h"
#include "tensor/files.h"
#include "train/precision.h"

namespace neat {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

// A NEAT_CHECK message without its trailing " (file.cpp:line)", for a usage line.
std::string without_location(const std::string& message) {
  const size_t open = message.rfind(" (");
  const bool located = open != std::string::npos && message.back() == ')' &&
                       message.find(".cpp:", open) != std::string::npos;
  return located ? message.substr(0, open) : message;
}

// --dim, --depth, --heads and --mlp-dim only with --model custom.
void check_shape_flags(const ModelOptions& o, const ArgParser& args) {
  if (o.model == "custom") return;
  for (const char* flag : {"--dim", "--depth", "--heads", "--mlp-dim"})
    require(!args.was_set(flag), std::string(flag) + " needs --model custom (--model " + o.model +
                                     " fixes the shape)");
}

}  // namespace

void add_model_flags(ArgParser& args, ModelOptions& o) {
  args.section("Model");
  args.add("--model", &o.model, "NAME",
           "vit-tiny (192 dim, 12 layers, 3 heads), vit-small (384, 12, 6), vit-base (768, 12, "
           "12), vit-large (1024, 24, 16), or custom (--dim --depth --heads --mlp-dim)",
           {"vit-tiny", "vit-small", "vit-base", "vit-large", "custom"});
  args.add("--dim", &o.dim, "N", "hidden size, --model custom only");
  args.add("--depth", &o.depth, "N", "encoder layers, --model custom only");
  args.add("--heads", &o.heads, "N", "attention heads, --model custom only");
  args.add("--mlp-dim", &o.mlp_dim, "N", "MLP size, --model custom only; 0 = 4 x dim");
  args.add("--image-size", &o.image_size, "PX",
           "input side; 0 = 224 for presets, the data's native size for custom");
  args.add("--patch", &o.patch, "PX", "patch side; 0 = 16 for presets, 4 for custom");
  args.add("--channels", &o.channels, "N", "input channels; 0 = the data's (3 for presets)");
  args.add("--num-classes", &o.num_classes, "N", "classifier outputs; 0 = the data's classes");
  args.add("--dropout", &o.dropout, "P", "hidden dropout (HF hidden_dropout_prob)");
}

void add_method_flags(ArgParser& args, MethodOptions& o, const std::vector<std::string>& targets,
                      const std::string& targets_help) {
  const std::string meta = targets.empty() ? "LIST" : "qv|qvmlp";
  args.section("Method");
  args.add("--method", &o.method, "NAME",
           "what trains (the classifier always does): neat, lora, dora, pissa (LoRA from the "
           "top singular triplets), milora (from the bottom ones), vera, fourierft, adapter "
           "(Houlsby), bitfit (the biases), head (the classifier only) or full (everything)",
           peft_methods());
  args.add("--neat-rank", &o.neat_rank, "R", "Neat rank r");
  args.add("--neat-depth", &o.neat_depth, "N",
           "Neat layers: 2 = A and B only; 4, 6, ... add U-Net style r x r layers");
  args.add("--neat-act", &o.neat_act, "relu|sin2pi|gelu|tanh|identity",
           "Neat activation (sin2pi is sin(2 pi x))",
           {"relu", "sin2pi", "gelu", "tanh", "identity"});
  args.add("--neat-targets", &o.neat_targets, meta, targets_help, targets);
  args.add("--neat-scale", &o.neat_scale, "S", "Neat output scale s");
  args.add("--lora-r", &o.lora_r, "R", "LoRA rank (--lora-* also set dora, pissa and milora)");
  args.add("--lora-alpha", &o.lora_alpha, "A", "LoRA alpha (scaling alpha / r)");
  args.add("--lora-dropout", &o.lora_dropout, "P", "dropout on the LoRA branch's input");
  args.add("--lora-targets", &o.lora_targets, meta, "adapted linears, as --neat-targets", targets);
  args.add("--pissa-niter", &o.pissa_niter, "N",
           "pissa only: start from a randomized SVD with N subspace iterations (peft's "
           "init_lora_weights=\"pissa_niter_N\", faster on large weights); -1 = the exact SVD");
  args.add("--vera-r", &o.vera_r, "R", "VeRA rank of the shared random projections");
  args.add("--vera-d-initial", &o.vera_d_initial, "D", "VeRA lambda_d's initial value");
  args.add("--vera-seed", &o.vera_seed, "N", "seed of VeRA's shared projections");
  args.add("--vera-targets", &o.vera_targets, meta, "adapted linears, as --neat-targets", targets);
  args.add("--fourier-n", &o.fourier_n, "N", "FourierFT spectral coefficients per layer");
  args.add("--fourier-scaling", &o.fourier_scaling, "S", "FourierFT scaling of Delta W");
  args.add("--fourier-seed", &o.fourier_seed, "N",
           "FourierFT position seed (peft's random_loc_seed)");
  args.add_switch("--fourier-zero-init", &o.fourier_zero_init,
                  "start the FourierFT spectrum at 0 instead of N(0, 1)");
  args.add("--fourier-targets", &o.fourier_targets, meta, "adapted linears, as --neat-targets", targets);
  args.add("--adapter-size", &o.adapter_size, "M",
           "Houlsby adapter bottleneck (after attention and MLP outputs)");
}

void add_train_flags(ArgParser& args, TrainOptions& o) {
  args.section("Data");
  args.add("--data", &o.data, "NAME",
           "cifar10, cifar100, fashion-mnist, synthetic, or folder:PATH (PATH/<class>/<image>)");
  args.add("--data-dir", &o.data_dir, "DIR", "where to look for the dataset first");
  args.add("--classes", &o.classes, "SPEC", "class subset, e.g. 0-4 or 1,3,5 (relabelled 0..k-1)");
  args.add("--train-limit", &o.train_limit, "N", "train on N samples: a class-balanced random subset (seeded by --seed); 0 = all");
  args.add("--augment", &o.augment, "MODE",
           "training augmentation: flip = RandomHorizontalFlip (after the eval Resize + "
           "CenterCrop when the model's size is not the data's); crop-flip = RandomResizedCrop"
           "(scale 0.08-1) + flip, for long runs on large images; none; auto = flip",
           {"auto", "none", "flip", "crop-flip"});
  args.add("--workers", &o.workers, "N",
           "data loader threads (0 = build batches on the training thread)");
  add_run_flags(args, o, "IMAGE...");
}

void add_run_flags(ArgParser& args, TrainOptions& o, const std::string& predict_meta) {
  args.section("Weights");
  args.add("--weights", &o.weights, "FILE",
           "pretrained backbone in safetensors with Hugging Face names (or a model saved by --merge)");
  args.add_switch("--new-head", &o.new_head,
                  "re-initialise the classifier after loading --weights (a new task that happens "
                  "to have as many classes)");
  args.add("--adapter", &o.adapter, "FILE|DIR",
           "start from this adapter file (trainable tensors) or peft directory "
           "(adapter_config.json + adapter_model.safetensors); its config gives --method and "
           "the method's settings (flags given must agree)");
  args.section("Optimisation");
  args.add("--epochs", &o.epochs, "N", "passes over the training set");
  args.add("--batch-size", &o.batch_size, "N", "images per forward/backward");
  args.add("--grad-accum", &o.grad_accum, "N", "batches per optimizer step");
  args.add("--head-lr", &o.head_lr, "LR", "AdamW learning rate of the classifier");
  args.add("--backbone-lr", &o.backbone_lr, "LR",
           "AdamW learning rate of everything else that trains (adapters, or the backbone)");
  args.add("--weight-decay", &o.weight_decay, "WD", "AdamW decoupled weight decay");
  args.add("--warmup-ratio", &o.warmup_ratio, "F", "fraction of steps with linear warmup");
  args.add("--schedule", &o.schedule, "linear|cosine|constant", "learning-rate decay after warmup",
           {"linear", "cosine", "constant"});
  args.add("--clip-grad", &o.clip_grad, "NORM", "global gradient-norm clipping; 0 = off");
  args.add("--max-steps", &o.max_steps, "N",
           "stop after N optimizer steps (smoke tests; the schedule still spans all epochs); 0 = off");
  args.section("Run");
  args.add("--seed", &o.seed, "N", "seed of init, data order, augmentation and dropout");
  args.add("--threads", &o.threads, "N", "compute threads; 0 = all cores");
  args.add("--profile", &o.profile_steps, "N",
           "print where the time of N optimizer steps goes (per op and category, after the "
           "first step); 0 = off");
  args.add("--device", &o.device, "cpu|cuda",
           "where to compute (cuda: the first GPU; a CUDA build, made where nvcc is found)",
           {"cpu", "cuda"});
  add_precision_flags(args, &o.precision, &o.tf32);
  args.add("--out", &o.out, "DIR",
           "output directory; default a new runs/<method>-<data>-<time>[-N]. One that holds "
           "another run is refused (see --resume, --overwrite)");
  args.add_switch("--overwrite", &o.overwrite,
                  "let --out replace the run already in it (its results, logs and checkpoint)");
  args.add("--save-every", &o.save_every, "N",
           "write a checkpoint every N optimizer steps (one is always written at the end and on "
           "Ctrl-C); 0 = only those");
  args.add("--resume", &o.resume, "DIR", "continue the run whose checkpoint is in DIR");
  args.add_switch("--eval-only", &o.eval_only, "evaluate on the test set, do not train");
  args.add_list("--predict", &o.predict, predict_meta,
                "print the top classes, by name, of each input (with --weights, --adapter or "
                "--resume; nothing is trained or written)");
  args.add_switch("--merge", &o.merge, "also write the model with adapters merged (model.safetensors)");
  args.add("--merge-dtype", &o.merge_dtype, "auto|fp32|bf16",
           "the merged model's dtype; auto: the --weights file's (bf16 for a BF16 file), else "
           "fp32 (the merge itself adds in float32)",
           {"auto", "fp32", "bf16"});
  args.add_switch("--quiet", &o.quiet, "print only warnings, errors and the final result");
  args.add("--log-every", &o.log_every, "N", "steps between log lines when not on a terminal");
}

ViTConfig vit_config_from(const ModelOptions& o, const ArgParser& args, int64_t native_channels,
                          int64_t native_size, int64_t num_classes) {
  const std::pair<const char*, int64_t> defaulted[] = {
      {"--mlp-dim", o.mlp_dim}, {"--image-size", o.image_size}, {"--patch", o.patch},
      {"--channels", o.channels}, {"--num-classes", o.num_classes}};
  for (const auto& [flag, value] : defaulted)
    require(value >= 0, std::string(flag) + " must be >= 0 (0 = the default), got " +
                            std::to_string(value));
  const bool custom = o.model == "custom";
  ViTConfig c = custom ? ViTConfig{} : vit_config(o.model);
  if (custom) {
    c.hidden = o.dim;
    c.depth = o.depth;
    c.heads = o.heads;
    c.mlp_dim = o.mlp_dim > 0 ? o.mlp_dim : 4 * o.dim;
  } else {
    check_shape_flags(o, args);
  }
  require(c.hidden > 0 && c.depth > 0 && c.heads > 0 && c.mlp_dim > 0,
          "--dim, --depth, --heads and --mlp-dim must be positive");
  require(c.hidden % c.heads == 0, "--dim " + std::to_string(c.hidden) +
                                       " is not divisible by --heads " + std::to_string(c.heads));
  c.patch_size = o.patch > 0 ? o.patch : custom ? 4 : 16;
  if (o.image_size > 0) c.image_size = o.image_size;
  else if (custom && native_size > 0) c.image_size = native_size;
  else if (custom)
    throw UsageError("--image-size is needed with --model custom when the images have no single "
                     "native size (an image folder, or no data)");
  else c.image_size = 224;
  require(c.image_size % c.patch_size == 0, "--image-size " + std::to_string(c.image_size) +
                                                " is not divisible by --patch " +
                                                std::to_string(c.patch_size));
  c.channels = o.channels > 0 ? o.channels : native_channels > 0 ? native_channels : 3;
  c.num_classes = o.num_classes > 0 ? o.num_classes : num_classes;
  require(c.num_classes > 0, "--num-classes is needed (no data to take the class count from)");
  require(o.dropout >= 0 && o.dropout < 1, "--dropout must be in [0, 1)");
  c.dropout = o.dropout;
  return c;
}

PeftConfig peft_config_from(const MethodOptions& o) {
  require(o.neat_rank >= 1 && o.lora_r >= 1, "--neat-rank and --lora-r must be at least 1");
  require(o.neat_depth >= 2 && o.neat_depth % 2 == 0, "--neat-depth must be even and >= 2");
  require(o.lora_alpha > 0, "--lora-alpha must be positive");
  require(o.lora_dropout >= 0 && o.lora_dropout < 1, "--lora-dropout must be in [0, 1)");
  require(o.method != "dora" || o.lora_dropout == 0,
          "--lora-dropout is not supported with --method dora (peft's DoRA dropout path differs)");
  require(o.vera_r >= 1 && o.fourier_n >= 1 && o.adapter_size >= 1,
          "--vera-r, --fourier-n and --adapter-size must be at least 1");
  require(o.vera_seed >= 0 && o.fourier_seed >= 0, "--vera-seed and --fourier-seed must be >= 0");
  require(o.pissa_niter >= -1, "--pissa-niter must be -1 (the exact SVD) or >= 0");
  require(o.pissa_niter == -1 || o.method == "pissa", "--pissa-niter applies to --method pissa only");
  PeftConfig c;
  c.method = o.method;
  c.targets = o.method == "vera"        ? o.vera_targets
              : o.method == "fourierft" ? o.fourier_targets
              : o.method == "neat"      ? o.neat_targets
                                        : o.lora_targets;
  c.neat.rank = o.neat_rank;
  c.neat.depth = o.neat_depth;
  c.neat.activation = parse_neat_activation(o.neat_act);
  c.neat.scale = o.neat_scale;
  c.lora.rank = o.lora_r;
  c.lora.alpha = o.lora_alpha;
  c.lora.dropout = o.lora_dropout;
  c.pissa_niter = o.pissa_niter;
  c.vera.rank = o.vera_r;
  c.vera.d_initial = o.vera_d_initial;
  c.vera.projection_seed = uint64_t(o.vera_seed);
  c.fourier.n_frequency = o.fourier_n;
  c.fourier.scaling = o.fourier_scaling;
  c.fourier.random_loc_seed = uint64_t(o.fourier_seed);
  c.fourier.zero_init = o.fourier_zero_init;
  c.adapter.bottleneck = o.adapter_size;
  return c;
}

namespace {

// One method flag's value as an adapter records it, under the name its file uses.
struct AdapterSetting {
  const char* flag;   // "--lora-r"
  std::string key;    // "r" in adapter_config.json, "rank" in our file's metadata
  Json value;
};

// The method flags an adapter's config determines (peft: peft's key names).
std::vector<AdapterSetting> adapter_settings(const PeftConfig& c, bool peft) {
  auto key = [peft](const char* ours, const char* theirs) { return std::string(peft ? theirs : ours); };
  const std::string targets = key("targets", "target_modules");
  std::vector<AdapterSetting> s = {{"--method", "method", Json(c.method)}};
  if (c.method == "neat") {
    s.push_back({"--neat-rank", key("rank", "r"), Json(c.neat.rank)});
    s.push_back({"--neat-depth", "depth", Json(c.neat.depth)});
    s.push_back({"--neat-act", "activation", Json(neat_activation_name(c.neat.activation))});
    s.push_back({"--neat-targets", targets, Json(c.targets)});
    s.push_back({"--neat-scale", "scale", Json(c.neat.scale)});
  } else if (c.method == "lora" || c.method == "dora" || c.method == "pissa" ||
             c.method == "milora") {
    s.push_back({"--lora-r", key("rank", "r"), Json(c.lora.rank)});
    s.push_back({"--lora-alpha", key("alpha", "lora_alpha"), Json(c.lora.alpha)});
    s.push_back({"--lora-dropout", key("dropout", "lora_dropout"), Json(c.lora.dropout)});
    s.push_back({"--lora-targets", targets, Json(c.targets)});
    if (c.method == "pissa") s.push_back({"--pissa-niter", "pissa_niter", Json(c.pissa_niter)});
  } else if (c.method == "vera") {
    s.push_back({"--vera-r", key("rank", "r"), Json(c.vera.rank)});
    s.push_back({"--vera-d-initial", "d_initial", Json(c.vera.d_initial)});
    s.push_back({"--vera-seed", key("projection_seed", "projection_prng_key"),
                 Json(int64_t(c.vera.projection_seed))});
    s.push_back({"--vera-targets", targets, Json(c.targets)});
  } else if (c.method == "fourierft") {
    s.push_back({"--fourier-n", "n_frequency", Json(c.fourier.n_frequency)});
    s.push_back({"--fourier-scaling", "scaling", Json(c.fourier.scaling)});
    s.push_back({"--fourier-seed", "random_loc_seed", Json(int64_t(c.fourier.random_loc_seed))});
    s.push_back({"--fourier-targets", targets, Json(c.targets)});
  } else if (c.method == "adapter") {
    s.push_back({"--adapter-size", "bottleneck", Json(c.adapter.bottleneck)});
  }
  return s;
}

std::string shown(const Json& value) { return value.is_string() ? value.as_string() : value.dump(); }

}  // namespace

void take_adapter_settings(const std::string& adapter, ArgParser& args) {
  if (adapter.empty()) return;
  NEAT_CHECK(file_exists(adapter), "--adapter ", adapter, ": no such file or directory");
  const bool peft = std::filesystem::is_directory(adapter);
  const std::string source =
      peft ? (std::filesystem::path(adapter) / "adapter_config.json").string()
           : adapter + "'s metadata";
  const Json given = args.values();
  Json taken = Json::object();
  for (const AdapterSetting& s : adapter_settings(read_adapter_config(adapter), peft)) {
    const std::string name = std::string(s.flag).substr(2);
    if (!args.was_set(s.flag)) {
      taken.set(name, s.value);
      continue;
    }
    // LoRA's dropout acts in training only: a run may continue an adapter under another.
    if (std::string(s.flag) == "--lora-dropout") continue;
    require(given[name].dump() == s.value.dump(),
            std::string(s.flag) + " " + shown(given[name]) + " conflicts with the adapter's " +
                s.key + " = " + shown(s.value) + " (" + source +
                "); leave the flag out to use the adapter's");
  }
  args.restore(taken, {});
}

void check_threads(int64_t threads) {
  require(threads >= 0 && threads <= kMaxThreads, "--threads must be in [0, " +
                                                      std::to_string(kMaxThreads) + "], got " +
                                                      std::to_string(threads));
}

void check_train_options(const TrainOptions& o) {
  check_run_options(o);
  require(o.workers >= 0 && o.workers <= kMaxWorkers,
          "--workers must be in [0, " + std::to_string(kMaxWorkers) + "], got " +
              std::to_string(o.workers));
  if (!o.classes.empty()) {
    try {
      parse_class_ranges(o.classes);   // the syntax; the data's class count is checked on loading
    } catch (const std::runtime_error& e) {
      throw UsageError("--" + without_location(e.what()));
    }
  }
  const bool known = o.data == "cifar10" || o.data == "cifar100" || o.data == "fashion-mnist" ||
                     o.data == "synthetic" || (o.data.rfind("folder:", 0) == 0 && o.data.size() > 7);
  require(known, "--data: '" + o.data +
                     "' is not one of cifar10, cifar100, fashion-mnist, synthetic, folder:PATH");
}

void check_run_options(const TrainOptions& o) {
  require(o.epochs >= 1, "--epochs must be at least 1");
  require(o.batch_size >= 1, "--batch-size must be at least 1");
  require(o.grad_accum >= 1, "--grad-accum must be at least 1");
  require(o.head_lr >= 0 && o.backbone_lr >= 0, "--head-lr and --backbone-lr must be >= 0");
  require(o.weight_decay >= 0, "--weight-decay must be >= 0");
  require(o.warmup_ratio >= 0 && o.warmup_ratio <= 1, "--warmup-ratio must be in [0, 1]");
  require(o.clip_grad >= 0, "--clip-grad must be >= 0");
  check_threads(o.threads);
  require(o.save_every >= 0 && o.max_steps >= 0 && o.profile_steps >= 0 && o.train_limit >= 0 &&
              o.log_every >= 1,
          "--save-every, --max-steps, --profile and --train-limit must be >= 0, --log-every >= 1");
  require(o.seed >= 0, "--seed must be >= 0");
  check_precision_device(parse_precision(o.precision, o.tf32), o.device);
}

std::vector<std::string> ignored_flag_warnings(const MethodOptions& m, const TrainOptions& t,
                                               const ArgParser& args) {
  std::vector<std::string> warnings;
  const std::string& method = m.method;
  for (const char* flag : {"--neat-rank", "--neat-depth", "--neat-act", "--neat-targets", "--neat-scale"})
    if (method != "neat" && args.was_set(flag))
      warnings.push_back(std::string(flag) + " does not apply to --method " + method + " (ignored)");
  const bool lora_family =
      method == "lora" || method == "dora" || method == "pissa" || method == "milora";
  for (const char* flag : {"--lora-r", "--lora-alpha", "--lora-dropout", "--lora-targets"})
    if (!lora_family && args.was_set(flag))
      warnings.push_back(std::string(flag) + " does not apply to --method " + method + " (ignored)");
  if (t.new_head && t.weights.empty())
    warnings.push_back("--new-head does nothing without --weights (the classifier is new anyway)");
  return warnings;
}

void check_rank(const MethodOptions& o, int64_t width) {
  const bool neat = o.method == "neat";
  const bool lora = o.method == "lora" || o.method == "dora" || o.method == "pissa" ||
                    o.method == "milora";
  const int64_t rank = neat ? o.neat_rank : o.lora_r;
  require(!(neat || lora) || rank <= width,
          std::string(neat ? "--neat-rank " : "--lora-r ") + std::to_string(rank) +
              " is larger than the adapted layers' width " + std::to_string(width) +
              " (a rank is at most the width; typical ranks are 4-32)");
}

ArgParser train_vit_arguments(TrainVitOptions& o) {
  ArgParser args("train_vit", "[--method neat|lora|head|full] [--data NAME] [options]",
                 "Fine-tune a Vision Transformer with Neat, LoRA, a linear probe or fully.");
  add_model_flags(args, o.model);
  add_method_flags(args, o.method);
  add_train_flags(args, o.train);
  return args;
}

void check_train_vit_options(const TrainVitOptions& o, const ArgParser& args) {
  check_train_options(o.train);
  check_shape_flags(o.model, args);
  require(o.model.channels == 0 || o.model.channels == 1 || o.model.channels == 3,
          "--channels must be 1 or 3 (0 = the data's), got " + std::to_string(o.model.channels));
  peft_config_from(o.method);
}

}  // namespace neat
