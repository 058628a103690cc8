// lm_step (train/lm_step_app.h) against transformers + peft: the untied tiny LLaMA of
// tests/parity/llama_reference.safetensors (make_llama_reference.py) with peft's LoRA on all 7
// linears, written as a Hugging Face directory, an adapter file and a batch (left padding,
// explicit position ids), gives transformers' logits, causal-LM loss and LoRA gradients in
// float64; and its refusals. (tests/parity/check_lm_peft.py runs it on train_lm's own peft/
// directories against transformers + peft.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/parity_reference.h"
#include "tests/tensor_check.h"
#include "tests/train_test_util.h"
#include "train/lm_step_app.h"

using namespace neat;
using namespace neat_train_test;

namespace {

Result run_step(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Result r;
  r.code = lm_step_main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// dir/model (config.json + model.safetensors), dir/adapter.safetensors and dir/batch.safetensors
// from the reference's untied config and its LoRA case.
// With round_to_bf16, every weight (base and adapter) is rounded to bf16 and widened back.
void write_untied_lora(const SafetensorsFile& ref, const TempDir& dir, bool round_to_bf16 = false) {
  auto value = [&](const Tensor& t) {
    return round_to_bf16 ? t.to(DType::BFloat16).to(t.dtype()) : t;
  };
  make_directories(dir / "model");
  write_file_atomic(dir / "model/config.json", test::parity_metadata(ref, "config.untied"));
  std::vector<std::pair<std::string, Tensor>> base, adapter, batch;
  const std::string base_prefix = "untied.base.", lora_prefix = "untied.lora.param.";
  for (const auto& [name, t] : ref.tensors) {
    if (name.rfind(base_prefix, 0) == 0) base.emplace_back(name.substr(base_prefix.size()), value(t));
    if (name.rfind(lora_prefix, 0) == 0) adapter.emplace_back(name.substr(lora_prefix.size()), value(t));
  }
  for (const char* n : {"input_ids", "attention_mask", "position_ids", "labels"})
    batch.emplace_back(n, ref.get(std::string("untied.") + n));
  write_safetensors(dir / "model/model.safetensors", base);
  write_safetensors(dir / "adapter.safetensors", adapter);
  write_safetensors(dir / "batch.safetensors", batch);
}

}  // namespace

TEST_CASE("lm_step: transformers' logits, loss and gradients from files (LoRA on a tiny LLaMA, float64)") {
  const SafetensorsFile ref = test::open_parity_reference(
      "tests/parity/llama_reference.safetensors", "neat-llama-parity", "1",
      "regenerate it with .venv/bin/python tests/parity/make_llama_reference.py");
  TempDir dir("lm_step");
  write_untied_lora(ref, dir);
  auto step = [&](const std::string& batch, const std::string& out) {
    return std::vector<std::string>{
        "--weights", dir / "model", "--adapter", dir / "adapter.safetensors", "--method", "lora",
        "--lora-r", "2", "--lora-alpha", "6", "--lora-targets", "q,k,v,o,gate,up,down",
        "--batch", dir / batch, "--dtype", "f64", "--threads", "1", "--out", dir / out};
  };
  const Result r = run_step(step("batch.safetensors", "step.safetensors"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, ", " + std::to_string(7 * 2 * 2) + " tensors from --adapter)"));
  const SafetensorsFile got = read_safetensors(dir / "step.safetensors");
  const Tensor mask = ref.get("untied.attention_mask");
  CHECK(test::relative_error("logits", test::real_rows(got.get("logits"), mask),
                             ref.get("untied.lora.logits"), 1e-11) < 1e-11);
  CHECK(test::relative_error("loss", got.get("loss").reshape({1}), ref.get("untied.lora.loss"), 1e-11) < 1e-11);
  for (const char* name : {"model.layers.0.self_attn.q_proj.lora_A.weight",
                           "model.layers.1.mlp.down_proj.lora_B.weight"}) {
    const std::string g = std::string("grad.") + name;
    CHECK(test::relative_error(g, got.get(g), ref.get("untied.lora." + g), 1e-9) < 1e-9);
  }

  // Refusals: no --weights (a usage error), labels of another shape, ids outside the vocab.
  const Result no_weights = run_step({"--batch", dir / "batch.safetensors", "--out", dir / "x"});
  CHECK(no_weights.code == 2);
  CHECK(contains(no_weights.err, "--weights is required"));
  const Tensor ids = ref.get("untied.input_ids");
  write_safetensors(dir / "short.safetensors", {{"input_ids", ids}, {"labels", ids.reshape({-1})}});
  const Result shape = run_step(step("short.safetensors", "x"));
  CHECK(shape.code == 1);
  CHECK(contains(shape.err, "labels must be int64 " + shape_str(ids.shape())));
  Tensor big = ids.clone();
  big.set({0, 0}, 1000.0);
  write_safetensors(dir / "big.safetensors", {{"input_ids", big}, {"labels", ids}});
  const Result vocab = run_step(step("big.safetensors", "x"));
  CHECK(vocab.code == 1);
  CHECK(contains(vocab.err, "input_ids holds 1000, outside the vocab of"));
}

// --precision bf16 (train/precision.h): the frozen weights stored in bf16, activations in bf16,
// the LoRA masters and their gradients in float32. The reference is the float64 step (checked
// against transformers above) at the values the bf16 step starts from: every weight rounded to
// bf16 first, as tests/test_precision.cpp does for the ViT. The difference is then the bf16
// step's own arithmetic: each stored activation rounded once (u = 2^-8), over the tiny model's
// ~30 rounded tensors from the input to the loss and as many back (2 layers of RMS norm, RoPE
// attention and SwiGLU, the final norm and the head): the loss within 16 u, as the ViT step's.
// This random model's gradients amplify rounding more than the ViT's: the fp32 step (--precision
// fp32, unit u32 = 2^-24) is off the float64 one by 7 to 207 u32 norm-wise, so each gradient
// gets the ViT's 48 u or twice its own fp32 step's error in units of its own precision,
// whichever is larger (measured: bf16 4 to 68 u, at most 0.9 times the fp32 figure). The
// measured errors are printed with -s.
TEST_CASE("lm_step: --precision bf16 runs the step in bf16 and agrees with the float64 step") {
  const SafetensorsFile ref = test::open_parity_reference(
      "tests/parity/llama_reference.safetensors", "neat-llama-parity", "1",
      "regenerate it with .venv/bin/python tests/parity/make_llama_reference.py");
  TempDir dir("lm_step_bf16");
  write_untied_lora(ref, dir, /*round_to_bf16=*/true);
  auto step = [&](const std::vector<std::string>& precision, const std::string& out) {
    std::vector<std::string> args = {
        "--weights", dir / "model", "--adapter", dir / "adapter.safetensors", "--method", "lora",
        "--lora-r", "2", "--lora-alpha", "6", "--lora-targets", "q,k,v,o,gate,up,down",
        "--batch", dir / "batch.safetensors", "--threads", "1", "--out", dir / out};
    args.insert(args.end(), precision.begin(), precision.end());
    const Result r = run_step(args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return read_safetensors(dir / out, HalfFloats::AsStored);
  };
  const SafetensorsFile got = step({"--precision", "bf16"}, "bf16.safetensors");
  const SafetensorsFile fp32 = step({"--precision", "fp32"}, "fp32.safetensors");
  const SafetensorsFile want = step({"--dtype", "f64"}, "f64.safetensors");
  CHECK(got.metadata.at("precision") == "bf16");
  const double u = std::ldexp(1.0, -8), u32 = std::ldexp(1.0, -24);
  const double loss = got.get("loss").to(DType::Float64).item();
  const double loss64 = want.get("loss").item();
  MESSAGE("bf16 loss " << loss << " vs float64 " << loss64 << ": "
                       << std::abs(loss - loss64) / (u * std::abs(loss64)) << " u relative");
  CHECK(std::abs(loss - loss64) <= 16 * u * std::abs(loss64));
  int64_t gradients = 0;
  for (const auto& [name, grad] : got.tensors) {
    if (name.rfind("grad.", 0) != 0) continue;
    ++gradients;
    CHECK_MESSAGE(grad.dtype() == DType::Float32, name);   // float32 masters and gradients
    auto error = [&](const Tensor& g) {
      return std::sqrt(test::normalized_mse(g.to(DType::Float64), want.get(name)));
    };
    const double amplification = error(fp32.get(name)) / u32;
    MESSAGE(name << ": gradient error " << error(grad) / u << " u (norm-wise); fp32 step "
                 << amplification << " u32");
    CHECK_MESSAGE(error(grad) <= std::max(48.0, 2 * amplification) * u, name);
  }
  CHECK(gradients == 7 * 2 * 2);   // LoRA's A and B on 7 linears in each of 2 layers
}
