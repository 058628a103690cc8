// The mixed-precision policy (train/precision.h, docs/bf16.md "Mixed precision"): the cast op
// to_dtype (autograd/cast.h; its gradcheck is the op table's "to_dtype" entry), the
// --precision flag, frozen weights stored in bf16, and a bf16 training step of a tiny ViT with
// Neat and LoRA against the float64 step.
//
// The step's bound. The float64 reference runs at the values the bf16 step starts from (the
// frozen weights and the images rounded to bf16, the float32 masters widened), so the
// difference is the bf16 step's own arithmetic: every activation it stores is rounded once to
// bf16 (relative error u = 2^-8 each), sums and statistics in float32. Over the tiny ViT's
// path (patch embedding, 2 layers of layer norm, attention and MLP with residuals, the final
// norm, the classifier, about 25 rounded tensors from the input to the loss, and as many back)
// the first-order errors add up to a few tens of u: the test allows
//   loss:      |L - L64| <= 16 u |L64|
//   gradients: ||g - g64|| <= 48 u ||g64|| for each trainable tensor (norm-wise: an element
//              of a gradient that is a difference of larger terms has no useful relative bound)
// and the measured errors are printed with -s (merged with the bf16 kernels of branches bf16a
// and bf16b, on the conversion GEMM path: loss 0.55 u / 0.62 u, gradients at most 3.9 u (neat)
// and 6.4 u (lora)). The step needs the bf16 kernels of the other ops (elementwise, layer norm,
// softmax, attention, cross-entropy: issue 26's other branches).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <unistd.h>

#include "autograd/cast.h"
#include "autograd/nn_functional.h"
#include "autograd/reduce.h"
#include "models/bert.h"
#include "models/llama.h"
#include "models/vit.h"
#include "nn/peft/attach.h"
#include "tensor/random.h"
#include "tensor/safetensors.h"
#include "tests/tiny_llama.h"
#include "tests/tiny_vit.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "train/run_support.h"
#include "train/vit_step_app.h"

using namespace neat;

TEST_CASE("precision: --precision and its --tf32 alias parse to one policy") {
  CHECK(parse_precision("fp32", false) == Precision::Fp32);
  CHECK(parse_precision("bf16", false) == Precision::Bf16);
  CHECK(parse_precision("tf32", false) == Precision::Tf32);
  CHECK(parse_precision("fp32", true) == Precision::Tf32);   // --tf32 alone
  CHECK(parse_precision("tf32", true) == Precision::Tf32);
  CHECK_THROWS_AS(parse_precision("bf16", true), UsageError);
  CHECK_THROWS_WITH(parse_precision("fp16", false),
                    doctest::Contains("'fp16' is not one of fp32, tf32, bf16"));
  CHECK_THROWS_WITH(check_precision_device(Precision::Tf32, "cpu"),
                    doctest::Contains("needs --device cuda"));
  check_precision_device(Precision::Bf16, "cpu");
  CHECK(activation_dtype(Precision::Bf16) == DType::BFloat16);
  CHECK(activation_dtype(Precision::Tf32) == DType::Float32);
}

TEST_CASE("precision: a bad --precision prints the usage and exits 2") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--batch", "b", "--out", "o", "--precision", "fp16"},
        std::vector<std::string>{"--batch", "b", "--out", "o", "--precision", "bf16", "--dtype",
                                 "f64"},
        std::vector<std::string>{"--batch", "b", "--out", "o", "--precision", "bf16", "--tf32"}}) {
    std::ostringstream out, err;
    CHECK(vit_step_main(args, out, err) == 2);
    CHECK(err.str().find("usage: vit_step") != std::string::npos);
    CHECK(err.str().find("--precision") != std::string::npos);
  }
}

TEST_CASE("precision: to_dtype float32 <-> bf16 round trips, forward and backward") {
  Generator gen(5);
  const Tensor x = uniform({4, 6}, -3.0, 3.0, gen);
  Variable v(x, true);
  const Variable same = to_dtype(v, DType::Float32);   // its own dtype: no node, no copy
  CHECK(same.is_leaf());
  CHECK(same.data().raw_data() == x.raw_data());
  Variable y = to_dtype(v, DType::BFloat16);
  REQUIRE(y.dtype() == DType::BFloat16);
  const Tensor rounded = x.to(DType::BFloat16);
  for (int64_t i = 0; i < x.numel(); ++i) CHECK(y.data().flat(i) == rounded.flat(i));
  const Tensor dy = uniform({4, 6}, -1.0, 1.0, gen).to(DType::BFloat16);
  y.backward(dy);
  REQUIRE(v.grad().dtype() == DType::Float32);   // the master's gradient, widened exactly
  for (int64_t i = 0; i < x.numel(); ++i) CHECK(v.grad().flat(i) == dy.flat(i));
  CHECK_THROWS_WITH(to_dtype(Variable(zeros({2}, DType::Int64)), DType::Float32),
                    doctest::Contains("only floating dtypes"));
}

namespace {

// A tiny ViT (tests/tiny_vit.h) with `method` on query and value, every trainable tensor set
// to random values (B and the classifier too, so that every gradient is non-zero).
std::unique_ptr<ViTForImageClassification> tiny_adapted_vit(const std::string& method) {
  auto model = std::make_unique<ViTForImageClassification>(test::tiny_vit_config(3));
  PeftConfig peft;
  peft.method = method;
  peft.neat.rank = 4;
  peft.neat.depth = 4;   // the M network with a layer pair: its float32 backward too
  // GELU, not the default ReLU: the bf16 step rounds A to bf16 in W0^T A^T (bf16_gemm with a
  // float32 C), and an element of that product near ReLU's kink can change side, a jump in
  // the gradient that no rounding bound covers (measured with ReLU: one A gradient 192 u off,
  // every other within 7 u). A smooth activation keeps the comparison about arithmetic.
  peft.neat.activation = NeatActivation::Gelu;
  peft.lora.rank = 4;
  attach_peft(*model, peft);
  Generator gen(17);
  for (auto& [name, p] : model->named_parameters(/*trainable_only=*/true))
    p.set_data(uniform(p.shape(), -0.5, 0.5, gen));
  return model;
}

double norm(const Tensor& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t.flat(i) * t.flat(i);
  return std::sqrt(s);
}

}  // namespace

TEST_CASE("precision: bf16 stores the frozen weights in bf16, once, and keeps float32 masters") {
  auto model = tiny_adapted_vit("neat");
  int64_t frozen_values = 0, frozen = 0;
  for (auto& [name, p] : model->named_parameters())
    if (!p.requires_grad()) frozen_values += p.numel(), ++frozen;
  const PrecisionReport report = apply_precision(*model, Precision::Bf16);
  CHECK(report.converted == frozen);
  CHECK(report.bytes_saved == 2 * frozen_values);
  for (auto& [name, p] : model->named_parameters()) {
    INFO(name);
    CHECK(p.dtype() == (p.requires_grad() ? DType::Float32 : DType::BFloat16));
    CHECK(p.data().nbytes() == size_t(p.numel()) * (p.requires_grad() ? 4 : 2));
  }
  const Variable w = model->parameter("vit.encoder.layer.0.attention.attention.key.weight");
  const void* stored = w.data().raw_data();
  CHECK(apply_precision(*model, Precision::Bf16).converted == 0);   // already stored: no re-cast
  CHECK(w.data().raw_data() == stored);
  CHECK(model->input_dtype() == DType::BFloat16);
  CHECK(apply_precision(*model, Precision::Fp32).converted == 0);
}

TEST_CASE("precision: a bf16 ViT step (neat, lora) agrees with the float64 step; fp32 files") {
  const double u = std::ldexp(1.0, -8);
  for (const std::string method : {"neat", "lora"}) {
    INFO(method);
    auto model = tiny_adapted_vit(method);
    apply_precision(*model, Precision::Bf16);
    // The float64 reference at the same values: the bf16 frozen weights widened exactly.
    auto ref = tiny_adapted_vit(method);
    ref->to(DType::Float64);
    ref->load_state_dict(model->state_dict());
    Generator gen(23);
    const Tensor images = uniform({3, 3, 8, 8}, -1.0, 1.0, gen).to(DType::BFloat16);
    const Tensor labels = from_vector(std::vector<int64_t>{0, 2, 1}, {3});

    const Variable loss = cross_entropy(model->forward(Variable(images)), labels);
    CHECK(loss.dtype() == DType::Float32);
    loss.backward();
    const Variable loss64 =
        cross_entropy(ref->forward(Variable(images.to(DType::Float64))), labels);
    loss64.backward();
    const double dl = std::abs(loss.item() - loss64.item());
    MESSAGE(method << ": loss " << loss.item() << " vs float64 " << loss64.item() << ", "
                   << dl / (u * std::abs(loss64.item())) << " u relative");
    CHECK(dl <= 16 * u * std::abs(loss64.item()));
    const auto ref_params = ref->named_parameters(/*trainable_only=*/true);
    size_t k = 0;
    for (const auto& [name, p] : model->named_parameters(/*trainable_only=*/true)) {
      INFO(name);
      REQUIRE(p.grad().defined());
      CHECK(p.grad().dtype() == DType::Float32);   // float32 masters, float32 gradients
      const Tensor g64 = ref_params[k++].second.grad();
      const double error = norm(sub(p.grad().to(DType::Float64), g64)) / norm(g64);
      MESSAGE(method << " " << name << ": gradient error " << error / u << " u (norm-wise)");
      CHECK(error <= 48 * u);
    }
    // The checkpoint holds the masters and AdamW's state: float32, as an fp32 run's.
    AdamW optimizer({ParamGroup{"all", model->named_parameters(true), 1e-3, 0.0}});
    optimizer.step();
    const std::string path = "/tmp/neat_test_precision_" + std::to_string(::getpid()) +
                             ".safetensors";
    save_checkpoint(path, *model, optimizer, TrainState{});
    const SafetensorsFile file = read_safetensors(path, HalfFloats::AsStored);
    for (const auto& [name, t] : file.tensors)
      if (t.dtype() != DType::Int64) CHECK_MESSAGE(t.dtype() == DType::Float32, name);
    std::filesystem::remove(path);
  }
}

// --method full trains the embeddings, so they stay float32 masters under bf16; the models then
// cast the embeddings' output once (BertEmbeddings / LlamaModel::activation_dtype), or every
// activation after them would silently be float32 (as it was: a "bf16" full fine-tune of a text
// model or a LLaMA ran in float32).
TEST_CASE("precision: bf16 activations in BERT and LLaMA even when the embeddings train") {
  BertConfig bert_config;
  bert_config.vocab_size = 13;
  bert_config.hidden = 6;
  bert_config.layers = 1;
  bert_config.heads = 2;
  bert_config.intermediate = 10;
  bert_config.max_positions = 12;
  bert_config.num_labels = 3;
  bert_config.dropout = bert_config.attention_dropout = 0.0;
  BertForSequenceClassification bert(bert_config);
  LlamaForCausalLM llama(test::tiny_llama_config(/*tied=*/true));
  const Tensor ids = from_vector(std::vector<int64_t>{1, 4, 2, 7, 3, 5}, {2, 3});
  for (Module* model : {static_cast<Module*>(&bert), static_cast<Module*>(&llama)}) {
    INFO(model->type_name());
    apply_precision(*model, Precision::Bf16);   // every parameter trains: nothing converted
    const Variable logits = model == &bert ? bert.forward(ids) : llama.forward(ids);
    CHECK(logits.dtype() == DType::BFloat16);
    sum(to_dtype(logits, DType::Float32)).backward();
    for (const auto& [name, p] : model->named_parameters(/*trainable_only=*/true)) {
      INFO(name);
      CHECK(p.dtype() == DType::Float32);
      REQUIRE(p.grad().defined());
      CHECK(p.grad().dtype() == DType::Float32);
    }
  }
}
