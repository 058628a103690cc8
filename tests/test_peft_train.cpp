// Every peft method through train_vit on synthetic data: it trains, writes its adapter files
// (ours, and peft's layout where peft has the method), and --eval-only with either file gives
// back the same test accuracy. Also the peft-layout files on their own: round trip, names and
// clear errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "models/vit.h"
#include "nn/peft/adapter_file.h"
#include "nn/peft/peft_format.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "train/system.h"
#include "train/train_vit_app.h"
#include "tests/peft_test_util.h"
#include "tests/train_test_util.h"

using namespace neat;

namespace {

using Run = neat_train_test::Result;
using neat_train_test::TempDir;
using neat_train_test::train;

// A 2-layer ViT of width 16 on 8x8 synthetic images, 64 samples, one thread, quiet; small
// method settings so every method fits the layer sizes.
std::vector<std::string> tiny(const std::string& method, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "--data", "synthetic", "--model", "custom", "--dim", "16", "--depth", "2", "--heads", "2",
      "--image-size", "8", "--patch", "4", "--batch-size", "16", "--train-limit", "64",
      "--threads", "1", "--quiet", "--method", method, "--lora-r", "2", "--vera-r", "4",
      "--fourier-n", "24", "--fourier-scaling", "20", "--adapter-size", "4", "--epochs", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

ViTConfig tiny_config() { return tiny_peft_vit_config(); }

}  // namespace

TEST_CASE("train_vit trains every peft method; --eval-only with its adapter gives the same accuracy") {
  for (const std::string method :
       {"dora", "pissa", "milora", "vera", "fourierft", "adapter", "bitfit", "lora"}) {
    CAPTURE(method);
    TempDir dir("run_" + method);
    const Run r = train(tiny(method, {"--out", dir.path}));
    INFO(r.err);
    REQUIRE(r.code == 0);
    const Json results = Json::parse(read_file(dir / "results.json"));
    CHECK(results["config"]["method"].as_string() == method);
    const double accuracy = results["test_accuracy"].as_number();
    std::vector<std::string> adapters{dir / "adapter.safetensors"};
    const bool peft_layout = has_peft_layout(method);
    CHECK(std::filesystem::exists(dir / "peft/adapter_config.json") == peft_layout);
    if (peft_layout) adapters.push_back(dir / "peft");
    for (const std::string& adapter : adapters) {
      CAPTURE(adapter);
      TempDir eval("eval_" + method);
      const Run e = train(tiny(method, {"--eval-only", "--adapter", adapter, "--out", eval.path}));
      INFO(e.err);
      REQUIRE(e.code == 0);
      CHECK(Json::parse(read_file(eval / "eval.json"))["test_accuracy"].as_number() == accuracy);
    }
  }
}

// --merge folds the adapters into the weights: the merged model, evaluated as a plain ViT,
// gives the adapted model's accuracy. The Houlsby adapter has no merged form and says so.
TEST_CASE("train_vit --merge: dora, pissa, vera, fourierft merge to a plain ViT of the same accuracy") {
  for (const std::string method : {"dora", "pissa", "vera", "fourierft"}) {
    CAPTURE(method);
    TempDir dir("merge_" + method);
    const Run r = train(tiny(method, {"--merge", "--out", dir.path}));
    INFO(r.err);
    REQUIRE(r.code == 0);
    const Json results = Json::parse(read_file(dir / "results.json"));
    const double accuracy = results["test_accuracy"].as_number();
    // config.json for transformers' from_pretrained: the sizes and the class names by id.
    const Json hf = Json::parse(read_file(dir / "config.json"));
    CHECK(hf["model_type"].as_string() == "vit");
    CHECK(hf["architectures"].as_array()[0].as_string() == "ViTForImageClassification");
    const Json& names = results["class_names"];
    CHECK(int64_t(hf["id2label"].as_object().size()) == int64_t(names.as_array().size()));
    CHECK(hf["id2label"]["0"].as_string() == names.as_array()[0].as_string());
    CHECK(hf["label2id"][names.as_array()[0].as_string()].as_int() == 0);
    TempDir eval("merge_eval_" + method);
    const Run e = train(tiny("head", {"--eval-only", "--weights", dir / "model.safetensors",
                                      "--out", eval.path}));
    INFO(e.err);
    REQUIRE(e.code == 0);
    CHECK(Json::parse(read_file(eval / "eval.json"))["test_accuracy"].as_number() == accuracy);
  }
  TempDir dir("merge_adapter");
  const Run r = train(tiny("adapter", {"--merge", "--out", dir.path}));
  CHECK(r.code != 0);
  CHECK(r.err.find("no merged form") != std::string::npos);
}

// The method's flags are stored in the checkpoint: a run stopped at step 2 and resumed from
// its directory alone (VeRA's projections, FourierFT's positions and PiSSA's residual are
// rebuilt from them) ends with the same adapter, bit for bit.
TEST_CASE("train_vit: pissa, vera, fourierft and adapter runs resume exactly") {
  for (const std::string method : {"pissa", "vera", "fourierft", "adapter"}) {
    CAPTURE(method);
    TempDir dir("resume_" + method);
    const std::vector<std::string> run{"--epochs", "2", "--vera-seed", "7", "--fourier-seed", "11"};
    auto args = [&](const std::string& out, std::vector<std::string> extra) {
      std::vector<std::string> a = run;
      a.insert(a.end(), {"--out", out});
      a.insert(a.end(), extra.begin(), extra.end());
      return tiny(method, a);
    };
    REQUIRE(train(args(dir / "whole", {})).code == 0);
    REQUIRE(train(args(dir / "part", {"--max-steps", "2"})).code == 0);
    const Run resumed = train({"--resume", dir / "part", "--threads", "1", "--quiet"});
    INFO(resumed.err);
    REQUIRE(resumed.code == 0);
    CHECK(read_file(dir / "whole/adapter.safetensors") == read_file(dir / "part/adapter.safetensors"));
  }
}

TEST_CASE("peft layout: config and names as peft writes them; a fresh model reproduces outputs") {
  Generator gen(31);
  Variable pixels(randn({2, 3, 8, 8}, gen));
  for (const std::string method : {"lora", "dora", "vera", "fourierft", "neat"}) {
    CAPTURE(method);
    PeftConfig config;
    config.method = method;
    config.targets = "qvmlp";
    config.lora.rank = 2;
    config.vera.rank = 4;
    config.fourier.n_frequency = 12;
    ViTForImageClassification tuned(tiny_config());
    tuned.eval();
    attach_peft(tuned, config);
    {
      NoGradGuard no_grad;
      Generator values(5);
      for (auto& [name, p] : tuned.named_parameters(true))
        p.data().copy_from(randn(p.shape(), values));
    }
    const Tensor want = tuned.forward(pixels).data();
    TempDir dir("layout_" + method);
    save_peft_adapter(dir.path, tuned, config);
    const Json json = Json::parse(read_file(dir / "adapter_config.json"));
    const std::string type = method == "fourierft" ? "FOURIERFT"
                             : method == "vera"      ? "VERA"
                             : method == "neat"      ? "NEAT"
                                                     : "LORA";
    CHECK(json["peft_type"].as_string() == type);
    CHECK(json["target_modules"].as_string() == peft_target_regex("qvmlp"));
    SafetensorsFile file = read_safetensors(dir / "adapter_model.safetensors");
    CHECK(file.contains("base_model.model.classifier.weight"));
    for (auto& [name, t] : file.tensors)
      CHECK_MESSAGE(name.rfind("base_model.", 0) == 0, name);
    CHECK(file.contains("base_model.vera_A") == (method == "vera"));
    CHECK(json["peft_version"].as_string() == kPeftVersion);   // as peft >= 0.18 records it
    if (method == "vera") {
      // peft's save_projection layout: the shared pair once, sized for the largest layer (the
      // MLP's 24 x 16 and 16 x 24 Linears), drawn from projection_prng_key as peft draws it, so
      // a peft that rebuilds it from the seed instead of reading it gets the same values.
      CHECK(json["save_projection"].as_bool());
      CHECK(json["projection_prng_key"].as_int() == 0);
      const auto drawn = make_vera_projections(config.vera, 24, 24, DType::Float32);
      CHECK(file.get("base_model.vera_A").shape() == Shape{4, 24});
      CHECK(file.get("base_model.vera_B").shape() == Shape{24, 4});
      CHECK(file.get("base_model.vera_A").to_vector<float>() == drawn->vera_A.data().to_vector<float>());
      CHECK(file.get("base_model.vera_B").to_vector<float>() == drawn->vera_B.data().to_vector<float>());
    }

    ViTForImageClassification fresh(tiny_config());
    fresh.eval();
    PeftReport report = attach_adapter(dir.path, fresh);
    CHECK(report.method == method);
    const Tensor got = fresh.forward(pixels).data();
    for (int64_t i = 0; i < want.numel(); ++i) CHECK(got.flat(i) == want.flat(i));
  }
}

TEST_CASE("train_vit: bad method flags print the reason and exit 2") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--method", "dora", "--lora-dropout", "0.1"}, "not supported with --method dora"},
      {{"--method", "vera", "--vera-r", "0"}, "--vera-r, --fourier-n and --adapter-size must be"},
      {{"--method", "fourierft", "--fourier-seed", "-1"}, "--fourier-seed must be >= 0"},
      {{"--method", "ia3"}, "--method: 'ia3' is not one of"},
  };
  for (const auto& [extra, reason] : cases) {
    CAPTURE(reason);
    const Run r = train(tiny("lora", extra));
    CHECK(r.code == 2);
    CHECK(r.err.find(reason) != std::string::npos);
  }
}

TEST_CASE("peft layout: unsupported settings and methods fail clearly") {
  TempDir dir("errors");
  ViTForImageClassification vit(tiny_config());
  PeftConfig config;
  config.method = "adapter";
  CHECK_THROWS_WITH_AS(save_peft_adapter(dir.path, vit, config),
                       doctest::Contains("has no peft layout"), std::runtime_error);
  CHECK_THROWS_WITH_AS(read_peft_adapter_config(dir / "missing"),
                       doctest::Contains("cannot open"), std::runtime_error);
  auto write_config = [&](const std::string& text) {
    std::ofstream(dir / "adapter_config.json") << text;
  };
  write_config(R"({"peft_type": "IA3", "target_modules": ["query"]})");
  CHECK_THROWS_WITH_AS(read_peft_adapter_config(dir.path), doctest::Contains("peft_type 'IA3'"),
                       std::runtime_error);
  write_config(R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": true,
                  "target_modules": ["query", "value"]})");
  CHECK_THROWS_WITH_AS(read_peft_adapter_config(dir.path), doctest::Contains("use_rslora"),
                       std::runtime_error);
  write_config(R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8,
                  "target_modules": ["query", "value"], "modules_to_save": ["classifier"]})");
  PeftConfig read = read_peft_adapter_config(dir.path);
  CHECK(read.method == "lora");
  CHECK(read.targets == "query,value");
  CHECK(read.lora.rank == 4);
}
