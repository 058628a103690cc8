// The run skeleton's guarantees (train/run_skeleton.h), each run against every training
// program: a new program is one more row of kPrograms and gets every test below. Each row runs
// a tiny model on tiny data (a ViT of width 32 on synthetic images; a BERT of width 8 on 60
// WordNet-format definitions; a LLaMA of width 32 on a 16-item BoolQ-format toy task), so a
// run takes well under a second.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <new>
#include <sstream>

#include "data/image.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"
#include "train/run_skeleton.h"
#include "tests/tiny_lm_run.h"
#include "tests/train_test_util.h"
#include "train/train_lm_app.h"

using namespace neat;
using namespace neat_train_test;
namespace fs = std::filesystem;

namespace {

using Main = int (*)(const std::vector<std::string>&, std::ostream&, std::ostream&);

struct Program {
  std::string name;
  Main main;
  // A tiny run's flags, its inputs written under dir first.
  std::function<std::vector<std::string>(const std::string& dir)> tiny;
  // Flags whose data does not exist under dir: a check that comes first fails before reading it.
  std::function<std::vector<std::string>(const std::string& dir)> missing_data;
  // One input for --predict, written under dir.
  std::function<std::string(const std::string& dir)> predict_input;
  // A tiny run on data read from files, all under dir/<data_folder>.
  std::function<std::vector<std::string>(const std::string& dir)> tiny_on_files;
  std::string data_folder;
  // The flags that give the backbone the run started from (none: the seeded random one).
  std::function<std::vector<std::string>(const std::string& dir)> backbone;
  // A classifier: class names in results.json, the adapter and the merged config.json, and
  // --predict prints the top classes; else (train_lm) a text for each input, no class names, and
  // the pretrained model alone can be evaluated (--eval-only).
  bool classifier = true;
  // What --lora-targets qvmlp is recorded as in the run's adapter (train_lm: LLaMA's names).
  std::string qvmlp_recorded = "qvmlp";
};

std::vector<std::string> tiny_vit(const std::string&) { return tiny({}); }

std::vector<std::string> tiny_text(const std::string& dir) {
  if (!file_exists(dir + "/model/config.json")) write_tiny_text_inputs(dir);
  return {"--task", "wordnet-nouns", "--data-dir", dir + "/wordnet", "--weights", dir + "/model",
          "--epochs", "2", "--batch-size", "8", "--max-len", "16", "--threads", "1", "--quiet"};
}

std::string vit_image(const std::string& dir) {
  Image image(16, 16, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = uint8_t(i * 37 % 256);
  write_image(dir + "/input.png", image);
  return dir + "/input.png";
}

// Two classes of 16x16 images in dir/images: "dark" and "light".
std::vector<std::string> tiny_vit_on_files(const std::string& dir) {
  for (const char* cls : {"dark", "light"})
    for (int i = 0; i < 6; ++i) {
      Image image(16, 16, 3);
      std::fill(image.pixels.begin(), image.pixels.end(), uint8_t(cls[0] == 'd' ? 20 + i : 230 - i));
      const std::string path = dir + "/images/" + cls + "/" + std::to_string(i) + ".png";
      fs::create_directories(fs::path(path).parent_path());
      write_image(path, image);
    }
  std::vector<std::string> args = tiny({});
  args[1] = "folder:" + dir + "/images";
  return plus(args, {"--batch-size", "4", "--train-limit", "0"});
}

const std::vector<Program> kPrograms = {
    {"train_vit", train_vit_main, tiny_vit,
     [](const std::string& dir) {
       return std::vector<std::string>{"--data", "cifar10", "--data-dir", dir + "/none"};
     },
     vit_image, tiny_vit_on_files, "images", [](const std::string&) { return std::vector<std::string>{}; }},
    {"train_text", train_text_main, tiny_text,
     [](const std::string& dir) {
       return std::vector<std::string>{"--task", "wordnet-nouns", "--data-dir", dir + "/none"};
     },
     [](const std::string&) { return std::string("a small dog that barks"); }, tiny_text, "wordnet",
     [](const std::string& dir) { return std::vector<std::string>{"--weights", dir + "/model"}; }},
    {"train_lm", train_lm_main, tiny_lm,
     [](const std::string& dir) {
       return std::vector<std::string>{"--task", "boolq", "--data-dir", dir + "/none", "--weights",
                                       dir + "/none"};
     },
     [](const std::string&) { return std::string("Is it a dog? the dog"); }, tiny_lm, "lm",
     [](const std::string& dir) { return std::vector<std::string>{"--weights", dir + "/lm-model"}; },
     /*classifier=*/false, "q_proj,v_proj,gate_proj,up_proj,down_proj"},
};

Result run(const Program& p, std::vector<std::string> args) {
  std::ostringstream out, err;
  Result r;
  r.code = p.main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// Whether out has a line "input: NAME 0." for one of the class names.
bool names_a_class(const std::string& out, const std::string& input, const Json& names) {
  for (const Json& name : names.as_array())
    if (contains(out, input + ": " + name.as_string() + " 0.")) return true;
  return false;
}

}  // namespace

TEST_CASE("run skeleton: impossible combinations are refused before any data is read") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("combinations_" + p.name);
    const std::vector<std::string> missing = p.missing_data(dir.path);
    const Result merge = run(p, plus(missing, {"--method", "adapter", "--merge"}));
    CHECK(merge.code == 2);
    CHECK(contains(merge.err, "--merge: --method adapter (Houlsby bottlenecks, nonlinear) has no merged form"));
    const Result eval = run(p, plus(missing, {"--eval-only"}));
    if (!p.classifier) {   // a pretrained causal LM is a model to evaluate (its missing files: 1)
      CHECK(eval.code == 1);
      continue;
    }
    CHECK(eval.code == 2);
    CHECK(contains(eval.err, "--eval-only needs --weights, --adapter or --resume"));
  }
}

TEST_CASE("run skeleton: runs without --out get their own directories, -2 for the second") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("default_out_" + p.name);
    const std::vector<std::string> args = plus(p.tiny(dir.path), {"--method", "head", "--max-steps", "1"});
    const fs::path previous = fs::current_path();
    fs::current_path(dir.path);
    const Result a = run(p, args);
    const Result b = run(p, args);
    std::vector<std::string> runs;
    for (const auto& entry : fs::directory_iterator("runs")) runs.push_back(entry.path().string());
    fs::current_path(previous);
    REQUIRE(a.code == 0);
    REQUIRE(b.code == 0);
    REQUIRE(runs.size() == 2);
    std::sort(runs.begin(), runs.end());
    for (const std::string& r : runs) CHECK(file_exists(dir / (r + "/results.json")));
    // In the same second (the usual case) the second run's name is the first's with -2.
    if (runs[1].size() > runs[0].size()) CHECK(runs[1] == runs[0] + "-2");
  }
}

TEST_CASE("run skeleton: an --out holding a run is refused, naming the program that wrote it") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("taken_" + p.name);
    for (const Program& other : kPrograms) {
      const std::string out = dir / ("by_" + other.name);
      REQUIRE(run(other, plus(other.tiny(dir.path), {"--method", "head", "--max-steps", "1", "--out", out})).code == 0);
      const Result again = run(p, plus(p.tiny(dir.path), {"--max-steps", "1", "--out", out}));
      CHECK(again.code == 2);
      CHECK(contains(again.err, "--out " + out + " already holds a " + other.name + " run (results.json"));
      CHECK(contains(again.err, "continue it with " + other.name + " --resume " + out));
      // --resume of another program's run: refused by name, not read as one's own.
      const Result resume = run(p, {"--resume", out, "--quiet"});
      if (other.name == p.name) continue;
      CHECK(resume.code == 2);
      CHECK(contains(resume.err, "--resume " + out + " is a " + other.name + " run: continue it with " +
                                     other.name + " --resume " + out));
    }
  }
}

TEST_CASE("run skeleton: --overwrite removes everything the old run wrote, peft/ and config.json too") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("overwrite_" + p.name);
    const std::string out = dir / "run";
    const Result first = run(p, plus(p.tiny(dir.path), {"--method", "lora", "--max-steps", "1", "--merge", "--out", out}));
    REQUIRE_MESSAGE(first.code == 0, first.err);
    for (const char* f : {"peft/adapter_config.json", "peft/adapter_model.safetensors", "config.json",
                          "model.safetensors", "adapter.safetensors", "results.json"})
      CHECK_MESSAGE(file_exists(out + "/" + f), f);
    write_file_atomic(out + "/config.json", "{\"stale\": true}\n");
    const Result over = run(p, plus(p.tiny(dir.path), {"--method", "head", "--max-steps", "2", "--overwrite", "--out", out}));
    REQUIRE_MESSAGE(over.code == 0, over.err);
    CHECK_FALSE(file_exists(out + "/peft"));
    CHECK_FALSE(contains(read_file(out + "/config.json"), "stale"));   // the new run's own
    CHECK_FALSE(file_exists(out + "/model.safetensors"));
    CHECK(Json::parse(read_file(out + "/results.json"))["steps"].as_int() == 2);
  }
}

TEST_CASE("run skeleton: a locked run directory is refused before anything is written") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("locked_" + p.name);
    const std::string out = dir / "run";
    make_directories(out);
    RunLock lock(out);
    const Result r = run(p, plus(p.tiny(dir.path), {"--max-steps", "1", "--out", out}));
    CHECK(r.code == 1);
    CHECK(contains(r.err, out + " is in use by another run"));
    CHECK(run_files_in(out).empty());
  }
}

TEST_CASE("run skeleton: the estimate counts the steps this invocation runs (--max-steps)") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("estimate_" + p.name);
    std::vector<std::string> args = plus(p.tiny(dir.path), {"--max-steps", "5", "--out", dir / "run"});
    args.erase(std::find(args.begin(), args.end(), "--quiet"));
    const Result r = run(p, args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(contains(r.err, "this invocation runs to step 5 (--max-steps), 5 steps"));
    CHECK(contains(r.err, "for the 2 steps left"));   // measured over the first 3
  }
}

TEST_CASE("run skeleton: non-finite weights at the last step still write results (null) and the adapter") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("non_finite_" + p.name);
    const std::string out = dir / "run";
    const Result r = run(p, plus(p.tiny(dir.path), {"--method", "lora", "--max-steps", "2", "--backbone-lr",
                                                   "1e30", "--head-lr", "1e30", "--warmup-ratio", "0",
                                                   "--out", out}));
    CHECK(r.code == 1);
    CHECK(contains(r.err, p.name + ": error: "));
    CHECK(contains(r.err, "try a lower learning rate"));
    CHECK(contains(r.err, "results.json and the adapter in " + out));
    REQUIRE(file_exists(out + "/results.json"));
    const Json results = Json::parse(read_file(out + "/results.json"));
    CHECK(results.contains("error"));
    CHECK(file_exists(out + "/adapter.safetensors"));
    CHECK(file_exists(out + "/peft/adapter_config.json"));
  }
}

TEST_CASE("run skeleton: --predict prints top classes by name (a response: train_lm) and writes nothing; --eval-only writes eval.json") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("predict_" + p.name);
    const std::string out = dir / "run";
    const Result trained = run(p, plus(p.tiny(dir.path), {"--method", "lora", "--max-steps", "2", "--out", out}));
    REQUIRE_MESSAGE(trained.code == 0, trained.err);
    const std::string results = read_file(out + "/results.json");
    const Json names = Json::parse(results).contains("class_names") ? Json::parse(results)["class_names"] : Json::array();
    REQUIRE(names.size() >= (p.classifier ? 2 : 0));
    CHECK(read_safetensors(out + "/adapter.safetensors").metadata.count("class_names") == size_t(p.classifier));
    if (p.classifier)
      CHECK(read_safetensors(out + "/adapter.safetensors").metadata.at("class_names") == names.dump());

    const std::string input = p.predict_input(dir.path);
    const Result predicted = run(p, {"--resume", out, "--predict", input, "--quiet"});
    REQUIRE_MESSAGE(predicted.code == 0, predicted.err);
    const bool answered = names_a_class(predicted.out, input, names) ||
                          (!p.classifier && predicted.out.rfind(input + ": ", 0) == 0);   // a response
    CHECK_MESSAGE(answered, predicted.out);
    CHECK(read_file(out + "/results.json") == results);
    CHECK_FALSE(file_exists(out + "/eval.json"));

    const Result eval = run(p, {"--resume", out, "--eval-only", "--quiet"});
    REQUIRE_MESSAGE(eval.code == 0, eval.err);
    CHECK(Json::parse(read_file(out + "/eval.json"))["program"].as_string() == p.name);
    CHECK(read_file(out + "/results.json") == results);
  }
}

// Issue 25: --predict read the whole training set to size the model and took the class names
// from it; now the run's config.json (or a merged model's) is all it reads besides the weights.
TEST_CASE("run skeleton: --predict reads no data: a finished run, moved elsewhere, and its merged model predict alone") {
  for (const Program& p : kPrograms) {
    if (!p.classifier) continue;   // train_lm's --predict builds from --weights, reads no data
    CAPTURE(p.name);
    TempDir dir("predict_alone_" + p.name);
    const Result trained = run(p, plus(p.tiny_on_files(dir.path), {"--method", "lora", "--max-steps", "2",
                                                                   "--merge", "--out", dir / "run"}));
    REQUIRE_MESSAGE(trained.code == 0, trained.err);
    const Json names = Json::parse(read_file(dir / "run/results.json"))["class_names"];
    CHECK(Json::parse(read_file(dir / "run/config.json"))["id2label"]["1"].as_string() == names[1].as_string());
    fs::remove_all(dir / p.data_folder);
    fs::rename(dir / "run", dir / "moved");
    const std::string input = p.predict_input(dir.path);

    const Result from_run = run(p, {"--resume", dir / "moved", "--predict", input, "--quiet"});
    REQUIRE_MESSAGE(from_run.code == 0, from_run.err);
    CHECK_MESSAGE(names_a_class(from_run.out, input, names), from_run.out);
    const Result merged = run(p, {"--weights", dir / "moved", "--predict", input, "--quiet"});
    REQUIRE_MESSAGE(merged.code == 0, merged.err);
    CHECK_MESSAGE(names_a_class(merged.out, input, names), merged.out);
    CHECK(merged.out.substr(0, merged.out.find(' ', input.size() + 2)) ==
          from_run.out.substr(0, from_run.out.find(' ', input.size() + 2)));   // the same top class
    // The run's adapter file on the backbone it started from: the run's config.json beside it.
    const Result adapter = run(p, plus(p.backbone(dir.path), {"--method", "lora", "--adapter",
                                                              dir / "moved/adapter.safetensors",
                                                              "--predict", input, "--quiet"}));
    REQUIRE_MESSAGE(adapter.code == 0, adapter.err);
    CHECK(adapter.out == from_run.out);

    // The names are the config's: renamed there, renamed in the predictions.
    Json config = Json::parse(read_file(dir / "moved/config.json"));
    Json renamed = Json::object();
    for (size_t i = 0; i < names.size(); ++i) renamed.set(std::to_string(i), "renamed" + std::to_string(i));
    config.set("id2label", renamed);
    write_file_atomic(dir / "moved/config.json", config.dump());
    CHECK(contains(run(p, {"--resume", dir / "moved", "--predict", input, "--quiet"}).out, input + ": renamed"));
    // A run that has not written its config.json (unfinished) says so.
    fs::remove(dir / "moved/config.json");
    const Result unfinished = run(p, {"--resume", dir / "moved", "--predict", input, "--quiet"});
    CHECK(unfinished.code == 1);
    CHECK_MESSAGE(contains(unfinished.err, "--predict: no config.json naming the model's classes (id2label) in " +
                                               dir / "moved/config.json"),
                  unfinished.err);
    CHECK(contains(unfinished.err, "finish the run first"));
  }
}

TEST_CASE("run skeleton: --merge writes model.safetensors and a config.json (with the class names of a classifier)") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("merge_" + p.name);
    const std::string out = dir / "run";
    const Result r = run(p, plus(p.tiny(dir.path), {"--method", "lora", "--max-steps", "1", "--merge", "--out", out}));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const Json config = Json::parse(read_file(out + "/config.json"));
    CHECK(read_safetensors(out + "/model.safetensors").tensors.size() > 0);
    if (!p.classifier) {   // a causal LM: its architecture, no labels
      CHECK(config["architectures"][0].as_string() == "LlamaForCausalLM");
      continue;
    }
    const Json names = Json::parse(read_file(out + "/results.json"))["class_names"];
    REQUIRE(config.contains("id2label"));
    CHECK(config["id2label"]["0"].as_string() == names[0].as_string());
  }
}

TEST_CASE("run skeleton: --adapter FILE or peft's DIR gives the method and its settings; a conflicting flag exits 2") {
  for (const Program& p : kPrograms) {
    CAPTURE(p.name);
    TempDir dir("adapter_settings_" + p.name);
    const std::string run_dir = dir / "run";
    const Result trained = run(p, plus(p.tiny(dir.path), {"--method", "lora", "--lora-r", "3", "--lora-alpha", "6",
                                                          "--lora-targets", "qvmlp", "--max-steps", "1", "--out", run_dir}));
    REQUIRE_MESSAGE(trained.code == 0, trained.err);
    const double accuracy = Json::parse(read_file(run_dir + "/results.json"))["test_accuracy"].as_number();
    const std::vector<std::pair<std::string, std::string>> adapters = {
        {run_dir + "/adapter.safetensors", "rank = 3 (" + run_dir + "/adapter.safetensors's metadata)"},
        {run_dir + "/peft", "r = 3 (" + run_dir + "/peft/adapter_config.json)"}};
    for (const auto& [adapter, recorded] : adapters) {
      CAPTURE(adapter);
      // No method flag: the adapter's config gives lora, r 3, alpha 6, qvmlp, as peft's from_pretrained.
      const std::string eval_dir = dir / "eval";
      const Result eval = run(p, plus(p.tiny(dir.path), {"--adapter", adapter, "--eval-only", "--overwrite", "--out", eval_dir}));
      REQUIRE_MESSAGE(eval.code == 0, eval.err);
      const Json results = Json::parse(read_file(eval_dir + "/eval.json"));
      CHECK(results["config"]["method"].as_string() == "lora");
      CHECK(results["config"]["lora-r"].as_int() == 3);
      CHECK(results["config"]["lora-alpha"].as_number() == 6);
      CHECK(results["config"]["lora-targets"].as_string() == p.qvmlp_recorded);
      CHECK(results["test_accuracy"].as_number() == accuracy);
      // A flag that says otherwise is refused before any data is read, naming both values.
      const Result conflict = run(p, plus(p.missing_data(dir.path), {"--adapter", adapter, "--lora-r", "8", "--eval-only"}));
      CHECK(conflict.code == 2);
      CHECK(contains(conflict.err, "--lora-r 8 conflicts with the adapter's " + recorded));
      const Result method = run(p, plus(p.missing_data(dir.path), {"--adapter", adapter, "--method", "neat", "--eval-only"}));
      CHECK(method.code == 2);
      CHECK(contains(method.err, "--method neat conflicts with the adapter's method = lora"));
    }
  }
}

TEST_CASE("train_vit: a relative --data folder: is stored absolute, so the run resumes from elsewhere") {
  TempDir dir("relative");
  for (const char* cls : {"a", "b"})
    for (int i = 0; i < 6; ++i) {
      Image image(8, 8, 3);
      std::fill(image.pixels.begin(), image.pixels.end(), uint8_t(cls[0] == 'a' ? 20 + i : 230 - i));
      const std::string path = dir / ("images/" + std::string(cls) + "/" + std::to_string(i) + ".png");
      fs::create_directories(fs::path(path).parent_path());
      write_image(path, image);
    }
  const fs::path previous = fs::current_path();
  fs::current_path(dir.path);
  const Result part = train({"--data", "folder:images", "--model", "custom", "--dim", "16", "--depth", "1",
                             "--heads", "2", "--patch", "4", "--image-size", "8", "--batch-size", "4",
                             "--epochs", "2", "--threads", "1", "--quiet", "--max-steps", "1",
                             "--out", "run"});
  fs::current_path(previous);
  REQUIRE_MESSAGE(part.code == 0, part.err);
  const Json config = read_checkpoint_state(dir / "run/checkpoint.safetensors").config;
  CHECK(config["data"].as_string() == "folder:" + dir / "images");
  const Result resumed = train({"--resume", dir / "run", "--quiet"});
  CHECK_MESSAGE(resumed.code == 0, resumed.err);
}


TEST_CASE("train_text: --predict takes a file of texts, a merged run predicts alone, --tokenize prints tokens") {
  TempDir dir("text_predict");
  const std::vector<std::string> tiny = tiny_text(dir.path);
  const Result trained = run(kPrograms[1], plus(tiny, {"--method", "lora", "--max-steps", "2", "--merge",
                                                      "--out", dir / "run"}));
  REQUIRE_MESSAGE(trained.code == 0, trained.err);
  write_file_atomic(dir / "texts.txt", "a small dog that barks\n\na sweet dish of rice\n");
  const Result file = run(kPrograms[1], {"--resume", dir / "run", "--predict", dir / "texts.txt", "--quiet"});
  REQUIRE_MESSAGE(file.code == 0, file.err);
  CHECK(std::count(file.out.begin(), file.out.end(), '\n') == 2);
  CHECK(contains(file.out, "a sweet dish of rice: "));
  // The merged directory holds the tokenizer and the labels: a model of its own.
  const Result merged = run(kPrograms[1], {"--weights", dir / "run", "--max-len", "16", "--predict",
                                           "a small dog", "--quiet"});
  REQUIRE_MESSAGE(merged.code == 0, merged.err);
  CHECK(contains(merged.out, "a small dog: "));
  // It truncates as the run did: its tokenizer_config.json records --max-len (16), which
  // --predict on it takes (a text longer than the model's 40 positions predicts).
  CHECK(Json::parse(read_file(dir / "run/tokenizer_config.json"))["model_max_length"].as_int() == 16);
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "a small dog ";
  const Result truncated = run(kPrograms[1], {"--weights", dir / "run", "--predict", long_text, "--quiet"});
  CHECK_MESSAGE(truncated.code == 0, truncated.err);
  // The pretrained encoder alone has no classifier to predict with, and no classes.
  const Result base = run(kPrograms[1], {"--weights", dir / "model", "--predict", "a small dog"});
  CHECK(base.code == 1);
  CHECK_MESSAGE(contains(base.err, "--predict: no config.json naming the model's classes (id2label) in " +
                                       dir / "model/config.json; predict with a finished run"),
                base.err);
  // Classes named, but no file holds their classifier: refused, not random guesses.
  Json named = Json::parse(read_file(dir / "model/config.json"));
  named.set("id2label", Json::parse(R"({"0": "animal", "1": "food"})"));
  write_file_atomic(dir / "model/config.json", named.dump());
  const Result untrained = run(kPrograms[1], {"--weights", dir / "model", "--predict", "a small dog"});
  CHECK(untrained.code == 1);
  CHECK_MESSAGE(contains(untrained.err, "--predict: the classifier is untrained"), untrained.err);
  const Result tokens = run(kPrograms[1], {"--weights", dir / "model", "--tokenize", "A small dog"});
  REQUIRE_MESSAGE(tokens.code == 0, tokens.err);
  CHECK(tokens.out == "[CLS] 101\na 1037\nsmall 2235\ndog 3899\n[SEP] 102\n");
}

TEST_CASE("train_text: glue-stsb trains a regression (one output, MSE) scored by Pearson and Spearman") {
  TempDir dir("stsb");
  const std::vector<std::string> tiny = tiny_text(dir.path);
  // 40 pairs scored 0-5: a dog sentence pair scores high, a dog / rice pair low.
  std::string rows = "index\tsentence1\tsentence2\tscore\n";
  for (int i = 0; i < 40; ++i)
    rows += std::to_string(i) + "\ta small dog barks\t" + (i % 2 ? "a dog that barks" : "a dish of rice") +
            "\t" + (i % 2 ? "4.5" : "0.5") + "\n";
  make_directories(dir / "glue/STS-B");
  write_file_atomic(dir / "glue/STS-B/train.tsv", rows);
  write_file_atomic(dir / "glue/STS-B/dev.tsv", rows);
  std::vector<std::string> args = tiny;
  args.erase(args.begin(), args.begin() + 4);   // --task wordnet-nouns --data-dir DIR/wordnet
  args = plus(args, {"--task", "glue-stsb", "--data-dir", dir / "glue", "--eval-limit", "8", "--out",
                     dir / "run", "--merge"});
  const Result r = run(kPrograms[1], args);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "test pearson "));
  const Json results = Json::parse(read_file(dir / "run/results.json"));
  CHECK(contains(results["test_scores"].as_string(), "spearman"));
  CHECK(results["test_accuracy"].is_null());
  CHECK(Json::parse(read_file(dir / "run/config.json"))["problem_type"].as_string() == "regression");
  const Result predicted = run(kPrograms[1], {"--resume", dir / "run", "--predict", "a dog\ta dog", "--quiet"});
  REQUIRE_MESSAGE(predicted.code == 0, predicted.err);
  CHECK(contains(predicted.out, "a dog\ta dog: score "));
}

namespace {

// A program that runs out of memory while reading its data: the skeleton names the stage.
class OutOfMemoryProgram : public TrainingProgram {
 public:
  OutOfMemoryProgram() : args_("oom", "", "") {
    add_method_flags(args_, method_);
    add_run_flags(args_, train_, "X...");
  }
  std::string name() const override { return "oom"; }
  ArgParser& arguments() override { return args_; }
  MethodOptions& method() override { return method_; }
  TrainOptions& train() override { return train_; }
  void check_flags() override {}
  void check_files(std::ostream&) override {}
  std::string data_name() const override { return "huge"; }
  void build(Progress&, bool) override { throw std::bad_alloc(); }
  Module& model() override { throw std::logic_error("unused"); }
  Generator& dropout() override { throw std::logic_error("unused"); }
  const PeftConfig& peft() const override { return peft_; }
  const PeftReport& report() const override { return report_; }
  ClassifierBatches& train_batches() override { throw std::logic_error("unused"); }
  ClassifierBatches* val_batches() override { return nullptr; }
  TestResult test(Progress&) override { return {}; }
  void predict(const std::vector<std::string>&, std::ostream&) override {}
  void results_fields(Json&) const override {}
  std::vector<std::string> class_names() const override { return {}; }
  std::string rate_key() const override { return "x"; }
  void write_merged(const std::string&) override {}

 private:
  ArgParser args_;
  MethodOptions method_;
  TrainOptions train_;
  PeftConfig peft_;
  PeftReport report_;
};

}  // namespace

TEST_CASE("run skeleton: running out of memory names what the run was doing") {
  OutOfMemoryProgram program;
  std::ostringstream out, err;
  CHECK(run_training_program(program, {"--quiet"}, out, err) == 1);
  CHECK(err.str() == "oom: error: out of memory: while reading the data (huge) and building the model\n");
}
