// Attaching neat / lora / head / full to a ViT by target names: which layers, what trains, the
// parameter counts against the formulas; adapter files round-trip and fail clearly.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <unistd.h>

#include "models/vit.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/attach.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/op_test_util.h"
#include "tests/peft_test_util.h"

using namespace neat;
using neat::test::max_abs;
using neat::test::max_abs_diff;

namespace {

ViTConfig tiny_config() { return tiny_peft_vit_config(); }

std::set<std::string> trainable_names(const Module& m) {
  std::set<std::string> names;
  for (auto& [name, p] : m.named_parameters(true)) names.insert(name);
  return names;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("neat_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Gives every trainable tensor new values (so B, lora_B and the classifier are non-zero).
void perturb_trainable(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters(true)) p.data().copy_from(randn(p.shape(), gen));
}

const int64_t kClassifier = 16 * 5 + 5;

}  // namespace

TEST_CASE("peft target names match by dotted suffix, * matching one part") {
  CHECK(target_matches("vit.encoder.layer.0.attention.attention.query", "query"));
  CHECK(target_matches("vit.encoder.layer.0.attention.attention.query", "attention.attention.query"));
  CHECK_FALSE(target_matches("vit.encoder.layer.0.attention.attention.query", "ery"));
  CHECK(target_matches("vit.encoder.layer.3.output.dense", "layer.*.output.dense"));
  CHECK_FALSE(target_matches("vit.encoder.layer.3.attention.output.dense", "layer.*.output.dense"));
  CHECK(resolve_targets("query,value") == std::vector<std::string>{"query", "value"});
  CHECK_THROWS_WITH_AS(resolve_targets("query,,value"), doctest::Contains("empty name"),
                       std::runtime_error);
}

TEST_CASE("peft attach neat qv: the right layers, HF names kept, count = formula") {
  ViTForImageClassification vit(tiny_config());
  const int64_t total_before = vit.num_parameters();
  PeftConfig config;
  config.neat.rank = 3;
  config.neat.depth = 4;
  PeftReport report = attach_peft(vit, config);
  CHECK(report.adapted == std::vector<std::string>{
                              "vit.encoder.layer.0.attention.attention.query",
                              "vit.encoder.layer.0.attention.attention.value",
                              "vit.encoder.layer.1.attention.attention.query",
                              "vit.encoder.layer.1.attention.attention.value"});
  const int64_t per_target = 3 * 16 + 16 * 3 + 2 * 3 * 3;   // R OUT + OUT R + (depth-2) R^2
  CHECK(Neat::parameter_count(16, config.neat) == per_target);
  CHECK(report.trainable == 4 * per_target + kClassifier);
  CHECK(report.total == total_before + 4 * per_target);
  CHECK(report.ratio() == doctest::Approx(double(report.trainable) / double(report.total)));
  CHECK(report.str().find("neat (rank 3, depth 4, relu, scale 1, targets qv) on 4 layers") == 0);
  // Backbone names unchanged (and frozen), adapter names peft-style.
  auto state = vit.state_dict();
  for (const std::string& name : vit_parameter_names(tiny_config())) CHECK(state.count(name));
  CHECK_FALSE(vit.parameter("vit.encoder.layer.0.attention.attention.query.weight").requires_grad());
  CHECK_FALSE(vit.parameter("vit.encoder.layer.1.layernorm_before.weight").requires_grad());
  auto names = trainable_names(vit);
  CHECK(names.count("vit.encoder.layer.1.attention.attention.value.neat_A.weight"));
  CHECK(names.count("vit.encoder.layer.1.attention.attention.value.neat_layers.1.weight"));
  CHECK(names.count("classifier.weight"));
  CHECK(names.count("classifier.bias"));
  // A second attach on the same targets is refused.
  CHECK_THROWS_WITH_AS(attach_peft(vit, config), doctest::Contains("already has a Neat adapter"),
                       std::runtime_error);
}

TEST_CASE("peft attach neat and lora qvmlp: the MLP's non-square Linears, not attention.output") {
  ViTForImageClassification neat_vit(tiny_config()), lora_vit(tiny_config());
  PeftConfig config;
  config.targets = "qvmlp";
  config.neat.rank = 2;
  PeftReport neat_report = attach_peft(neat_vit, config);
  config.method = "lora";
  config.lora.rank = 2;
  PeftReport lora_report = attach_peft(lora_vit, config);
  for (const PeftReport* r : {&neat_report, &lora_report}) {
    CHECK(r->adapted.size() == 8);
    for (const std::string& name : r->adapted) CHECK(name.find("attention.output") == std::string::npos);
  }
  CHECK(neat_report.adapted[2] == "vit.encoder.layer.0.intermediate.dense");
  CHECK(neat_report.adapted[3] == "vit.encoder.layer.0.output.dense");
  // Neat per target: R OUT + OUT R; query/value OUT 16, intermediate OUT 24, output OUT 16.
  const int64_t neat_layer = 2 * (2 * 16 + 16 * 2) + (2 * 24 + 24 * 2) + (2 * 16 + 16 * 2);
  CHECK(neat_report.trainable == 2 * neat_layer + kClassifier);
  // LoRA per target: R (IN + OUT).
  const int64_t lora_layer = 2 * 2 * (16 + 16) + 2 * (16 + 24) + 2 * (24 + 16);
  CHECK(lora_report.trainable == 2 * lora_layer + kClassifier);
  CHECK(neat_vit.parameter("vit.encoder.layer.1.output.dense.neat_A.weight").shape() == Shape({2, 16}));
  CHECK(lora_vit.parameter("vit.encoder.layer.1.output.dense.lora_A.weight").shape() == Shape({2, 24}));
  CHECK(lora_vit.parameter("vit.encoder.layer.1.intermediate.dense.lora_B.weight").shape() ==
        Shape({24, 2}));
}

TEST_CASE("peft attach head and full") {
  ViTForImageClassification head_vit(tiny_config()), full_vit(tiny_config());
  PeftConfig config;
  config.method = "head";
  PeftReport head = attach_peft(head_vit, config);
  CHECK(head.trainable == kClassifier);
  CHECK(trainable_names(head_vit) == std::set<std::string>{"classifier.weight", "classifier.bias"});
  config.method = "full";
  PeftReport full = attach_peft(full_vit, config);
  CHECK(full.trainable == full.total);
  CHECK(full.total == head.total);
}

TEST_CASE("peft attach errors name the problem") {
  ViTForImageClassification vit(tiny_config());
  PeftConfig config;
  config.method = "prefix";
  CHECK_THROWS_WITH_AS(attach_peft(vit, config), doctest::Contains("unknown method 'prefix'"),
                       std::runtime_error);
  config.method = "lora";
  config.targets = "query,qkv";
  CHECK_THROWS_WITH_AS(attach_peft(vit, config), doctest::Contains("target 'qkv' matches no module"),
                       std::runtime_error);
  config.targets = "layernorm_before";
  CHECK_THROWS_WITH_AS(attach_peft(vit, config), doctest::Contains("not a Linear"),
                       std::runtime_error);
  config.targets = "qv";
  config.classifier = "head";
  CHECK_THROWS_WITH_AS(attach_peft(vit, config), doctest::Contains("no parameters under 'head'"),
                       std::runtime_error);
}

TEST_CASE("adapter file: only trainable tensors; a fresh base model reproduces the outputs") {
  Generator gen(8);
  Variable pixels(randn({3, 3, 8, 8}, gen));
  PeftConfig neat_config;
  neat_config.targets = "qvmlp";
  neat_config.neat.rank = 3;
  neat_config.neat.depth = 4;
  neat_config.neat.activation = NeatActivation::Sin2Pi;
  neat_config.neat.scale = 0.5;
  PeftConfig lora_config;
  lora_config.method = "lora";
  lora_config.lora.rank = 4;
  lora_config.lora.alpha = 6;
  PeftConfig head_config;
  head_config.method = "head";
  for (const PeftConfig& config : {neat_config, lora_config, head_config}) {
    CAPTURE(config.method);
    ViTForImageClassification tuned(tiny_config());
    tuned.eval();
    attach_peft(tuned, config);
    perturb_trainable(tuned, 21);
    Tensor want = tuned.forward(pixels).data();
    const std::string path = temp_path("adapter_" + config.method + ".safetensors");
    save_adapter(path, tuned, config);

    SafetensorsFile file = read_safetensors(path);
    std::set<std::string> in_file;
    for (auto& [name, t] : file.tensors) in_file.insert(name);
    CHECK(in_file == trainable_names(tuned));
    CHECK(file.metadata.at("format") == "neat-adapter");
    PeftConfig read = read_adapter_config(path);
    CHECK(read.method == config.method);
    CHECK(read.neat.activation == config.neat.activation);

    ViTForImageClassification fresh(tiny_config());   // same seed: the same base weights
    fresh.eval();
    PeftReport report = attach_adapter(path, fresh);
    CHECK(report.trainable == tuned.num_parameters(true));
    CHECK(max_abs_diff(fresh.forward(pixels).data(), want) == 0.0);
    if (config.method == "lora") {   // dropout acts only in training: it may differ on load
      PeftConfig other = config;
      other.lora.dropout = 0.3;
      ViTForImageClassification again(tiny_config());
      again.eval();
      attach_peft(again, other);
      load_adapter(path, again, other);
      CHECK(max_abs_diff(again.forward(pixels).data(), want) == 0.0);
    }
    std::remove(path.c_str());
  }
}

// Adapter files written before the activation was renamed say "sin" for sin(2 pi x): they load
// as sin2pi and give the same outputs.
TEST_CASE("adapter file: the old activation name \"sin\" reads as sin2pi") {
  PeftConfig config;
  config.neat.rank = 2;
  config.neat.activation = NeatActivation::Sin2Pi;
  ViTForImageClassification tuned(tiny_config());
  attach_peft(tuned, config);
  perturb_trainable(tuned, 4);
  const std::string path = temp_path("adapter_old_sin.safetensors");
  save_adapter(path, tuned, config);
  SafetensorsFile file = read_safetensors(path);
  std::string& metadata = file.metadata.at("config");
  const size_t at = metadata.find("\"activation\":\"sin2pi\"");
  REQUIRE(at != std::string::npos);
  metadata.replace(at, std::string("\"activation\":\"sin2pi\"").size(), "\"activation\":\"sin\"");
  write_safetensors(path, file.tensors, file.metadata);

  CHECK(read_adapter_config(path).neat.activation == NeatActivation::Sin2Pi);
  ViTForImageClassification fresh(tiny_config());
  attach_adapter(path, fresh);
  Generator gen(2);
  Variable pixels(randn({2, 3, 8, 8}, gen));
  CHECK(max_abs_diff(fresh.forward(pixels).data(), tuned.forward(pixels).data()) == 0.0);
  load_adapter(path, tuned, config);   // and it matches a model attached with sin2pi
  std::remove(path.c_str());
}

TEST_CASE("adapter file: a VeRA adapter whose projections an older build drew is refused") {
  PeftConfig config;
  config.method = "vera";
  config.vera.rank = 4;
  ViTForImageClassification tuned(tiny_config());
  attach_peft(tuned, config);
  const std::string path = temp_path("adapter_old_vera.safetensors");
  save_adapter(path, tuned, config);
  CHECK(read_adapter_config(path).method == "vera");
  SafetensorsFile file = read_safetensors(path);
  Json old = Json::parse(file.metadata.at("config"));
  Json without = Json::object();   // the config as written before the projections were peft's
  for (const auto& [key, value] : old.as_object())
    if (key != "projections") without.set(key, value);
  file.metadata["config"] = without.dump();
  write_safetensors(path, file.tensors, file.metadata);
  CHECK_THROWS_WITH_AS(read_adapter_config(path), doctest::Contains("they cannot be rebuilt"),
                       std::runtime_error);
  std::remove(path.c_str());
}

TEST_CASE("adapter file errors name the file and the tensor") {
  ViTForImageClassification vit(tiny_config());
  PeftConfig config;
  config.neat.rank = 2;
  attach_peft(vit, config);
  const std::string path = temp_path("adapter_errors.safetensors");
  save_adapter(path, vit, config);

  // Another method or setting than the one attached.
  ViTForImageClassification lora_vit(tiny_config());
  PeftConfig lora;
  lora.method = "lora";
  attach_peft(lora_vit, lora);
  CHECK_THROWS_WITH_AS(load_adapter(path, lora_vit, lora),
                       doctest::Contains("was saved with {\"activation\":\"relu\""),
                       std::runtime_error);

  // A missing tensor, a mis-shaped one, an extra one, and a file that is no adapter.
  SafetensorsFile file = read_safetensors(path);
  const std::string a = "vit.encoder.layer.1.attention.attention.value.neat_A.weight";
  auto write_variant = [&](const std::string& drop, const std::string& reshape,
                           const std::string& extra) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (auto& [name, t] : file.tensors) {
      if (name == drop) continue;
      tensors.emplace_back(name, name == reshape ? zeros({2, 15}) : t);
    }
    if (!extra.empty()) tensors.emplace_back(extra, zeros({1}));
    write_safetensors(path, tensors, file.metadata);
  };
  ViTForImageClassification fresh(tiny_config());
  attach_peft(fresh, config);
  write_variant(a, "", "");
  CHECK_THROWS_WITH_AS(load_adapter(path, fresh, config),
                       doctest::Contains(("lacks '" + a + "' [2, 16]").c_str()), std::runtime_error);
  write_variant("", a, "");
  CHECK_THROWS_WITH_AS(load_adapter(path, fresh, config),
                       doctest::Contains(("'" + a + "' has shape [2, 15] in").c_str()), std::runtime_error);
  write_variant("", "", "vit.layernorm.weight");
  CHECK_THROWS_WITH_AS(load_adapter(path, fresh, config),
                       doctest::Contains("'vit.layernorm.weight' [1], which is not a trainable"),
                       std::runtime_error);
  write_safetensors(path, {{"x", zeros({1})}});
  CHECK_THROWS_WITH_AS(read_adapter_config(path), doctest::Contains("not a neat.cpp adapter file"),
                       std::runtime_error);
  std::remove(path.c_str());
}

// Merged state converts with the model (Neat's M is a buffer; LoRA recomputes B A from its
// parameters): merge every adapter in float32, convert the whole ViT to float64, unmerge. The
// backbone comes back up to the one float32 rounding of W0 + Delta W, and the float64 model
// gives the logits of the adapted model converted without merging.
TEST_CASE("peft: merge, then the model to float64, then unmerge (neat and lora)") {
  for (std::string method : {"neat", "lora"}) {
    CAPTURE(method);
    PeftConfig config;
    config.method = method;
    config.targets = "qvmlp";
    config.neat.rank = 3;
    config.neat.depth = 4;
    config.lora.rank = 3;
    auto build = [&] {
      auto vit = std::make_shared<ViTForImageClassification>(tiny_config());
      attach_peft(*vit, config);
      perturb_trainable(*vit, 7);
      return vit;
    };
    auto vit = build(), unmerged = build();
    unmerged->to(DType::Float64);
    std::map<std::string, Tensor> original;
    for (auto& [name, t] : unmerged->state_dict()) original[name] = t.clone();

    std::vector<std::shared_ptr<Module>> adapters;
    for (auto& [name, m] : vit->named_modules())
      if (m->type_name() == "Neat" || m->type_name() == "Lora") adapters.push_back(m);
    REQUIRE(adapters.size() == 8);
    auto set_merged = [&](bool merged) {
      for (auto& m : adapters) {
        if (auto n = std::dynamic_pointer_cast<Neat>(m)) merged ? n->merge() : n->unmerge();
        if (auto l = std::dynamic_pointer_cast<Lora>(m)) merged ? l->merge() : l->unmerge();
      }
    };
    set_merged(true);
    std::map<std::string, double> merged_scale;   // float32 rounding of W0 + Delta W: relative to it
    for (auto& [name, t] : vit->state_dict()) merged_scale[name] = max_abs(t);
    vit->to(DType::Float64);
    set_merged(false);
    for (auto& [name, t] : vit->state_dict()) {
      CAPTURE(name);
      REQUIRE(t.dtype() == DType::Float64);
      // One rounding of W0 + Delta W, and Delta W rounded in float32 by merge: a few ulps.
      CHECK(max_abs_diff(t, original.at(name)) <= 4 * merged_scale.at(name) * 0x1p-24);
    }
    Generator gen(11);
    Variable x(randn({2, 3, 8, 8}, gen, DType::Float64));
    Tensor want = unmerged->forward(x).data();
    CHECK(max_abs_diff(vit->forward(x).data(), want) <= 1e-5 * max_abs(want));
  }
}
