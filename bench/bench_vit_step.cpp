// One ViT training step per fine-tuning method: forward + cross-entropy + backward + AdamW
// (train/optimizer.h), in ms/step and images/s beside full fine-tuning measured in the same
// run. The claim being measured: a frozen weight skips its weight-gradient GEMM (and has no
// AdamW state), so a PEFT step is cheaper than a full one. Figures only, never pass/fail.
//
//   build/bench/bench_vit_step                                # every model x method x threads
//   build/bench/bench_vit_step --case cifar-vit neat-qv 1     # one case (what the driver runs)
//   build/bench/bench_vit_step --profile                      # each case's profile after the table
//   build/bench/bench_vit_step --case cifar-vit neat-qv 1 --profile   # one case's profile
//   build/bench/bench_vit_step --precision bf16               # train/precision.h's bf16 policy
//
// Models (10 classes, random pixels and labels, dropout 0):
//   cifar-vit    image 32, patch 4 (65 tokens), hidden 192, depth 6, heads 3, mlp 768, batch 32
//   vit-b16-1L   ViT-B/16 at 224 (197 tokens, hidden 768, heads 12, mlp 3072) cut to ONE
//                encoder layer, batch 4: the real per-layer cost of ViT-B (a full ViT-B step is
//                about 12x this one's encoder part) at a runtime that suits 2 cores
// Methods: full, head (linear probe), lora-qv (r 8, alpha 8), neat-qv and neat-qvmlp (rank 8,
// depth 2, relu). Each runs at omp_get_max_threads() and at 1 thread.
//
// Each case runs in a fresh child process (this program re-run with --case): getrusage's peak
// RSS is a high-water mark for the whole process, so only a fresh process gives one per case.
// Timing: 2 warm-up steps (the first allocates AdamW's state), then the median of at least 3
// steps (more while they fit in ~1 s). For Neat, "M ms" is the M network's own cost per step,
// which does not grow with the batch: over every adapted layer, neat_m_forward
// (M = act(W0^T A^T) ...) plus the layer's backward for ONE input row (the M network's
// backward to A, the batch-dependent GEMMs shrunk to one row); median of several repetitions.
// --precision fp32|bf16 (default fp32; tf32 is CUDA's and refused here): bf16 stores the frozen
// weights in bf16 and runs the activations in bf16 (train/precision.h), masters float32.
// --profile: after the timed steps, 5 more steps under the step profiler (tensor/profile.h):
// ms per op (forward and backward) and per category, with the share of the step.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "autograd/nn_functional.h"
#include "autograd/reduce.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/check.h"
#include "tensor/profile.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "train/system.h"

namespace {

using namespace neat;

const char* const kUsage =
    "usage: bench_vit_step [--case MODEL METHOD THREADS] [--precision fp32|bf16] [--profile]";

struct ModelCase {
  std::string name;
  ViTConfig config;
  int64_t batch;
};

std::vector<ModelCase> model_cases() {
  ViTConfig cifar;
  cifar.image_size = 32;
  cifar.patch_size = 4;
  cifar.hidden = 192;
  cifar.depth = 6;
  cifar.heads = 3;
  cifar.mlp_dim = 768;
  ViTConfig base = vit_config("vit-base");
  base.depth = 1;
  for (ViTConfig* c : {&cifar, &base}) c->num_classes = 10;
  return {{"cifar-vit", cifar, 32}, {"vit-b16-1L", base, 4}};
}

// The methods, full first: it is every other row's reference.
std::vector<std::pair<std::string, PeftConfig>> method_cases() {
  PeftConfig full, head, lora, neat_qv;
  full.method = "full";
  head.method = "head";
  lora.method = "lora";
  lora.targets = "qv";
  lora.lora.rank = 8;
  lora.lora.alpha = 8;
  neat_qv.method = "neat";
  neat_qv.targets = "qv";
  neat_qv.neat.rank = 8;
  neat_qv.neat.depth = 2;
  neat_qv.neat.activation = NeatActivation::Relu;
  PeftConfig neat_qvmlp = neat_qv;
  neat_qvmlp.targets = "qvmlp";
  return {{"full", full}, {"head", head}, {"lora-qv", lora}, {"neat-qv", neat_qv},
          {"neat-qvmlp", neat_qvmlp}};
}

// What one case measures; the child prints it as one "RESULT ..." line for the driver.
struct Result {
  double ms = 0;        // median ms per step
  int64_t trainable = 0, total = 0;
  double rss_mib = 0;   // peak resident set of the child process
  double m_ms = -1;     // Neat's M network per step (forward + backward), -1 when no Neat
  std::string profile;  // the profile report (--profile), else empty
};

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Median of the ms that `timed_run` reports for itself, after `warmup` calls: at least 3
// calls, more while they fit in budget_ms (at most 15).
double median_ms(const std::function<double()>& timed_run, int warmup, double budget_ms) {
  for (int i = 0; i < warmup; ++i) timed_run();
  std::vector<double> times;
  double total = 0;
  while (times.size() < 3 || (total < budget_ms && times.size() < 15)) {
    times.push_back(timed_run());
    total += times.back();
  }
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

// The child: builds the model, attaches the method, times the step (and Neat's M network).
Result run_case(const ModelCase& mc, const PeftConfig& peft, int threads, bool profile,
               Precision precision) {
  const ScopedThreads scoped(threads);
  ViTForImageClassification model(mc.config);
  const PeftReport report = attach_peft(model, peft);
  apply_precision(model, precision);
  model.train();

  // pixels [B, C, H, W] ~ N(0, 1), labels [B] uniform over the classes
  Generator gen(7);
  const ViTConfig& c = mc.config;
  const Tensor pixels = randn({mc.batch, c.channels, c.image_size, c.image_size}, gen);
  std::vector<int64_t> label_values(size_t(mc.batch));
  for (auto& l : label_values) l = int64_t(gen.below(uint64_t(c.num_classes)));
  const Tensor labels = from_vector(label_values, {mc.batch});

  AdamW optimizer({{"trainable", model.named_parameters(/*trainable_only=*/true), 1e-4, 1e-2}});
  auto step = [&] {
    const auto start = std::chrono::steady_clock::now();
    profile_step_begin();
    const Variable loss = cross_entropy(model.forward(Variable(pixels)), labels);
    loss.backward();
    optimizer.step();
    optimizer.zero_grad();
    profile_step_end();
    return elapsed_ms(start);
  };
  Result r;
  r.ms = median_ms(step, /*warmup=*/2, /*budget_ms=*/1000);
  if (profile) {
    profile_start();
    for (int i = 0; i < 5; ++i) step();
    profile_stop();
    r.profile = profile_report();
  }
  r.trainable = report.trainable;
  r.total = report.total;

  // Neat's M network: neat_m_forward, then the backward of a one-row x [1, IN] (untimed
  // forward), for every adapted layer.
  std::vector<std::pair<std::shared_ptr<Neat>, Tensor>> neats;
  for (const auto& [name, module] : model.named_modules())
    if (auto layer = std::dynamic_pointer_cast<Neat>(module))
      neats.emplace_back(layer, randn({1, layer->in_features()}, gen)
                                    .to(activation_dtype(precision)));
  auto m_network = [&] {
    double ms = 0;
    for (auto& [layer, row] : neats) {
      std::vector<Tensor> layers;
      for (const Variable& l : layer->neat_layers->parameters()) layers.push_back(l.data());
      auto start = std::chrono::steady_clock::now();
      neat_m_forward(layer->weight.data(), layer->neat_A->weight.data(), layers,
                     layer->options().spec());
      ms += elapsed_ms(start);
      const Variable y = sum(layer->forward(Variable(row)));
      start = std::chrono::steady_clock::now();
      y.backward();
      ms += elapsed_ms(start);
    }
    return ms;
  };
  if (!neats.empty()) {
    r.m_ms = median_ms(m_network, /*warmup=*/1, /*budget_ms=*/300);
    optimizer.zero_grad();
  }
  r.rss_mib = double(peak_rss_bytes()) / (1024.0 * 1024.0);
  return r;
}

// The driver's side: runs this program with --case in a child process and reads its RESULT.
Result run_child(const std::string& self, const std::string& model, const std::string& method,
                 int threads, bool profile, Precision precision) {
  const std::string command = "'" + self + "' --case " + model + " " + method + " " +
                              std::to_string(threads) + " --precision " +
                              precision_name(precision) + (profile ? " --profile" : "");
  FILE* pipe = popen(command.c_str(), "r");
  NEAT_CHECK(pipe != nullptr, "bench_vit_step: cannot run '", command, "'");
  Result r;
  bool found = false;
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    long long trainable = 0, total = 0;
    if (std::sscanf(line, "RESULT %lf %lld %lld %lf %lf", &r.ms, &trainable, &total, &r.rss_mib,
                    &r.m_ms) == 5) {
      r.trainable = trainable;
      r.total = total;
      found = true;
    } else {
      r.profile += line;
    }
  }
  const int status = pclose(pipe);
  NEAT_CHECK(found && status == 0, "bench_vit_step: case ", model, " ", method, " threads ",
             threads, " failed (exit status ", status, ")");
  return r;
}

std::string thousands(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_model(const ModelCase& mc, const std::vector<int>& thread_counts,
                 const std::map<std::pair<std::string, int>, Result>& results) {
  const ViTConfig& c = mc.config;
  std::printf("\n%s: image %lld, patch %lld (%lld tokens), hidden %lld, depth %lld, heads %lld, "
              "mlp %lld, batch %lld\n",
              mc.name.c_str(), (long long)c.image_size, (long long)c.patch_size,
              (long long)(c.num_patches() + 1), (long long)c.hidden, (long long)c.depth,
              (long long)c.heads, (long long)c.mlp_dim, (long long)mc.batch);
  std::printf("%-11s %3s %9s %9s %7s %8s %11s %8s %10s %7s\n", "method", "thr", "ms/step",
              "images/s", "x full", "speedup", "trainable", "peakMiB", "Neat M ms", "M/step");
  for (int threads : thread_counts) {
    const double ref = results.at({"full", threads}).ms;
    for (const auto& [method, peft] : method_cases()) {
      const Result& r = results.at({method, threads});
      const double speedup = results.at({method, 1}).ms / r.ms;
      const double images = double(mc.batch) * 1000.0 / r.ms;
      char m_col[32] = "-", share_col[32] = "-", m_json[32] = "null";
      if (r.m_ms >= 0) {
        std::snprintf(m_col, sizeof m_col, "%.2f", r.m_ms);
        std::snprintf(share_col, sizeof share_col, "%.1f%%", 100.0 * r.m_ms / r.ms);
        std::snprintf(m_json, sizeof m_json, "%.3f", r.m_ms);
      }
      std::printf("%-11s %3d %9.1f %9.1f %7.2f %8.2f %11s %8.0f %10s %7s\n", method.c_str(),
                  threads, r.ms, images, r.ms / ref, speedup, thousands(r.trainable).c_str(),
                  r.rss_mib, m_col, share_col);
      std::printf(
          "BENCH {\"name\":\"vit_step\",\"framework\":\"neat.cpp\",\"model\":\"%s\","
          "\"method\":\"%s\",\"threads\":%d,\"batch\":%lld,\"ms_per_step\":%.2f,"
          "\"images_per_second\":%.2f,\"ref_ms_per_step\":%.2f,\"ratio_to_full\":%.3f,"
          "\"speedup_vs_1_thread\":%.2f,\"trainable_params\":%lld,\"total_params\":%lld,"
          "\"peak_rss_mib\":%.1f,\"neat_m_ms\":%s}\n",
          mc.name.c_str(), method.c_str(), threads, (long long)mc.batch, r.ms, images, ref,
          r.ms / ref, speedup, (long long)r.trainable, (long long)r.total, r.rss_mib, m_json);
    }
  }
  std::fflush(stdout);
}

template <typename T>
const T& find_case(const std::vector<T>& cases, const std::string& name,
                   const std::function<std::string(const T&)>& name_of) {
  std::string known;
  for (const T& c : cases) {
    if (name_of(c) == name) return c;
    known += " " + name_of(c);
  }
  NEAT_CHECK(false, "bench_vit_step: unknown case '", name, "'; known:", known);
  return cases.front();
}

int main_checked(int argc, char** argv) {
  const auto models = model_cases();
  const auto methods = method_cases();
  const bool profile = argc > 1 && std::string(argv[argc - 1]) == "--profile";
  if (profile) --argc;
  Precision precision = Precision::Fp32;   // --precision NAME, last before --profile
  if (argc >= 3 && std::string(argv[argc - 2]) == "--precision") {
    precision = parse_precision(argv[argc - 1], false);
    check_precision_device(precision, "cpu");
    argc -= 2;
  }
  if (argc == 5 && std::string(argv[1]) == "--case") {
    const ModelCase& mc = find_case<ModelCase>(models, argv[2], [](const ModelCase& m) {
      return m.name;
    });
    using Method = std::pair<std::string, PeftConfig>;
    const Method& method = find_case<Method>(methods, argv[3], [](const Method& m) {
      return m.first;
    });
    const Result r = run_case(mc, method.second, std::stoi(argv[4]), profile, precision);
    std::printf("RESULT %.4f %lld %lld %.2f %.4f\n%s", r.ms, (long long)r.trainable,
                (long long)r.total, r.rss_mib, r.m_ms, r.profile.c_str());
    return 0;
  }
  if (argc != 1) {   // a bad flag: the usage line and exit status 2
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }

  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  NEAT_CHECK(length > 0, "bench_vit_step: cannot read /proc/self/exe");
  self[length] = '\0';
  int max_threads = 1;
#ifdef _OPENMP
  max_threads = omp_get_max_threads();
#endif
  std::vector<int> thread_counts = {max_threads};
  if (max_threads > 1) thread_counts.push_back(1);

  std::printf("precision %s\n", precision_name(precision));
  std::printf("ViT training step (forward + cross-entropy + backward + AdamW), median ms; "
              "x full = ms / full's ms at the same threads;\nspeedup = ms at 1 thread / ms; "
              "Neat M ms = the M network's forward + backward per step (all adapted layers)\n");
  for (const ModelCase& mc : models) {
    std::map<std::pair<std::string, int>, Result> results;
    for (int threads : thread_counts)
      for (const auto& [method, peft] : methods)
        results[{method, threads}] =
            run_child(self, mc.name, method, threads, profile, precision);
    print_model(mc, thread_counts, results);
    for (int threads : thread_counts)
      for (const auto& [method, peft] : methods)
        if (!results[{method, threads}].profile.empty())
          std::printf("\n%s %s, %d threads (median %.1f ms/step unprofiled)\n%s", mc.name.c_str(),
                      method.c_str(), threads, results[{method, threads}].ms,
                      results[{method, threads}].profile.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // as the programs (train/system.h); the children inherit it
  try {
    return main_checked(argc, argv);
  } catch (const neat::UsageError& e) {   // --precision's value
    std::fprintf(stderr, "bench_vit_step: %s\n%s\n", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_vit_step: error: %s\n", e.what());
    return 1;
  }
}
