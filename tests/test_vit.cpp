// Tests for models/vit: Hugging Face's parameter names and count (vit-base), presets, the
// forward against the same network composed by hand from primitive ops, determinism, loading
// HF-named weights (with and without the "vit." prefix, pooler ignored, classifier kept when
// the class count differs, position embeddings interpolated), clear errors for missing or
// mis-shaped tensors, saving, replace_module on the tree, and a float64 gradient check.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "autograd/elementwise.h"
#include "autograd/matmul.h"
#include "autograd/nn_functional.h"
#include "autograd/shape_ops.h"
#include "models/vit.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "tensor/safetensors.h"
#include "autograd/gradcheck.h"
#include "tests/op_test_util.h"
#include "tests/tiny_vit.h"

using namespace neat;
using neat::test::max_abs_diff;
using neat::test::random64;
using neat::test::thrown_message;
using neat::test::tiny_vit_config;

namespace {

Variable pixels(int64_t batch, const ViTConfig& c, uint64_t seed, DType dtype = DType::Float32) {
  return Variable(random64({batch, c.channels, c.image_size, c.image_size}, seed).to(dtype));
}

std::string temp_path(const std::string& stem) {
  return "/tmp/neat_test_vit_" + std::to_string(::getpid()) + "_" + stem + ".safetensors";
}

// The tensors of a model, optionally without the "vit." prefix (a ViTModel file).
std::map<std::string, Tensor> hf_tensors(const ViTForImageClassification& m, bool prefix) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : m.state_dict()) {
    if (prefix) out[name] = t.clone();
    else if (name.compare(0, 4, "vit.") == 0) out[name.substr(4)] = t.clone();
  }
  return out;
}

Variable linear_of(const ViTForImageClassification& m, const std::string& name, const Variable& x) {
  return linear(x, m.parameter(name + ".weight"), m.parameter(name + ".bias"));
}

}  // namespace

TEST_CASE("vit: vit-base has Hugging Face's parameter names, shapes and count") {
  ViTConfig config = vit_config("vit-base");
  ViTForImageClassification vit(config);
  auto params = vit.named_parameters();
  std::vector<std::string> names;
  for (auto& [name, _] : params) names.push_back(name);
  CHECK(names == vit_parameter_names(config));
  REQUIRE(names.size() == 4 + 12 * 16 + 4);
  CHECK(names[0] == "vit.embeddings.cls_token");
  CHECK(names[2] == "vit.embeddings.patch_embeddings.projection.weight");
  CHECK(names[4] == "vit.encoder.layer.0.attention.attention.query.weight");
  CHECK(names[10] == "vit.encoder.layer.0.attention.output.dense.weight");
  CHECK(names[12] == "vit.encoder.layer.0.intermediate.dense.weight");
  CHECK(names[14] == "vit.encoder.layer.0.output.dense.weight");
  CHECK(names[16] == "vit.encoder.layer.0.layernorm_before.weight");
  CHECK(names[18] == "vit.encoder.layer.0.layernorm_after.weight");
  CHECK(names[195] == "vit.encoder.layer.11.layernorm_after.bias");
  CHECK(names[196] == "vit.layernorm.weight");
  CHECK(names[198] == "classifier.weight");
  CHECK(vit.parameter("vit.embeddings.cls_token").shape() == Shape{1, 1, 768});
  CHECK(vit.parameter("vit.embeddings.position_embeddings").shape() == Shape{1, 197, 768});
  CHECK(vit.parameter("vit.embeddings.patch_embeddings.projection.weight").shape() == Shape{768, 3, 16, 16});
  CHECK(vit.parameter("vit.encoder.layer.5.intermediate.dense.weight").shape() == Shape{3072, 768});
  CHECK(vit.parameter("vit.encoder.layer.5.output.dense.weight").shape() == Shape{768, 3072});
  CHECK(vit.parameter("classifier.weight").shape() == Shape{1000, 768});
  // HF's count for ViTForImageClassification google/vit-base-patch16-224 (1000 classes); by
  // hand: embeddings 768 + 197*768 + 768*768 + 768 = 742,656; per layer 4 (768^2 + 768) +
  // (768*3072 + 3072) + (3072*768 + 768) + 4*768 = 7,087,872; final LN 1,536; classifier 769,000.
  CHECK(742656 + 12 * 7087872 + 1536 + 769000 == 86567656);
  CHECK(vit.num_parameters() == 86567656);
  // HF init: LayerNorm ones / zeros, biases zero, weights trunc-normal 0.02.
  CHECK(vit.parameter("vit.layernorm.weight").data().flat(7) == 1.0);
  CHECK(vit.parameter("vit.encoder.layer.0.attention.attention.query.bias").data().flat(3) == 0.0);
  double s2 = 0;
  Tensor w = vit.parameter("vit.encoder.layer.0.intermediate.dense.weight").data();
  for (int64_t i = 0; i < w.numel(); ++i) s2 += w.flat(i) * w.flat(i);
  CHECK(std::sqrt(s2 / double(w.numel())) == doctest::Approx(0.02).epsilon(0.01));
}

TEST_CASE("vit: presets and config validation") {
  CHECK(vit_preset_names() == std::vector<std::string>{"vit-tiny", "vit-small", "vit-base", "vit-large"});
  ViTConfig tiny = vit_config("vit-tiny"), large = vit_config("vit-large");
  CHECK((tiny.hidden == 192 && tiny.depth == 12 && tiny.heads == 3 && tiny.mlp_dim == 768));
  CHECK((large.hidden == 1024 && large.depth == 24 && large.heads == 16 && large.mlp_dim == 4096));
  CHECK((vit_config("vit-small").hidden == 384 && vit_config("vit-small").heads == 6));
  CHECK((large.patch_size == 16 && large.image_size == 224 && large.layer_norm_eps == 1e-12));
  CHECK(thrown_message([] { vit_config("vit-huge"); })
            .find("unknown preset 'vit-huge' (known: vit-tiny, vit-small, vit-base, vit-large)") !=
        std::string::npos);
  ViTConfig bad = tiny_vit_config();
  bad.image_size = 10;
  CHECK(thrown_message([&] { ViTForImageClassification m(bad); })
            .find("image_size 10 is not divisible by patch_size 4") != std::string::npos);
  bad = tiny_vit_config();
  bad.heads = 3;
  CHECK(thrown_message([&] { bad.validate(); }).find("hidden 16 is not divisible by heads 3") !=
        std::string::npos);
  CHECK(tiny_vit_config().str().find("hidden 16, depth 2, heads 2") != std::string::npos);
}

TEST_CASE("vit: config.json round trip (hf_vit_config_json, vit_config_from_json); what is not computed is refused") {
  ViTConfig c = tiny_vit_config();
  c.num_classes = 3;
  c.dropout = 0.125;
  const Json json = hf_vit_config_json(c, {"cat", "dog"});
  CHECK(json["id2label"]["2"].as_string() == "LABEL_2");
  const ViTConfig back = vit_config_from_json(json);
  CHECK(back.str() == c.str());
  CHECK((back.num_classes == 3 && back.dropout == 0.125 && back.layer_norm_eps == c.layer_norm_eps));
  Json gelu_new = json;
  gelu_new.set("hidden_act", "gelu_new");
  CHECK(thrown_message([&] { vit_config_from_json(gelu_new); })
            .find("vit config: hidden_act 'gelu_new' is not supported") != std::string::npos);
  Json no_bias = json;
  no_bias.set("qkv_bias", false);
  CHECK(thrown_message([&] { vit_config_from_json(no_bias); }).find("qkv_bias false") != std::string::npos);
  Json odd = json;
  odd.set("image_size", 10);
  CHECK(thrown_message([&] { vit_config_from_json(odd); }).find("image_size 10 is not divisible") !=
        std::string::npos);
}

TEST_CASE("vit: tiny forward has the right shape and is deterministic per seed") {
  ViTConfig c = tiny_vit_config(1);
  ViTForImageClassification a(c), b(c), other(tiny_vit_config(2));
  Variable x = pixels(4, c, 1);
  Tensor la = a.forward(x).data();
  CHECK(la.shape() == Shape{4, 3});
  CHECK(a.features(x).shape() == Shape{4, 16});
  CHECK(max_abs_diff(la, b.forward(x).data()) == 0);
  CHECK(max_abs_diff(la, a.forward(x).data()) == 0);
  CHECK(max_abs_diff(la, other.forward(x).data()) > 1e-4);
  a.eval();
  CHECK(max_abs_diff(la, a.forward(x).data()) == 0);  // dropout 0: train == eval
  CHECK(thrown_message([&] { a.forward(Variable(zeros({1, 3, 12, 12}))); })
            .find("gives 9 patches but the model has 4 position embeddings") != std::string::npos);
}

TEST_CASE("vit: forward equals the HF network composed by hand from primitive ops") {
  ViTConfig c = tiny_vit_config(3);
  ViTForImageClassification vit(c);
  vit.to(DType::Float64);
  Variable x = pixels(2, c, 4, DType::Float64);
  auto p = [&](const std::string& name) { return vit.parameter(name); };
  const int64_t B = 2, T = 5, D = 16, H = 2, Dh = 8;
  // Embeddings: conv as patches, cls first, + positions.
  Variable w = reshape(p("vit.embeddings.patch_embeddings.projection.weight"), {D, 48});
  Variable patches = permute(reshape(x, {B, 3, 2, 4, 2, 4}), {0, 2, 4, 1, 3, 5});
  Variable emb = linear(reshape(patches, {B, 4, 48}), w, p("vit.embeddings.patch_embeddings.projection.bias"));
  Variable cls = concat({p("vit.embeddings.cls_token"), p("vit.embeddings.cls_token")}, 0);
  Variable h = add(concat({cls, emb}, 1), p("vit.embeddings.position_embeddings"));
  auto ln = [&](const std::string& name, const Variable& v) {
    return layer_norm(v, p(name + ".weight"), p(name + ".bias"), 1e-12);
  };
  auto heads = [&](const Variable& v) { return permute(reshape(v, {B, T, H, Dh}), {0, 2, 1, 3}); };
  for (int i = 0; i < 2; ++i) {
    std::string L = "vit.encoder.layer." + std::to_string(i) + ".";
    Variable a = ln(L + "layernorm_before", h);
    Variable q = heads(linear_of(vit, L + "attention.attention.query", a));
    Variable k = heads(linear_of(vit, L + "attention.attention.key", a));
    Variable v = heads(linear_of(vit, L + "attention.attention.value", a));
    Variable probs = softmax(mul_scalar(matmul(q, k, false, true), 1 / std::sqrt(8.0)), -1);
    Variable context = reshape(permute(matmul(probs, v), {0, 2, 1, 3}), {B, T, D});
    h = add(linear_of(vit, L + "attention.output.dense", context), h);
    Variable m = gelu(linear_of(vit, L + "intermediate.dense", ln(L + "layernorm_after", h)));
    h = add(linear_of(vit, L + "output.dense", m), h);
  }
  Variable first = reshape(narrow(ln("vit.layernorm", h), 1, 0, 1), {B, D});
  Variable want = linear_of(vit, "classifier", first);
  CHECK(max_abs_diff(vit.forward(x).data(), want.data()) < 1e-12);
}

TEST_CASE("vit: weights load with and without the vit. prefix; pooler ignored") {
  ViTConfig c = tiny_vit_config(5);
  ViTForImageClassification source(c);
  Variable x = pixels(2, c, 6);
  Tensor logits = source.forward(x).data();

  ViTForImageClassification full(tiny_vit_config(6));
  ViTLoadReport r = load_vit_weights(full, hf_tensors(source, true));
  CHECK(r.classifier_loaded);
  CHECK(r.loaded == source.named_parameters().size());
  CHECK(r.messages.empty());
  CHECK(max_abs_diff(full.forward(x).data(), logits) == 0);

  // A ViTModel file (no prefix, no classifier) with a pooler.
  auto backbone = hf_tensors(source, false);
  backbone["pooler.dense.weight"] = zeros({16, 16});
  backbone["pooler.dense.bias"] = zeros({16});
  ViTForImageClassification headless(tiny_vit_config(7));
  Tensor classifier_before = headless.parameter("classifier.weight").data().clone();
  r = load_vit_weights(headless, backbone);
  CHECK_FALSE(r.classifier_loaded);
  CHECK(r.str().find("no classifier in weights: the classifier (3 classes) keeps its initialisation") != std::string::npos);
  CHECK(r.str().find("ignored 2 pooler tensors") != std::string::npos);
  CHECK(max_abs_diff(headless.parameter("classifier.weight").data(), classifier_before) == 0);
  CHECK(max_abs_diff(headless.features(x).data(), source.features(x).data()) == 0);

  // Another class count: backbone loads, classifier keeps its init.
  ViTConfig five = tiny_vit_config(8);
  five.num_classes = 5;
  ViTForImageClassification other(five);
  classifier_before = other.parameter("classifier.bias").data().clone();
  r = load_vit_weights(other, hf_tensors(source, true));
  CHECK_FALSE(r.classifier_loaded);
  CHECK(r.str().find("has 3 classes, the model 5: the classifier keeps its initialisation") != std::string::npos);
  CHECK(max_abs_diff(other.parameter("classifier.bias").data(), classifier_before) == 0);
  CHECK(max_abs_diff(other.features(x).data(), source.features(x).data()) == 0);

  // float64 tensors load into a float32 model (converted).
  std::map<std::string, Tensor> f64;
  for (auto& [n, t] : hf_tensors(source, true)) f64[n] = t.to(DType::Float64);
  ViTForImageClassification from64(tiny_vit_config(9));
  load_vit_weights(from64, f64);
  CHECK(max_abs_diff(from64.forward(x).data(), logits) == 0);
}

TEST_CASE("vit: missing or mis-shaped tensors are errors naming them; the model is unchanged") {
  ViTConfig c = tiny_vit_config(10);
  ViTForImageClassification source(c), target(tiny_vit_config(11));
  Tensor before = target.parameter("vit.embeddings.cls_token").data().clone();
  auto tensors = hf_tensors(source, true);
  tensors.erase("vit.encoder.layer.1.output.dense.weight");
  tensors["vit.layernorm.bias"] = zeros({17});
  std::string message = thrown_message([&] { load_vit_weights(target, tensors); });
  CHECK(message.find("missing 'vit.encoder.layer.1.output.dense.weight' (model shape [16, 32])") != std::string::npos);
  CHECK(message.find("'vit.layernorm.bias' has shape [17] in the file but [16] in the model") != std::string::npos);
  CHECK(max_abs_diff(target.parameter("vit.embeddings.cls_token").data(), before) == 0);
  auto both = hf_tensors(source, true);
  both["embeddings.cls_token"] = both["vit.embeddings.cls_token"];
  CHECK(thrown_message([&] { load_vit_weights(target, both); })
            .find("'vit.embeddings.cls_token' appears both with and without the 'vit.' prefix") != std::string::npos);
  auto unknown = hf_tensors(source, true);
  unknown["vit.embeddings.mask_token"] = zeros({1, 1, 16});
  CHECK(load_vit_weights(target, unknown).str().find("ignored unknown tensor 'vit.embeddings.mask_token'") !=
        std::string::npos);
}

TEST_CASE("vit: bicubic resize matches torch.nn.functional.interpolate") {
  // torch 1.13: F.interpolate(x, size=(3, 5), mode="bicubic", align_corners=False), float64,
  // x = [[1, 2, 0, 4], [3, -1, 5, 2], [0.5, 2.5, 1, -2], [4, 0, 3, 1]] as [1, 1, 4, 4].
  Tensor x = from_vector(std::vector<double>{1, 2, 0, 4, 3, -1, 5, 2, 0.5, 2.5, 1, -2, 4, 0, 3, 1}, {1, 4, 4});
  std::vector<double> want_3x5 = {1.3196116898148154, 1.5385125868055554, 0.8837528935185194,
                                  1.5431841724537034, 3.964376157407408,  1.6644296875000009,
                                  0.67173046875,      2.2587890625,       2.5192382812499994,
                                  -0.6965625000000006, 3.638641782407408, 1.0210562789351847,
                                  1.4479890046296293, 2.290668258101849,  0.3697812499999985};
  Tensor y = resize_bicubic(x, 3, 5);
  CHECK(y.shape() == Shape{1, 3, 5});
  CHECK(max_abs_diff(y, from_vector(want_3x5, {1, 3, 5})) < 1e-13);
  // Upsampling to 7 x 6: first row and a middle element from the same torch call.
  Tensor up = resize_bicubic(x, 7, 6);
  CHECK(up.at({0, 0, 0}) == doctest::Approx(0.6716987948453191).epsilon(1e-13));
  CHECK(up.at({0, 0, 5}) == doctest::Approx(4.605942953818431).epsilon(1e-13));
  CHECK(up.at({0, 3, 2}) == doctest::Approx(1.0595703124999993).epsilon(1e-13));
  CHECK(up.at({0, 6, 5}) == doctest::Approx(1.1326508467970524).epsilon(1e-13));
  CHECK(max_abs_diff(resize_bicubic(x, 4, 4), x) < 1e-15);  // same size: identity
}

TEST_CASE("vit: position embeddings are interpolated when the file's grid differs") {
  // The file comes from a 16x16 image (4x4 grid); the model uses 8x8 (2x2 grid).
  ViTConfig big = tiny_vit_config(12);
  big.image_size = 16;
  ViTForImageClassification source(big), target(tiny_vit_config(13));
  Tensor pos = source.parameter("vit.embeddings.position_embeddings").data();  // [1, 17, 16]
  for (int64_t t = 0; t < 17; ++t)
    for (int64_t d = 0; d < 16; ++d)
      pos.set({0, t, d}, t == 0 ? -1.0 : d < 8 ? 0.5 : 0.25 * double(d));  // constant per channel
  ViTLoadReport r = load_vit_weights(target, hf_tensors(source, true));
  CHECK(r.position_interpolated);
  CHECK(r.str().find("interpolated bicubically from a 4x4 to a 2x2 patch grid") != std::string::npos);
  Tensor got = target.parameter("vit.embeddings.position_embeddings").data();
  REQUIRE(got.shape() == Shape{1, 5, 16});
  for (int64_t t = 0; t < 5; ++t)
    for (int64_t d = 0; d < 16; ++d)
      CHECK(got.at({0, t, d}) ==
            doctest::Approx(t == 0 ? -1.0 : d < 8 ? 0.5 : 0.25 * double(d)).epsilon(1e-6));

  // A linear ramp along x is reproduced away from the clamped border, and the grid rows come
  // out in row-major order: element (row r, col c) of the new grid is token 1 + r * gw + c.
  Tensor ramp({1, 1 + 64, 2}, DType::Float64);
  for (int64_t t = 0; t < 65; ++t) {
    ramp.set({0, t, 0}, t == 0 ? 7.0 : double((t - 1) % 8));  // x coordinate
    ramp.set({0, t, 1}, t == 0 ? 7.0 : double((t - 1) / 8));  // y coordinate
  }
  Tensor out = interpolate_position_embeddings(ramp, 4, 4);
  CHECK(out.shape() == Shape{1, 17, 2});
  CHECK(out.at({0, 0, 0}) == 7.0);
  // src = (o + 0.5) * 2 - 0.5 = 2o + 0.5 for o = 1, 2 (interior: taps inside the grid).
  CHECK(out.at({0, 1 + 1 * 4 + 2, 0}) == doctest::Approx(4.5));
  CHECK(out.at({0, 1 + 2 * 4 + 1, 1}) == doctest::Approx(4.5));
  CHECK(out.at({0, 1 + 2 * 4 + 1, 0}) == doctest::Approx(2.5));
  CHECK(thrown_message([] { interpolate_position_embeddings(zeros({1, 6, 2}), 2, 2); })
            .find("5 patch positions do not form a square grid") != std::string::npos);
}

TEST_CASE("vit: a float64 model takes float64 weights exactly, interpolated or not") {
  // 1 + 1e-12 is not a float32: a detour through float32 (load or resize) would show as 1e-12.
  ViTConfig big = tiny_vit_config(14);
  big.image_size = 16;
  ViTForImageClassification source(big), target(tiny_vit_config(15));
  target.to(DType::Float64);
  std::map<std::string, Tensor> tensors;
  for (auto& [name, t] : hf_tensors(source, true)) {
    tensors[name] = t.to(DType::Float64);
    tensors[name].fill_(1 + 1e-12);
  }
  REQUIRE(load_vit_weights(target, tensors).position_interpolated);
  for (const char* name : {"vit.embeddings.position_embeddings", "vit.layernorm.bias",
                           "vit.encoder.layer.1.attention.attention.query.weight"}) {
    CAPTURE(name);
    const Tensor got = target.parameter(name).data();
    REQUIRE(got.dtype() == DType::Float64);
    for (int64_t i = 0; i < got.numel(); ++i) CHECK(std::abs(got.flat(i) - (1 + 1e-12)) < 1e-15);
  }
}

TEST_CASE("vit: a file that is not ViT weights gets a short error saying so") {
  ViTForImageClassification target(tiny_vit_config(16));
  std::map<std::string, Tensor> adapter = {
      {"vit.encoder.layer.0.attention.attention.query.neat_A.weight", zeros({2, 16})},
      {"classifier.weight", zeros({3, 16})}};
  const std::string message = thrown_message([&] { load_vit_weights(target, adapter); });
  CHECK(message.find("missing 'vit.embeddings.cls_token' (model shape [1, 1, 16])") !=
        std::string::npos);
  CHECK(message.find("and 34 more problems") != std::string::npos);   // 38 backbone tensors
  CHECK(message.find("none of the file's 2 tensors is a ViT backbone tensor") != std::string::npos);
  CHECK(message.find("layer.1") == std::string::npos);   // not all 36 names
}

TEST_CASE("vit: save_vit_weights writes HF names and loads back; adapters are refused") {
  ViTConfig c = tiny_vit_config(14);
  ViTForImageClassification source(c), target(tiny_vit_config(15));
  std::string path = temp_path("save");
  save_vit_weights(source, path, {{"format", "pt"}});
  SafetensorsFile file = read_safetensors(path);
  CHECK(file.metadata.at("format") == "pt");
  CHECK(file.tensors.size() == vit_parameter_names(c).size());
  CHECK(file.tensors[0].first == "vit.embeddings.cls_token");
  ViTLoadReport r = load_vit_weights(target, path);
  CHECK(r.classifier_loaded);
  Variable x = pixels(2, c, 16);
  CHECK(max_abs_diff(target.forward(x).data(), source.forward(x).data()) == 0);
  std::remove(path.c_str());

  target.replace_module("vit.encoder.layer.1.attention.attention.value", std::make_shared<GELU>());
  CHECK(thrown_message([&] { save_vit_weights(target, path); })
            .find("no parameter 'vit.encoder.layer.1.attention.attention.value.weight'") != std::string::npos);
  CHECK(thrown_message([&] { load_vit_weights(target, hf_tensors(source, true)); })
            .find("load weights before attaching an adapter") != std::string::npos);
}

TEST_CASE("vit: every Linear can be replaced by its dotted name") {
  ViTConfig c = tiny_vit_config(16);
  ViTForImageClassification vit(c);
  Variable x = pixels(2, c, 17);
  Tensor before = vit.forward(x).data();
  const char* targets[] = {"vit.encoder.layer.0.attention.attention.query",
                           "vit.encoder.layer.0.attention.attention.key",
                           "vit.encoder.layer.1.attention.attention.value",
                           "vit.encoder.layer.1.attention.output.dense",
                           "vit.encoder.layer.0.intermediate.dense",
                           "vit.encoder.layer.1.output.dense", "classifier"};
  for (const char* name : targets) {
    auto original = std::dynamic_pointer_cast<Linear>(vit.module(name));
    REQUIRE(original != nullptr);
    // An identical copy stands in: same output, and the typed pointer must now be the copy.
    auto copy = std::make_shared<Linear>(original->in_features(), original->out_features());
    copy->load_state_dict(original->state_dict());
    vit.replace_module(name, copy);
    CHECK(vit.module(name) == copy);
    CHECK(max_abs_diff(vit.forward(x).data(), before) == 0);
    copy->weight.data().fill_(0.0);
    CHECK(max_abs_diff(vit.forward(x).data(), before) > 0);  // the forward really uses it
    copy->load_state_dict(original->state_dict());
  }
  CHECK(vit.vit->encoder->layers[1]->output->dense == vit.module("vit.encoder.layer.1.output.dense"));
  CHECK(vit.classifier == vit.module("classifier"));
}

TEST_CASE("vit: dropout in training mode uses the model's one seeded stream") {
  ViTConfig c = tiny_vit_config(18);
  c.dropout = 0.2;
  c.attention_dropout = 0.1;
  ViTForImageClassification a(c), b(c);
  Variable x = pixels(2, c, 19);
  Tensor ya = a.forward(x).data(), yb = b.forward(x).data();
  CHECK(max_abs_diff(ya, yb) == 0);  // same seed, same masks
  CHECK(max_abs_diff(a.forward(x).data(), ya) > 0);  // the stream moved on
  a.eval();
  b.eval();
  CHECK(max_abs_diff(a.forward(x).data(), b.forward(x).data()) == 0);
}

TEST_CASE("vit: gradcheck of a tiny ViT's logits (float64)") {
  ViTConfig c = tiny_vit_config(20);
  c.hidden = 4;
  c.heads = 2;
  c.mlp_dim = 6;
  c.channels = 2;
  ViTForImageClassification vit(c);
  vit.to(DType::Float64);
  Variable x(random64({2, 2, 8, 8}, 21), true);
  std::vector<std::pair<std::string, Variable>> checked = {{"pixel_values", x}};
  for (const char* name : {"vit.embeddings.cls_token", "vit.embeddings.position_embeddings",
                           "vit.embeddings.patch_embeddings.projection.bias",
                           "vit.encoder.layer.0.attention.attention.query.weight",
                           "vit.encoder.layer.0.attention.attention.value.bias",
                           "vit.encoder.layer.1.intermediate.dense.weight",
                           "vit.encoder.layer.1.layernorm_after.weight", "vit.layernorm.bias",
                           "classifier.weight"})
    checked.emplace_back(name, vit.parameter(name));
  GradcheckResult r = gradcheck(checked, [&] { return vit.forward(x); });
  CHECK_MESSAGE(r.ok, r.report);
}
