// vit_step in-process: one forward/backward from files, writing logits, loss and grad.<name>.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "models/vit.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/peft_format.h"
#include "tensor/safetensors.h"
#include "train/system.h"
#include "train/vit_step_app.h"
#include "tests/tiny_vit.h"

using namespace neat;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

Result step(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Result r;
  r.code = vit_step_main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// A base model (width 16, 1 layer, 8x8 images in 4x4 patches, 3 classes) and a batch of 2.
struct Files {
  std::string dir = "/tmp/neat_test_vit_step_" + std::to_string(::getpid());
  std::string base = dir + "/base.safetensors", batch = dir + "/batch.safetensors";
  Files() {
    std::filesystem::remove_all(dir);
    make_directories(dir);
    ViTConfig c = neat::test::tiny_vit_config(/*seed=*/5);
    c.depth = 1;
    ViTForImageClassification vit(c);
    save_vit_weights(vit, base);
    Generator gen(9);
    write_safetensors(batch, {{"pixel_values", randn({2, 3, 8, 8}, gen)},
                              {"labels", from_vector(std::vector<int64_t>{0, 2})}});
  }
  ~Files() { std::filesystem::remove_all(dir); }
  std::string operator/(const std::string& f) const { return dir + "/" + f; }
  std::vector<std::string> args(std::vector<std::string> extra) const {
    std::vector<std::string> a = {"--model", "custom", "--dim", "16", "--depth", "1", "--heads", "2",
                                  "--mlp-dim", "32", "--patch", "4", "--method", "neat",
                                  "--neat-rank", "2", "--weights", base, "--batch", batch,
                                  "--threads", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

}  // namespace

TEST_CASE("vit_step writes logits, loss and a gradient for every trainable parameter") {
  Files files;
  // An adapter that zeroes the classifier's weight: every row of logits is its bias.
  write_safetensors(files / "adapter.safetensors",
                    {{"classifier.weight", zeros({3, 16})},
                     {"classifier.bias", from_vector(std::vector<float>{1, 2, 3})}});
  const Result r = step(files.args({"--adapter", files / "adapter.safetensors", "--out",
                                    files / "step.safetensors"}));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const SafetensorsFile out = read_safetensors(files / "step.safetensors");
  const Tensor logits = out.get("logits");
  REQUIRE(logits.shape() == Shape{2, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) CHECK(logits.at({i, j}) == doctest::Approx(double(j + 1)));
  // loss = mean(logsumexp(1,2,3) - [1, 3]); dloss/dbias = mean over rows of softmax - onehot.
  const double lse = 3 + std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  CHECK(out.get("loss").item() == doctest::Approx(((lse - 1) + (lse - 3)) / 2).epsilon(1e-6));
  const Tensor db = out.get("grad.classifier.bias");
  const double p0 = std::exp(1 - lse), p1 = std::exp(2 - lse), p2 = std::exp(3 - lse);
  CHECK(db.flat(0) == doctest::Approx((p0 - 1 + p0) / 2).epsilon(1e-5));
  CHECK(db.flat(1) == doctest::Approx(p1).epsilon(1e-5));
  CHECK(db.flat(2) == doctest::Approx((p2 + p2 - 1) / 2).epsilon(1e-5));
  const std::string q = "grad.vit.encoder.layer.0.attention.attention.query.";
  const std::string v = "grad.vit.encoder.layer.0.attention.attention.value.";
  CHECK(out.get(q + "neat_A.weight").shape() == Shape{2, 16});
  CHECK(out.get(q + "neat_B.weight").shape() == Shape{16, 2});
  CHECK(out.contains(v + "neat_A.weight"));
  CHECK(out.contains("grad.classifier.weight"));
  CHECK(out.tensors.size() == 2 + 6);   // logits, loss, 2 x (A, B) + classifier weight and bias
}

TEST_CASE("vit_step --dtype f64 agrees with f32 and writes float64") {
  Files files;
  REQUIRE(step(files.args({"--out", files / "f32.safetensors"})).code == 0);
  REQUIRE(step(files.args({"--dtype", "f64", "--out", files / "f64.safetensors"})).code == 0);
  const SafetensorsFile a = read_safetensors(files / "f32.safetensors");
  const SafetensorsFile b = read_safetensors(files / "f64.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t32] : a.tensors) {
    CAPTURE(name);
    const Tensor& t64 = b.get(name);
    CHECK(t64.dtype() == DType::Float64);
    CHECK(t32.dtype() == DType::Float32);
    double worst = 0, scale = 1e-3;
    for (int64_t i = 0; i < t32.numel(); ++i) {
      worst = std::max(worst, std::abs(t32.flat(i) - t64.flat(i)));
      scale = std::max(scale, std::abs(t64.flat(i)));
    }
    CHECK(worst <= 1e-4 * scale);
  }
}

TEST_CASE("vit_step reports bad files by name and bad flags with exit 2") {
  Files files;
  write_safetensors(files / "bad_adapter.safetensors", {{"classifier.wieght", zeros({3, 16})}});
  const Result bad = step(files.args({"--adapter", files / "bad_adapter.safetensors", "--out",
                                      files / "o.safetensors"}));
  CHECK(bad.code == 1);
  CHECK(bad.err.find("'classifier.wieght' is not a trainable parameter") != std::string::npos);
  const Result no_out = step({"--batch", files.batch});
  CHECK(no_out.code == 2);
  CHECK(no_out.err.find("usage: vit_step") != std::string::npos);
  const Result dtype = step(files.args({"--dtype", "f16", "--out", files / "o.safetensors"}));
  CHECK(dtype.code == 2);
  CHECK(dtype.err.find("--dtype: 'f16' is not one of f32, f64") != std::string::npos);
}

TEST_CASE("vit_step --dtype f64 keeps every digit of float64 weights and adapters") {
  // Float64 files must not pass through float32 on their way into a float64 step: the
  // classifier's bias below differs from float32's nearest value by ~1e-12.
  Files files;
  const std::vector<double> bias = {1 + 1e-12, -2 - 3e-12, 0.5 + 7e-13};
  std::vector<std::pair<std::string, Tensor>> base;
  for (const auto& [name, t] : read_safetensors(files.base).tensors)
    base.emplace_back(name, name == "classifier.weight" ? zeros({3, 16}, DType::Float64)
                            : name == "classifier.bias"  ? from_vector(bias)
                                                         : t.to(DType::Float64));
  write_safetensors(files / "base64.safetensors", base);
  std::vector<std::string> args = files.args({"--dtype", "f64", "--weights",
                                              files / "base64.safetensors", "--method", "head",
                                              "--out", files / "head.safetensors"});
  const Result r = step(args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Tensor logits = read_safetensors(files / "head.safetensors").get("logits");
  REQUIRE(logits.dtype() == DType::Float64);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) CHECK(std::abs(logits.at({i, j}) - bias[size_t(j)]) < 1e-15);
  // The same through --adapter.
  write_safetensors(files / "adapter64.safetensors",
                    {{"classifier.weight", zeros({3, 16}, DType::Float64)},
                     {"classifier.bias", from_vector(bias)}});
  args = files.args({"--dtype", "f64", "--method", "head", "--adapter",
                     files / "adapter64.safetensors", "--out", files / "adapter.safetensors"});
  REQUIRE(step(args).code == 0);
  const Tensor again = read_safetensors(files / "adapter.safetensors").get("logits");
  CHECK(std::abs(again.at({1, 0}) - bias[0]) < 1e-15);
}

TEST_CASE("vit_step takes the method from a train_vit adapter file; a conflicting flag exits 2") {
  Files files;
  ViTConfig c = neat::test::tiny_vit_config();
  c.depth = 1;
  ViTForImageClassification vit(c);
  PeftConfig peft;
  peft.method = "neat";
  peft.neat.rank = 2;
  peft.neat.activation = NeatActivation::Sin2Pi;
  attach_peft(vit, peft);
  const std::string adapter = files / "sin2pi.safetensors";
  save_adapter(adapter, vit, peft);
  // Same shapes, other activation: loading it under relu would silently compute something else.
  const Result relu = step(files.args({"--adapter", adapter, "--neat-act", "relu", "--out",
                                       files / "o.safetensors"}));
  CHECK(relu.code == 2);
  CHECK(relu.err.find("--neat-act relu conflicts with the adapter's activation = sin2pi (" +
                      adapter + "'s metadata)") != std::string::npos);
  // Left out, the file's activation is used; given and equal, it agrees.
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{}, std::vector<std::string>{"--neat-act", "sin2pi"}}) {
    std::vector<std::string> extra = {"--adapter", adapter, "--out", files / "o.safetensors"};
    extra.insert(extra.end(), flags.begin(), flags.end());
    const Result r = step(files.args(extra));
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("6 tensors from --adapter") != std::string::npos);
  }
}

TEST_CASE("vit_step takes peft's directory: its adapter_config.json gives the method (VeRA)") {
  Files files;
  ViTConfig c = neat::test::tiny_vit_config(/*seed=*/5);
  c.depth = 1;
  ViTForImageClassification vit(c);
  load_vit_weights(vit, read_safetensors(files.base));
  vit.eval();
  PeftConfig peft;
  peft.method = "vera";
  peft.vera.rank = 3;
  peft.vera.projection_seed = 7;
  attach_peft(vit, peft);
  {
    NoGradGuard no_grad;
    Generator values(4);
    for (auto& [name, p] : vit.named_parameters(true)) p.data().copy_from(randn(p.shape(), values));
  }
  const std::string dir = files / "peft";
  save_peft_adapter(dir, vit, peft);
  const Tensor want = vit.forward(Variable(read_safetensors(files.batch).get("pixel_values"))).data();
  // The base flags without --method neat --neat-rank 2: the directory says vera, r 3, seed 7.
  std::vector<std::string> base = files.args({});
  base.erase(std::find(base.begin(), base.end(), "--method"), std::find(base.begin(), base.end(), "--weights"));
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const Result r = step(with({"--adapter", dir, "--out", files / "o.safetensors"}));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Tensor got = read_safetensors(files / "o.safetensors").get("logits");
  for (int64_t i = 0; i < want.numel(); ++i) CHECK(got.flat(i) == doctest::Approx(want.flat(i)).epsilon(1e-6));
  const Result conflict = step(with({"--adapter", dir, "--vera-r", "4", "--out", files / "o.safetensors"}));
  CHECK(conflict.code == 2);
  CHECK(conflict.err.find("--vera-r 4 conflicts with the adapter's r = 3 (" + dir +
                          "/adapter_config.json)") != std::string::npos);
  const Result method = step(with({"--adapter", dir, "--method", "lora", "--out", files / "o.safetensors"}));
  CHECK(method.code == 2);
  CHECK(method.err.find("--method lora conflicts with the adapter's method = vera") != std::string::npos);
  CHECK(step(with({"--adapter", dir, "--method", "vera", "--vera-seed", "7", "--out",
                   files / "o.safetensors"})).code == 0);
}

TEST_CASE("vit_step: errors name the weights file; bad sizes and thread counts exit 2") {
  Files files;
  const Result shape = step(files.args({"--mlp-dim", "24", "--out", files / "o.safetensors"}));
  CHECK(shape.code == 1);
  CHECK(shape.err.find("load_vit_weights: " + files.base + ": 'vit.encoder.layer.0.intermediate."
                       "dense.weight' has shape [32, 16] in the file but [24, 16]") !=
        std::string::npos);
  write_safetensors(files / "empty_batch.safetensors",
                    {{"pixel_values", zeros({0, 3, 8, 8})}, {"labels", zeros({0}, DType::Int64)}});
  const std::vector<std::string> empty_args = {"--batch", files / "empty_batch.safetensors"};
  std::vector<std::string> args = files.args({"--out", files / "o.safetensors"});
  args.insert(args.end(), empty_args.begin(), empty_args.end());   // the later --batch wins
  const Result no_images = step(args);
  CHECK(no_images.code == 1);
  CHECK(no_images.err.find("pixel_values must be [B, C, H, H] with B >= 1, got [0, 3, 8, 8]") !=
        std::string::npos);
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--image-size", "-8"}, {"--patch", "-4"}, {"--num-classes", "-1"},
           {"--mlp-dim", "-5"}, {"--channels", "-3"}, {"--threads", "100000"}}) {
    CAPTURE(flag);
    const Result r = step(files.args({flag, value, "--out", files / "o.safetensors"}));
    CHECK(r.code == 2);
    CHECK(r.err.find("vit_step: " + flag + " must be") != std::string::npos);
    CHECK(r.err.find("usage: vit_step") != std::string::npos);
  }
}
