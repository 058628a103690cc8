// The paper's setting on one GPU: a ViT-B/16 training step at 224 px, batch 64 (forward +
// cross-entropy + backward + AdamW), for Neat rank 7 on query and value and for full
// fine-tuning, in float32, with TF32 GEMMs and under --precision bf16 (train/precision.h: frozen
// weights stored in bf16, float32 masters): ms/step, images/s and the peak GPU memory of the
// step's tensors. bench/pytorch_gpu_vit_step.py measures the same step in PyTorch +
// transformers (scripts/gpu_check.sh runs both and prints one table). Figures only.
//
//   build/bench/bench_gpu_vit_step                    # every case; says so and exits 0 without a GPU
//   build/bench/bench_gpu_vit_step --steps 5          # fewer timed steps
//   build/bench/bench_gpu_vit_step --case neat-qv-r7 tf32   # one case (e.g. under ncu)
//   CUDA_LAUNCH_BLOCKING=1 build/bench/bench_gpu_vit_step --profile   # where each step's time goes
//
// Timing: 3 warm-up steps (the first allocates AdamW's state and fills the allocator's cache),
// then the median of --steps steps (default 10), each ended by a synchronisation. Random
// weights, pixels ~ N(0, 1) and labels (a step costs the same as with pretrained weights).
// Each case prints a `BENCH {json}` line with "framework": "neat.cpp".
//
// --profile: after the timed steps, 3 more steps under the step profiler (tensor/profile.h),
// whose report follows the case's line. The profiler reads the host's clock, and kernel launches
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

struct Case {
  std::string method;   // "neat-qv-r7" or "full"
  Precision precision = Precision::Fp32;   // train/precision.h: bf16 as train_vit runs it
};

PeftConfig peft_for(const std::string& method) {
  PeftConfig peft;
  if (method == "full") {
    peft.method = "full";
    return peft;
  }
  peft.method = "neat";
  peft.targets = "qv";
  peft.neat.rank = 7;
  peft.neat.depth = 2;
  peft.neat.activation = NeatActivation::Relu;
  return peft;
}

struct Figures {
  double ms = 0, peak_gib = 0;
  int64_t trainable = 0;
  std::string profile;   // the step profiler's report (--profile), else empty
};

Figures run_case(const Case& c, int64_t batch, int steps, bool profile) {
  cuda_set_allow_tf32(c.precision == Precision::Tf32);
  ViTConfig config = vit_config("vit-base");
  config.num_classes = 10;
  ViTForImageClassification model(config);
  const PeftReport report = attach_peft(model, peft_for(c.method));
  model.to(Device::CUDA);
  apply_precision(model, c.precision);
  model.train();
  Generator gen(7);
  const Tensor pixels = randn({batch, 3, 224, 224}, gen).to(Device::CUDA);
  std::vector<int64_t> label_values(static_cast<size_t>(batch));
  for (auto& l : label_values) l = int64_t(gen.below(10));
  const Tensor labels = from_vector(label_values, {batch}).to(Device::CUDA);
  AdamW optimizer({{"trainable", model.named_parameters(/*trainable_only=*/true), 1e-4, 1e-2}});

  auto step = [&] {
    cuda_synchronize();
    const auto start = std::chrono::steady_clock::now();
    profile_step_begin();
    const Variable loss = cross_entropy(model.forward(Variable(pixels)), labels);
    loss.backward();
    optimizer.step();
    optimizer.zero_grad();
    cuda_synchronize();
    profile_step_end();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  for (int i = 0; i < 3; ++i) step();
  cuda_reset_peak_memory();
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) times.push_back(step());
  std::sort(times.begin(), times.end());
  Figures f;
  f.ms = times[times.size() / 2];
  f.peak_gib = double(cuda_memory_stats().peak_allocated) / double(1 << 30);
  f.trainable = report.trainable;
  if (profile) {
    profile_start();
    for (int i = 0; i < 3; ++i) step();
    profile_stop();
    f.profile = profile_report();
  }
  return f;
}

int main_checked(int argc, char** argv) {
  int steps = 10;
  int64_t batch = 64;
  bool profile = false;
  std::string only_method, only_math;   // --case METHOD MATH
  const char* usage =
      "usage: bench_gpu_vit_step [--steps N] [--batch B] [--case neat-qv-r7|full fp32|tf32|bf16] "
      "[--profile]";
  auto bad_usage = [&] {   // a bad flag: the usage line and exit status 2
    std::fprintf(stderr, "%s\n", usage);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--profile") {
      profile = true;
    } else if (flag == "--case" && i + 2 < argc) {
      only_method = argv[++i];
      only_math = argv[++i];
      if ((only_method != "neat-qv-r7" && only_method != "full") ||
          (only_math != "fp32" && only_math != "tf32" && only_math != "bf16"))
        return bad_usage();
    } else if ((flag == "--steps" || flag == "--batch") && i + 1 < argc) {
      char* end = nullptr;
      const long long value = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || value < 1 || value > (1 << 20)) return bad_usage();
      if (flag == "--steps") steps = int(value);
      else batch = value;
    } else {
      return bad_usage();
    }
  }
  if (!cuda_available()) {
    std::printf("bench_gpu_vit_step: skipped: %s\n", cuda_unavailable_reason().c_str());
    return 0;
  }
  std::printf("ViT-B/16 training step on %s: 224 px, batch %lld, median of %d steps\n",
              cuda_device_description().c_str(), (long long)batch, steps);
  std::printf("%-11s %-8s %9s %9s %9s %11s\n", "method", "math", "ms/step", "images/s", "peak GiB",
              "trainable");
  std::vector<Case> cases;
  for (const char* method : {"neat-qv-r7", "full"})
    for (const Precision precision : {Precision::Fp32, Precision::Tf32, Precision::Bf16})
      cases.push_back(Case{method, precision});
  for (const Case& c : cases) {
    const std::string math = precision_name(c.precision);
    if (!only_method.empty() && (c.method != only_method || math != only_math)) continue;
    const Figures f = run_case(c, batch, steps, profile);
    const double images = double(batch) * 1000.0 / f.ms;
    std::printf("%-11s %-8s %9.1f %9.1f %9.2f %11lld\n", c.method.c_str(), math.c_str(), f.ms,
                images, f.peak_gib, (long long)f.trainable);
    std::printf("BENCH {\"name\":\"gpu_vit_step\",\"framework\":\"neat.cpp\",\"model\":\"vit-b16\","
                "\"method\":\"%s\",\"math\":\"%s\",\"batch\":%lld,\"ms_per_step\":%.2f,"
                "\"images_per_second\":%.1f,\"peak_gpu_gib\":%.3f,\"trainable_params\":%lld}\n",
                c.method.c_str(), math.c_str(), (long long)batch, f.ms, images, f.peak_gib,
                (long long)f.trainable);
    std::fputs(f.profile.c_str(), stdout);
    std::fflush(stdout);
  }
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
