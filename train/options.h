// The flags of train_vit and vit_step: the model and method flags both programs share, then
// train_vit's own. Each add_* function declares its flags (with defaults and help) on an
// ArgParser; the check_* / *_config functions validate the parsed values and build the
// library's configs, throwing UsageError for a bad combination.
//
//   ModelOptions model;  MethodOptions method;  TrainOptions train;
//   ArgParser args("train_vit", "...", "...");
//   add_model_flags(args, model);  add_method_flags(args, method);  add_train_flags(args, train);
//   args.parse({"--model", "custom", "--dim", "64", "--depth", "4", "--heads", "4"});
//   check_train_options(train);
//   ViTConfig config = vit_config_from(model, args, /*channels*/ 3, /*image size*/ 32, /*classes*/ 10);
//   PeftConfig peft = peft_config_from(method);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/vit.h"
#include "nn/peft/attach.h"
#include "train/args.h"

namespace neat {

struct ModelOptions {
  std::string model = "vit-tiny";   // vit-tiny|vit-small|vit-base|vit-large|custom
  int64_t dim = 192, depth = 12, heads = 3, mlp_dim = 0;   // custom only; mlp 0 = 4 * dim
  int64_t image_size = 0;   // 0: 224 for presets, the data's native size for custom
  int64_t patch = 0;        // 0: 16 for presets, 4 for custom
  int64_t channels = 0;     // 0: the data's channels (3 for presets when there is no data)
  int64_t num_classes = 0;  // 0: the data's class count
  double dropout = 0.0;     // hidden dropout (HF hidden_dropout_prob)
};

struct MethodOptions {
  std::string method = "neat";        // one of peft_methods() (nn/peft/attach.h)
  int64_t neat_rank = 8;
  int64_t neat_depth = 2;
  std::string neat_act = "relu";
  std::string neat_targets = "qv";
  double neat_scale = 1.0;
  int64_t lora_r = 8;
  double lora_alpha = 8.0;
  double lora_dropout = 0.0;
  std::string lora_targets = "qv";    // also dora, pissa and milora
  int64_t pissa_niter = -1;           // PiSSA's fast SVD: -1 = the exact one (nn/peft/pissa.h)
  int64_t vera_r = 256;
  double vera_d_initial = 0.1;
  int64_t vera_seed = 0;
  std::string vera_targets = "qv";
  int64_t fourier_n = 1000;
  double fourier_scaling = 150.0;
  int64_t fourier_seed = 777;
  bool fourier_zero_init = false;
  std::string fourier_targets = "qv";
  int64_t adapter_size = 64;
};

struct TrainOptions {
  std::string data = "cifar10";   // cifar10|cifar100|fashion-mnist|synthetic|folder:PATH
  std::string data_dir;           // where to look first
  std::string classes;            // class subset, e.g. "0-4"; empty = all
  int64_t train_limit = 0;        // train on a class-balanced random N samples (0 = all)
  std::string weights;            // pretrained backbone (HF names) or a full model we saved
  bool new_head = false;          // re-initialise the classifier after loading --weights
  std::string adapter;            // start from this adapter file
  int64_t epochs = 10;
  int64_t batch_size = 64;
  int64_t grad_accum = 1;
  double head_lr = 5e-3, backbone_lr = 5e-3;
  double weight_decay = 1e-4;
  double warmup_ratio = 0.1;
  std::string schedule = "linear";
  double clip_grad = 1.0;
  std::string augment = "auto";   // auto|none|flip|crop-flip
  int64_t seed = 42;
  int64_t threads = 0;            // 0 = all cores
  int64_t workers = 1;            // data loader threads
  std::string device = "cpu";
  std::string precision = "fp32";   // fp32|tf32|bf16 (train/precision.h)
  bool tf32 = false;              // --tf32: the same as --precision tf32
  std::string out;                // default runs/<method>-<data>-<time> (made unique)
  bool overwrite = false;         // --out may hold another run: its files are replaced
  int64_t save_every = 0;         // steps between checkpoints (0 = only at the end / on Ctrl-C)
  std::string resume;             // a run directory with a checkpoint
  bool eval_only = false;
  std::vector<std::string> predict;   // images to classify (no training, no test set)
  int64_t max_steps = 0;          // stop after this many optimizer steps (0 = no limit)
  int64_t profile_steps = 0;      // --profile N: profile N steps after the first (0 = off)
  bool merge = false;
  std::string merge_dtype = "auto";   // --merge's file: auto (the weights file's) | fp32 | bf16
  bool quiet = false;
  int64_t log_every = 50;         // steps between log lines when not on a terminal
};

// Everything train_vit's command line sets.
struct TrainVitOptions {
  ModelOptions model;
  MethodOptions method;
  TrainOptions train;
};

void add_model_flags(ArgParser& args, ModelOptions& options);
// targets: the values --neat-targets and the other --*-targets accept, explained by
// targets_help; empty: any list of module names (train_lm's q_proj,v_proj,...).
void add_method_flags(ArgParser& args, MethodOptions& options,
                      const std::vector<std::string>& targets = {"qv", "qvmlp"},
                      const std::string& targets_help =
                          "adapted linears: query and value, or also the two MLP linears");
// The image data flags (--data, --classes, --augment, --workers, ...), then add_run_flags.
void add_train_flags(ArgParser& args, TrainOptions& options);
// The flags every training program shares: Weights (--weights, --new-head, --adapter),
// Optimisation (--epochs ... --max-steps) and Run (--seed ... --log-every).
// predict_meta: what --predict takes ("IMAGE...", "TEXT...").
void add_run_flags(ArgParser& args, TrainOptions& options, const std::string& predict_meta);

// The model config: a preset or custom shape, the image size / channels / classes resolved
// against the data's (native_channels / native_size 0 when unknown). Errors (UsageError) name
// the flag: shape flags with a preset, non-positive sizes, image not divisible by patch, ...
ViTConfig vit_config_from(const ModelOptions& options, const ArgParser& args,
                          int64_t native_channels, int64_t native_size, int64_t num_classes);
// The adapter config of --method and its flags; UsageError for a bad value.
PeftConfig peft_config_from(const MethodOptions& options);
// --adapter FILE|DIR supplies the method and its settings, as peft's from_pretrained takes
// them from adapter_config.json: every method flag the adapter's config determines (--method,
// its rank, alpha, targets, Neat's depth and activation, VeRA's projection seed, ...) takes the
// adapter's value unless given. A given flag with another value is a UsageError naming both
// and the file ("--lora-r 8 conflicts with the adapter's r = 4 (DIR/adapter_config.json)"),
// except --lora-dropout, which acts in training only. The config is our file's metadata or the
// directory's adapter_config.json (read_adapter_config); errors name the file. No-op when empty.
void take_adapter_settings(const std::string& adapter, ArgParser& args);
// Checks the training flags' ranges and combinations (UsageError naming the flag):
// check_run_options, then the image data flags.
void check_train_options(const TrainOptions& options);
// The flags of add_run_flags (and --train-limit).
void check_run_options(const TrainOptions& options);

// train_vit's parser: the model, method and train flags bound to `options` (which must outlive it).
ArgParser train_vit_arguments(TrainVitOptions& options);
// train_vit's own checks of a parsed command line before it reads any data or file:
// check_train_options, peft_config_from, and the model flags' combinations (UsageError); the
// run skeleton (train/run_skeleton.h) checks those every program shares.
void check_train_vit_options(const TrainVitOptions& options, const ArgParser& args);

// Flags given that this run ignores, each as a warning: --neat-* with another method than neat,
// --lora-* with another than lora, --new-head without --weights.
std::vector<std::string> ignored_flag_warnings(const MethodOptions& method,
                                               const TrainOptions& train, const ArgParser& args);
// UsageError when the method's rank exceeds `width`, the adapted layers' smaller side (the
// model's hidden size: query, value and the MLP's linears all have it on one side).
void check_rank(const MethodOptions& options, int64_t width);

// Bounds of --threads (OpenMP compute threads) and --workers (data loader threads): far above
// any machine's useful count, well below where creating the threads fails.
constexpr int64_t kMaxThreads = 1024, kMaxWorkers = 64;
// UsageError unless 0 <= threads <= kMaxThreads.
void check_threads(int64_t threads);

}  // namespace neat
