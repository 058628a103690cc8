// One ViT training step on one GPU (forward + cross-entropy + backward + AdamW), the rows of
// issue 27's table: ViT-B/16 at 224 px (Neat rank 7 on query and value, LoRA rank 8 on query and
// value, full fine-tuning) and the vit-tiny preset at 224 px (Neat as `train_vit --method neat`
// trains it: rank 8, depth 2, relu, qv), at batch 64 and 256, in float32, with TF32 GEMMs and
// under --precision bf16 (train/precision.h: frozen weights stored in bf16, float32 masters):
// ms/step, images/s, the peak GPU memory of the step's tensors and the model FLOP utilisation
// (MFU). bench/pytorch_gpu_vit_step.py measures the same rows in PyTorch + transformers
// (scripts/gpu_check.sh runs both and prints one table). Figures only.
//
//   build/bench/bench_gpu_vit_step                    # every row; says so and exits 0 without a GPU
//   build/bench/bench_gpu_vit_step --dry-run          # the planned rows and their FLOPs, no GPU
//   build/bench/bench_gpu_vit_step --steps 10 --batch 64              # more steps, one batch size
//   build/bench/bench_gpu_vit_step --case vit-b16 neat-qv-r7 tf32     # one model x method x math
//   build/bench/bench_gpu_vit_step --budget-s 150     # rows not started within 150 s say so
//   CUDA_LAUNCH_BLOCKING=1 build/bench/bench_gpu_vit_step --profile   # where each step's time goes
//
// Timing: per row, 3 warm-up steps (the first allocates AdamW's state and fills the allocator's
// cache), then the median of --steps steps (default 5), each ended by a synchronisation. One
// model per model x method x math serves both batch sizes (a fresh AdamW each). Random weights,
// pixels ~ N(0, 1) and labels (a step costs the same as with pretrained weights). Each row
// prints a `BENCH {json}` line with "framework": "neat.cpp"; a row not started because the
// --budget-s (default 150) was spent prints a "skipped" line instead, so that the whole run
// stays inside scripts/gpu_check.sh's time.
//
// MFU = the step's model FLOPs (step_flops: the GEMMs and attention products the step needs,
// forward and backward; no elementwise work) / its time / the GPU's dense peak for that math
// (gpu_peak_tflops: FP32 on the CUDA cores, TF32 and BF16 on the tensor cores, from NVIDIA's
// datasheets; "n/a" for a GPU not in its list).
//
// --profile: after the timed steps, 3 more steps under the step profiler (tensor/profile.h),
// whose report follows the row's line. The profiler reads the host's clock, and kernel launches
// return before the kernels finish: run it with CUDA_LAUNCH_BLOCKING=1, which makes every launch
// wait for its kernel, so that each op's time is its kernels' (plus one launch's latency each).
// The timed steps of a profiled run are slower for the same reason: compare them with a run
// without --profile.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/nn_functional.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/check.h"
#include "tensor/gpu.h"
#include "tensor/profile.h"
#include "train/optimizer.h"
#include "train/precision.h"

namespace {

using namespace neat;

using Clock = std::chrono::steady_clock;

// A model x method of the table: one model serves its three maths and both batch sizes.
struct StepModel {
  std::string model, method;
  ViTConfig config;
  PeftConfig peft;
};

std::vector<StepModel> step_models() {
  ViTConfig base = vit_config("vit-base"), tiny = vit_config("vit-tiny");
  for (ViTConfig* c : {&base, &tiny}) {
    c->image_size = 224;
    c->patch_size = 16;
    c->num_classes = 10;
  }
  PeftConfig neat7, lora8, full, neat8;
  neat7.method = "neat";
  neat7.targets = "qv";
  neat7.neat.rank = 7;
  neat7.neat.depth = 2;
  neat7.neat.activation = NeatActivation::Relu;
  neat8 = neat7;   // train_vit --method neat's defaults (train/options.h)
  neat8.neat.rank = 8;
  lora8.method = "lora";
  lora8.targets = "qv";
  lora8.lora.rank = 8;
  lora8.lora.alpha = 8;
  full.method = "full";
  return {{"vit-b16", "neat-qv-r7", base, neat7},
          {"vit-b16", "lora-qv-r8", base, lora8},
          {"vit-b16", "full", base, full},
          {"vit-tiny", "neat-qv-r8", tiny, neat8}};
}

// The model FLOPs of one training step: 2 m n k for every product of the forward; the same
// again for each gradient of a product's operand that the step needs: every activation's (the
// pixels' excepted: the patch embedding's input needs none), and each trainable weight's.
// Attention's two products (Q K^T, P V) have two activation operands each, so four in the
// backward. LoRA adds x A^T and (x A^T) B^T per adapter, Neat x M and (x M) B^T plus its M
// network, M = act(W0^T A^T) once per step and dA in the backward (its r x r layers are left
// out: 2 r^2 D). A ViT-B/16 image's forward is 35.1 GFLOP (17.6 G multiply-adds).
double step_flops(const StepModel& row, int64_t batch) {
  const ViTConfig& c = row.config;
  const double b = double(batch), n = double(c.num_patches()), t = n + 1, d = double(c.hidden),
               f = double(c.mlp_dim), layers = double(c.depth), classes = double(c.num_classes),
               pixels = double(c.channels * c.patch_size * c.patch_size);
  const double patch = 2 * b * n * pixels * d;                          // the patch embedding
  const double linears = 2 * b * t * layers * (4 * d * d + 2 * d * f);  // qkv, out, fc1, fc2
  const double attention = 2 * (2 * b * layers * t * t * d);           // Q K^T and P V
  const double head = 2 * b * d * classes;                             // on the CLS row
  const bool full = row.peft.method == "full";
  double forward = patch + linears + attention + head;
  double activation_grads = linears + 2 * attention + head;
  double weight_grads = head + (full ? patch + linears : 0);
  const bool lora = row.peft.method == "lora";
  if (lora || row.peft.method == "neat") {   // on query and value: 2 per layer, D -> D
    const double r = double(lora ? row.peft.lora.rank : row.peft.neat.rank), adapters = 2 * layers;
    const double rank_products = adapters * 2 * b * t * (d * r + r * d);
    forward += rank_products;
    activation_grads += rank_products;
    weight_grads += rank_products;   // LoRA's dA and dB; Neat's dM and dB
    if (!lora) {                     // M = act(W0^T A^T), and dA through it
      forward += adapters * 2 * d * d * r;
      weight_grads += adapters * 2 * d * d * r;
    }
  }
  return forward + activation_grads + weight_grads;
}

// Dense peak TFLOP/s of the math on a GPU whose name contains `name` (the first match; NVL
// cards, with other clocks, and every other GPU: 0, printed "n/a"): FP32 on the CUDA cores, TF32
// and BF16 on the tensor cores. NVIDIA's datasheets give the tensor-core figures with 2:4
// sparsity: these are half of those.
double gpu_peak_tflops(const std::string& gpu, Precision precision) {
  struct Peak {
    const char* name;
    double fp32, tf32, bf16;
  };
  static const Peak kPeaks[] = {
      {"H100 PCIe", 51.2, 378.0, 756.5},
      {"H100", 66.9, 494.7, 989.4},   // SXM5: "NVIDIA H100 80GB HBM3"
      {"H200", 66.9, 494.7, 989.4},   // SXM: the H100 SXM's chip and clocks, more memory
  };
  if (gpu.find("NVL") != std::string::npos) return 0;
  for (const Peak& p : kPeaks) {
    if (gpu.find(p.name) == std::string::npos) continue;
    return precision == Precision::Bf16 ? p.bf16 : precision == Precision::Tf32 ? p.tf32 : p.fp32;
  }
  return 0;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Figures {
  double ms = 0, peak_gib = 0;
  int64_t trainable = 0;
  std::string profile;   // the step profiler's report (--profile), else empty
};

// One batch size of a built model: warm-up, the timed steps, the peak memory, the profile.
Figures run_batch(ViTForImageClassification& model, const StepModel& row, int64_t batch,
                  int steps, bool profile) {
  const ViTConfig& config = row.config;
  Generator gen(7);
  const Tensor pixels =
      randn({batch, config.channels, config.image_size, config.image_size}, gen).to(Device::CUDA);
  std::vector<int64_t> label_values(static_cast<size_t>(batch));
  for (auto& l : label_values) l = int64_t(gen.below(uint64_t(config.num_classes)));
  const Tensor labels = from_vector(label_values, {batch}).to(Device::CUDA);
  AdamW optimizer({{"trainable", model.named_parameters(/*trainable_only=*/true), 1e-4, 1e-2}});

  auto step = [&] {
    cuda_synchronize();
    const auto start = Clock::now();
    profile_step_begin();
    const Variable loss = cross_entropy(model.forward(Variable(pixels)), labels);
    loss.backward();
    optimizer.step();
    optimizer.zero_grad();
    cuda_synchronize();
    profile_step_end();
    return 1000.0 * seconds_since(start);
  };
  for (int i = 0; i < 3; ++i) step();
  cuda_reset_peak_memory();
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) times.push_back(step());
  std::sort(times.begin(), times.end());
  Figures f;
  f.ms = times[times.size() / 2];
  f.peak_gib = double(cuda_memory_stats().peak_allocated) / double(1 << 30);
  if (profile) {
    profile_start();
    for (int i = 0; i < 3; ++i) step();
    profile_stop();
    f.profile = profile_report();
  }
  return f;
}

struct Options {
  int steps = 5;
  std::vector<int64_t> batches = {64, 256};
  double budget_s = 150;
  bool profile = false, dry_run = false;
  std::string only_model, only_method, only_math;   // --case MODEL METHOD MATH
};

// The GPU's name: cuda_device_description() without its " (sm_90, 79.1 GiB)".
std::string gpu_name() {
  const std::string description = cuda_device_description();
  return description.substr(0, description.find(" ("));
}

void print_row(const StepModel& row, Precision precision, int64_t batch, const Figures& f,
               const std::string& gpu) {
  const std::string math = precision_name(precision);
  const double images = double(batch) * 1000.0 / f.ms;
  const double tflop = step_flops(row, batch) / 1e12;
  const double peak = gpu_peak_tflops(gpu, precision);
  char mfu[32] = "n/a", mfu_json[32] = "null";
  if (peak > 0) {
    const double share = tflop / (f.ms / 1000.0) / peak;
    std::snprintf(mfu, sizeof mfu, "%.1f%%", 100.0 * share);
    std::snprintf(mfu_json, sizeof mfu_json, "%.4f", share);
  }
  std::printf("%-8s %-11s %-5s %5lld %9.1f %9.1f %9.2f %7s %11lld\n", row.model.c_str(),
              row.method.c_str(), math.c_str(), (long long)batch, f.ms, images, f.peak_gib, mfu,
              (long long)f.trainable);
  std::printf("BENCH {\"name\":\"gpu_vit_step\",\"framework\":\"neat.cpp\",\"model\":\"%s\","
              "\"method\":\"%s\",\"math\":\"%s\",\"batch\":%lld,\"ms_per_step\":%.2f,"
              "\"images_per_second\":%.1f,\"peak_gpu_gib\":%.3f,\"trainable_params\":%lld,"
              "\"model_tflop_per_step\":%.4f,\"mfu\":%s}\n",
              row.model.c_str(), row.method.c_str(), math.c_str(), (long long)batch, f.ms, images,
              f.peak_gib, (long long)f.trainable, tflop, mfu_json);
  std::fputs(f.profile.c_str(), stdout);
  std::fflush(stdout);
}

bool wanted(const Options& o, const StepModel& row, Precision precision) {
  return o.only_model.empty() || (row.model == o.only_model && row.method == o.only_method &&
                                  precision_name(precision) == o.only_math);
}

void print_plan(const Options& o) {
  std::printf("bench_gpu_vit_step --dry-run: the planned rows (model TFLOP per step: "
              "step_flops)\n%-8s %-11s %-5s %5s %12s\n", "model", "method", "math",
              "batch", "TFLOP/step");
  for (const StepModel& row : step_models())
    for (const Precision precision : {Precision::Fp32, Precision::Tf32, Precision::Bf16})
      for (const int64_t batch : o.batches)
        if (wanted(o, row, precision))
          std::printf("%-8s %-11s %-5s %5lld %12.4f\n", row.model.c_str(), row.method.c_str(),
                      precision_name(precision), (long long)batch, step_flops(row, batch) / 1e12);
}

// Every planned row on the GPU, in order, until the budget is spent.
void run_rows(const Options& o) {
  const std::string gpu = gpu_name();
  std::printf("ViT training steps on %s: 224 px, median of %d steps; MFU = model FLOPs / time / "
              "the GPU's dense peak for the math (%s)\n",
              cuda_device_description().c_str(), o.steps,
              gpu_peak_tflops(gpu, Precision::Fp32) > 0 ? "known" : "n/a: not in the list");
  std::printf("%-8s %-11s %-5s %5s %9s %9s %9s %7s %11s\n", "model", "method", "math", "batch",
              "ms/step", "images/s", "peak GiB", "MFU", "trainable");
  const auto start = Clock::now();
  for (const StepModel& row : step_models()) {
    for (const Precision precision : {Precision::Fp32, Precision::Tf32, Precision::Bf16}) {
      if (!wanted(o, row, precision)) continue;
      if (seconds_since(start) > o.budget_s) {
        for (const int64_t batch : o.batches)
          std::printf("%-8s %-11s %-5s %5lld skipped: the %.0f s budget was spent\n",
                      row.model.c_str(), row.method.c_str(), precision_name(precision),
                      (long long)batch, o.budget_s);
        continue;
      }
      cuda_set_allow_tf32(precision == Precision::Tf32);
      ViTForImageClassification model(row.config);
      const PeftReport report = attach_peft(model, row.peft);
      model.to(Device::CUDA);
      apply_precision(model, precision);
      model.train();
      for (const int64_t batch : o.batches) {
        Figures f = run_batch(model, row, batch, o.steps, o.profile);
        f.trainable = report.trainable;
        print_row(row, precision, batch, f, gpu);
      }
    }
  }
}

int main_checked(int argc, char** argv) {
  Options o;
  const char* usage =
      "usage: bench_gpu_vit_step [--steps N] [--batch B] [--budget-s S] "
      "[--case vit-b16|vit-tiny METHOD fp32|tf32|bf16] [--profile] [--dry-run]";
  auto bad_usage = [&] {   // a bad flag: the usage line and exit status 2
    std::fprintf(stderr, "%s\n", usage);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--profile") {
      o.profile = true;
    } else if (flag == "--dry-run") {
      o.dry_run = true;
    } else if (flag == "--case" && i + 3 < argc) {
      o.only_model = argv[++i];
      o.only_method = argv[++i];
      o.only_math = argv[++i];
      bool known = false;
      for (const StepModel& row : step_models())
        known = known || (row.model == o.only_model && row.method == o.only_method);
      if (!known || (o.only_math != "fp32" && o.only_math != "tf32" && o.only_math != "bf16"))
        return bad_usage();
    } else if ((flag == "--steps" || flag == "--batch" || flag == "--budget-s") && i + 1 < argc) {
      char* end = nullptr;
      const long long value = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || value < 1 || value > (1 << 20)) return bad_usage();
      if (flag == "--steps") o.steps = int(value);
      else if (flag == "--batch") o.batches = {value};
      else o.budget_s = double(value);
    } else {
      return bad_usage();
    }
  }
  if (o.dry_run) {
    print_plan(o);
    return 0;
  }
  if (!cuda_available()) {
    std::printf("bench_gpu_vit_step: skipped: %s\n", cuda_unavailable_reason().c_str());
    return 0;
  }
  run_rows(o);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return main_checked(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu_vit_step: error: %s\n", e.what());
    return 1;
  }
}
