// The CUDA backend against the CPU: copies, the dropout mask, a tiny ViT's training step
// (neat on query/value, lora, full fine-tuning) and 20 steps of training, the caching
// allocator in steady state, and the errors a user meets. Every op on its own is compared with
// the CPU by the op table ("op table: every other device against the CPU").
//
// Without a GPU (or in a CUDA=0 build) each GPU case is reported as skipped with the reason;
// the error cases that need no GPU always run.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "autograd/nn_functional.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/dropout.h"
#include "tensor/elementwise.h"
#include "tensor/gpu.h"
#include "tensor/matmul.h"
#include "tensor/reduce.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "tests/tensor_check.h"
#include "tests/tiny_vit.h"
#include "train/optimizer.h"
#include "train/run_support.h"
#include "tests/train_test_util.h"

using namespace neat;
using namespace neat::test;

namespace {

// ||got - want|| / ||want|| (0 when both are 0): a scale-free distance for float32 results.
double relative_error(const Tensor& got, const Tensor& want) {
  const Tensor g = got.to(Device::CPU).to(DType::Float64), w = want.to(DType::Float64);
  const double diff = std::sqrt(sum(mul(sub(g, w), sub(g, w))).item());
  const double norm = std::sqrt(sum(mul(w, w)).item());
  return norm == 0 ? diff : diff / norm;
}

// A tiny ViT with `method` attached, its trainable parameters, and its optimizer; made twice
// from one seed, the two are identical, so one can move to the GPU and the other stay.
struct TinyRun {
  std::unique_ptr<ViTForImageClassification> model;
  std::unique_ptr<AdamW> optimizer;
  explicit TinyRun(const std::string& method, Device device) {
    ViTConfig config = tiny_vit_config(11);
    model = std::make_unique<ViTForImageClassification>(config);
    PeftConfig peft;
    peft.method = method;
    peft.neat.rank = 4;
    peft.lora.rank = 4;
    attach_peft(*model, peft);
    model->to(device);
    ParamGroup group;
    group.name = "all";
    group.params = model->named_parameters(/*trainable_only=*/true);
    group.lr = 1e-2;
    optimizer = std::make_unique<AdamW>(std::vector<ParamGroup>{group});
  }
  // Forward, loss, backward on a batch (given on the CPU); returns the loss.
  Variable loss(const Tensor& images, const Tensor& labels) {
    const Device d = model->device();
    return cross_entropy(model->forward(Variable(images.to(d))), labels.to(d));
  }
  double train_step(const Tensor& images, const Tensor& labels) {
    const Variable l = loss(images, labels);
    l.backward();
    optimizer->step();
    optimizer->zero_grad();
    return l.item();
  }
};

// A batch of the tiny ViT's input: 6 images 3x8x8 and labels in [0, 3).
std::pair<Tensor, Tensor> tiny_batch(uint64_t seed) {
  Generator gen(seed);
  Tensor labels({6}, DType::Int64);
  for (int64_t i = 0; i < 6; ++i) labels.set({i}, double(gen.below(3)));
  return {randn({6, 3, 8, 8}, gen), labels};
}

bool gpu_or_skip() {
  if (cuda_available()) return true;
  skip(cuda_unavailable_reason());
  return false;
}

}  // namespace

TEST_CASE("cuda: asking for CUDA without a GPU is one clear line") {
  if (cuda_available()) return skip("a GPU is visible: the error cannot be shown");
  const std::string reason = cuda_unavailable_reason();
  CAPTURE(reason);
  CHECK(reason.find('\n') == std::string::npos);
  CHECK(mentions(reason, {cuda_built() ? "no CUDA GPU is visible" : "no CUDA backend"}));
  const std::string device_flag = thrown_message([] { compute_device("cuda", false); });
  CHECK(mentions(device_flag, {"--device cuda: ", reason}));
  CHECK(device_flag.find('\n') == std::string::npos);
  // Memory on the GPU cannot be made; the message says why.
  CHECK(mentions(thrown_message([] { Tensor({4}, DType::Float32, Device::CUDA); }), {"cuda"}));
  CHECK(mentions(thrown_message([] { ones({2}).to(Device::CUDA); }), {"cuda"}));
  CHECK(mentions(thrown_message([] { pinned_empty({2}); }), {"pinned memory"}));
  // train_vit: exit 1 and one line, before any data is read.
  using namespace neat_train_test;
  const Result run = train(tiny({"--device", "cuda"}));
  CHECK(run.code == 1);
  CHECK(mentions(run.err, {"train_vit: error: --device cuda: ", reason}));
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
}

TEST_CASE("cuda: cuBLAS is opened on first use, not linked, so a CPU run does not carry it") {
  if (!cuda_built()) return skip(cuda_unavailable_reason());
  auto mapped_cublas = [] {
    std::ifstream maps("/proc/self/maps");
    const std::string text((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
    return text.find("libcublas") != std::string::npos;
  };
  // Without a GPU nothing has opened it (a linked libcublas adds ~215 MiB to every process).
  if (!cuda_available()) CHECK_FALSE(mapped_cublas());
  const std::string blas = cuda_blas_description();   // opens it, GPU or not
  CAPTURE(blas);
  CHECK(mentions(blas, {"cuBLAS 1", "(libcublas.so.1", "cuBLASLt epilogues"}));
  CHECK(blas.find("no cuBLASLt") == std::string::npos);
  CHECK(mapped_cublas());
}

TEST_CASE("cuda: an op on mixed devices names both devices and both shapes") {
  // Empty CUDA tensors need no GPU memory, so this runs everywhere.
  const Tensor cpu_x = zeros({0, 3});
  const Tensor cuda_x({3, 0}, DType::Float32, Device::CUDA);
  const std::string message = thrown_message([&] { matmul(cpu_x, cuda_x); });
  CHECK(mentions(message, {"matmul: tensors on different devices", "cpu [0, 3]", "cuda [3, 0]"}));
}

TEST_CASE("cuda: copies between host and GPU keep every bit, in every dtype") {
  if (!gpu_or_skip()) return;
  Generator gen(3);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor host = randn({7, 13}, gen, dtype);
    const Tensor back = host.to(Device::CUDA).to(Device::CPU);
    CHECK(back.to_vector<double>() == host.to_vector<double>());
    // Converting on the way: float64 on the host -> float32 on the GPU -> the CPU's rounding.
    CHECK(host.to(DType::Float64).to(Device::CUDA).to(DType::Float32).to(Device::CPU).to_vector<float>() ==
          host.to(DType::Float32).to_vector<float>());
  }
  const Tensor ids = from_vector(std::vector<int64_t>{5, -1, 1ll << 40});
  CHECK(ids.to(Device::CUDA).to(Device::CPU).to_vector<int64_t>() == ids.to_vector<int64_t>());
  // From pinned memory (the loader's batches): queued, then the same values.
  const Tensor pinned = pinned_empty({4, 5});
  pinned.copy_from(arange(20));
  CHECK(pinned.is_pinned());
  CHECK(pinned.to(Device::CUDA).to(Device::CPU).to_vector<float>() == arange(20).to_vector<float>());
  // A device-to-device clone, fill, and an empty tensor.
  const Tensor on_gpu = full({3, 3}, 2.5, DType::Float32, Device::CUDA);
  CHECK(on_gpu.clone().to(Device::CPU).to_vector<float>() == std::vector<float>(9, 2.5f));
  CHECK(Tensor({0}, DType::Float32, Device::CUDA).to(Device::CPU).numel() == 0);
}

TEST_CASE("cuda: the dropout mask equals the CPU's for the same seed, bit for bit") {
  if (!gpu_or_skip()) return;
  for (DType dt : {DType::Float32, DType::BFloat16})
    for (double p : {0.1, 0.5}) {
      CAPTURE(dtype_name(dt));
      Generator cpu_gen(42), gpu_gen(42);
      const Tensor on_cpu = dropout_mask({17, 33}, p, cpu_gen, dt, Device::CPU);
      const Tensor on_gpu = dropout_mask({17, 33}, p, gpu_gen, dt, Device::CUDA);
      CHECK(on_gpu.to(Device::CPU).to_vector<float>() == on_cpu.to_vector<float>());
      CHECK(gpu_gen.state() == cpu_gen.state());   // both streams move on by the same draws
    }
}

TEST_CASE("cuda: a tiny ViT step gives the CPU's loss and gradients (neat qv, lora, full)") {
  if (!gpu_or_skip()) return;
  const auto [images, labels] = tiny_batch(5);
  for (const char* method : {"neat", "lora", "full"}) {
    INFO("method ", method);
    TinyRun cpu(method, Device::CPU), gpu(method, Device::CUDA);
    // B starts at zero: one step first, so that the adapters' gradients are not trivially 0.
    cpu.train_step(images, labels);
    gpu.train_step(images, labels);
    const Variable cpu_loss = cpu.loss(images, labels), gpu_loss = gpu.loss(images, labels);
    cpu_loss.backward();
    gpu_loss.backward();
    CHECK(std::abs(gpu_loss.item() - cpu_loss.item()) <= 1e-5 * std::abs(cpu_loss.item()));
    const auto cpu_params = cpu.model->named_parameters(true);
    const auto gpu_params = gpu.model->named_parameters(true);
    REQUIRE(cpu_params.size() == gpu_params.size());
    std::map<std::string, Tensor> cpu_grads;
    for (const auto& [name, p] : cpu_params) cpu_grads[name] = p.grad();
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      const std::string& name = cpu_params[i].first;
      INFO("gradient of ", name);
      const Tensor got = gpu_params[i].second.grad(), want = cpu_grads[name];
      CHECK(got.device() == Device::CUDA);
      const std::string key_weight = key_weight_of_key_bias(name);
      if (!key_weight.empty()) {   // rounding noise on both devices
        CHECK(max_abs_diff(got.to(Device::CPU), want) <= 1e-4 * max_abs(cpu_grads.at(key_weight)));
        continue;
      }
      CHECK(relative_error(got, want) < 1e-4);
    }
  }
}

TEST_CASE("cuda: 20 training steps follow the CPU's loss curve; no cudaMalloc after step 2") {
  if (!gpu_or_skip()) return;
  for (const char* method : {"neat", "full"}) {
    INFO("method ", method);
    TinyRun cpu(method, Device::CPU), gpu(method, Device::CUDA);
    int64_t mallocs_after_step_2 = 0;
    size_t reserved_after_step_2 = 0;
    for (int step = 1; step <= 20; ++step) {
      const auto [images, labels] = tiny_batch(100 + uint64_t(step));
      const double want = cpu.train_step(images, labels);
      const double got = gpu.train_step(images, labels);
      INFO("step ", step, ": cpu loss ", want, ", gpu loss ", got);
      CHECK(std::abs(got - want) <= 1e-4 * std::max(1.0, std::abs(want)));
      const CudaMemoryStats m = cuda_memory_stats();
      if (step == 2) {
        mallocs_after_step_2 = m.device_mallocs;
        reserved_after_step_2 = m.reserved;
      } else if (step > 2) {
        CHECK(m.device_mallocs == mallocs_after_step_2);
        CHECK(m.reserved == reserved_after_step_2);
      }
    }
  }
}

TEST_CASE("cuda: the caching allocator reuses freed blocks and empty_cache returns them") {
  if (!gpu_or_skip()) return;
  cuda_empty_cache();
  const CudaMemoryStats before = cuda_memory_stats();
  { const Tensor a({1000, 1000}, DType::Float32, Device::CUDA); }
  const CudaMemoryStats freed = cuda_memory_stats();
  CHECK(freed.allocated == before.allocated);
  CHECK(freed.reserved >= before.reserved + 4000000);   // cached, not given back
  { const Tensor b({999, 1000}, DType::Float32, Device::CUDA); }   // fits the cached block
  CHECK(cuda_memory_stats().device_mallocs == freed.device_mallocs);
  CHECK(cuda_memory_stats().peak_allocated >= 4000000);
  cuda_empty_cache();   // only the blocks of live tensors stay reserved
  CHECK(cuda_memory_stats().reserved == cuda_memory_stats().allocated);
}

TEST_CASE("cuda: train_vit --device cuda trains, checkpoints, and resumes on the CPU and back") {
  using namespace neat_train_test;
  if (!gpu_or_skip()) return;
  TempDir dir("cuda_resume");
  const Result first = train(tiny({"--method", "neat", "--epochs", "2", "--max-steps", "3",
                                   "--device", "cuda", "--out", dir / "run"}));
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(std::filesystem::exists(dir / "run/checkpoint.safetensors"));
  // The GPU checkpoint goes on on the CPU, and that one back on the GPU, to the end.
  const Result on_cpu = train({"--resume", dir / "run", "--max-steps", "6", "--device", "cpu", "--quiet"});
  INFO(on_cpu.err);
  CHECK(on_cpu.code == 0);
  const Result on_gpu = train({"--resume", dir / "run", "--device", "cuda", "--quiet"});
  INFO(on_gpu.err);
  CHECK(on_gpu.code == 0);
  CHECK(contains(file_bytes(dir / "run/results.json"), "\"device\""));
}
