// train_vit end to end, in-process (train_vit_main) on the synthetic dataset with a tiny ViT:
// it learns, writes every output file, resumes bit for bit, stops on Ctrl-C and on a
// non-finite loss, and reports bad flags and missing data as the issue asks.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "data/image.h"
#include "models/vit.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/skip.h"
#include "train/checkpoint.h"
#include "train/system.h"
#include "train/train_vit_app.h"
#include "tests/train_test_util.h"

using namespace neat;
using namespace neat_train_test;


TEST_CASE("train_vit: a short synthetic run learns and writes every output") {
  TempDir dir("e2e");
  const Result r = train(tiny({"--method", "full", "--epochs", "3", "--head-lr", "3e-3",
                               "--backbone-lr", "3e-3", "--merge", "--out", dir.path}));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("test accuracy") != std::string::npos);

  const Json results = Json::parse(read_file(dir / "results.json"));
  for (const char* key : {"test_accuracy", "best_val_accuracy", "val_accuracy", "trainable_params",
                          "total_params", "trainable_ratio", "wall_seconds", "images_per_second",
                          "peak_rss_bytes", "config"})
    CHECK_MESSAGE(results.contains(key), key);
  CHECK(results["test_accuracy"].as_number() > 0.3);   // chance is 0.1
  CHECK(results["test_accuracy"].as_number() <= 1.0);
  CHECK(results["val_accuracy"].size() == 3);
  CHECK(results["trainable_ratio"].as_number() == 1.0);
  CHECK(results["peak_rss_bytes"].as_int() > 0);
  CHECK(results["config"]["method"].as_string() == "full");
  CHECK(results["config"]["epochs"].as_int() == 3);

  // log.csv: a header and one row per optimizer step (3 epochs of 10), with a falling loss.
  std::istringstream csv(read_file(dir / "log.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line == "step,epoch,lr,loss,acc");
  std::vector<double> losses;
  while (std::getline(csv, line)) {
    std::vector<std::string> cells;
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() == 5);
    losses.push_back(std::stod(cells[3]));
  }
  REQUIRE(losses.size() == 30);
  const double first = (losses[0] + losses[1] + losses[2]) / 3;
  const double last = (losses[27] + losses[28] + losses[29]) / 3;
  CHECK(last < 0.8 * first);

  const std::string svg = read_file(dir / "curves.svg");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("polyline") != std::string::npos);
  CHECK(read_safetensors(dir / "adapter.safetensors").contains("classifier.weight"));
  CHECK(read_checkpoint_state(dir / "checkpoint.safetensors").step == 30);

  // The merged model is "a full model this program saved": --weights takes it, and evaluating
  // it gives the same test accuracy.
  TempDir eval("e2e_eval");
  const Result e = train(tiny({"--method", "head", "--eval-only", "--weights",
                               dir / "model.safetensors", "--out", eval.path}));
  INFO(e.err);
  REQUIRE(e.code == 0);
  CHECK(Json::parse(read_file(eval / "eval.json"))["test_accuracy"].as_number() ==
        results["test_accuracy"].as_number());
}

// Runs `run` whole, then stopped at step 3 and resumed; both must end with the same bytes.
static void check_resume_is_exact(const TempDir& dir, const std::vector<std::string>& run) {
  auto with_out = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = run;
    args.insert(args.end(), {"--out", out});
    args.insert(args.end(), extra.begin(), extra.end());
    return tiny(args);
  };
  REQUIRE(train(with_out(dir / "whole", {})).code == 0);
  const Result part = train(with_out(dir / "part", {"--max-steps", "3"}));
  REQUIRE(part.code == 0);
  CHECK(read_checkpoint_state(dir / "part/checkpoint.safetensors").step == 3);
  const Result resumed = train({"--resume", dir / "part", "--threads", "1", "--quiet"});
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(file_bytes(dir / "whole/adapter.safetensors") == file_bytes(dir / "part/adapter.safetensors"));
  CHECK(file_bytes(dir / "whole/log.csv") == file_bytes(dir / "part/log.csv"));
}

TEST_CASE("train_vit: a stopped and resumed run ends with the same weights, bit for bit") {
  TempDir dir("resume");
  // neat with grad-accum 2 (5 steps an epoch): stop mid-epoch 1 at step 3, then resume.
  check_resume_is_exact(dir, {"--method", "neat", "--epochs", "2", "--grad-accum", "2",
                              "--neat-act", "sin2pi", "--save-every", "2"});

  // A flag that would change the run is refused on --resume.
  const Result changed = train({"--resume", dir / "part", "--epochs", "5"});
  CHECK(changed.code == 2);
  CHECK(changed.err.find("--epochs 5 differs from the resumed run's 2") != std::string::npos);
}

TEST_CASE("train_vit: lora with dropout resumes bit for bit (its masks come from the model's stream)") {
  TempDir dir("resume_lora");
  check_resume_is_exact(dir, {"--method", "lora", "--epochs", "2", "--lora-dropout", "0.2",
                              "--save-every", "2"});
}

TEST_CASE("train_vit: SIGINT saves a checkpoint, exits 130, and the run resumes to the same end") {
  TempDir dir("sigint");
  const std::vector<std::string> run = {"--method", "lora", "--epochs", "1", "--head-lr", "1e-2"};
  auto with_out = [&](const std::string& out) {
    std::vector<std::string> args = run;
    args.insert(args.end(), {"--out", out});
    return tiny(args);
  };
  REQUIRE(train(with_out(dir / "whole")).code == 0);
  struct sigaction previous_int, previous_term;   // doctest's, restored afterwards
  ::sigaction(SIGINT, nullptr, &previous_int);
  ::sigaction(SIGTERM, nullptr, &previous_term);
  install_stop_handlers();
  std::raise(SIGINT);   // arrives before the first step: the loop stops after it
  const Result stopped = train(with_out(dir / "stopped"));
  clear_stop_signal();
  ::sigaction(SIGINT, &previous_int, nullptr);
  ::sigaction(SIGTERM, &previous_term, nullptr);
  CHECK(stopped.code == 128 + SIGINT);
  CHECK(stopped.err.find("interrupted (SIGINT) after step 1") != std::string::npos);
  CHECK(stopped.err.find("--resume " + dir / "stopped") != std::string::npos);
  CHECK(read_checkpoint_state(dir / "stopped/checkpoint.safetensors").step == 1);
  CHECK_FALSE(file_exists(dir / "stopped/results.json"));
  REQUIRE(train({"--resume", dir / "stopped", "--threads", "1", "--quiet"}).code == 0);
  CHECK(file_bytes(dir / "whole/adapter.safetensors") ==
        file_bytes(dir / "stopped/adapter.safetensors"));
}

TEST_CASE("train_vit: a non-finite loss stops the run naming the step, keeping the last checkpoint") {
  TempDir dir("nan");
  // lr 1e38 overflows float32 weights in the first update, so step 2's loss is NaN.
  const Result r = train(tiny({"--method", "full", "--head-lr", "1e38", "--backbone-lr", "1e38",
                               "--warmup-ratio", "0", "--save-every", "1", "--out", dir.path}));
  CHECK(r.code == 1);
  CHECK(r.err.find("loss is NaN at step 2 (epoch 1)") != std::string::npos);
  CHECK(r.err.find("the last good checkpoint (step 1) is kept") != std::string::npos);
  CHECK(read_checkpoint_state(dir / "checkpoint.safetensors").step == 1);
  // The run still ends with its results (non-finite figures as null) and its adapter.
  const Json results = Json::parse(read_file(dir / "results.json"));
  CHECK(results["error"].as_string().find("loss is NaN at step 2") != std::string::npos);
  CHECK(results["test_loss"].is_null());
  CHECK(file_exists(dir / "adapter.safetensors"));
}

TEST_CASE("train_vit: bad flags print the reason and the usage line, exit 2") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--no-such-flag"}, "unknown flag --no-such-flag"},
      {{"--epochs", "three"}, "--epochs: 'three' is not an integer"},
      {{"--method", "houlsby"}, "--method: 'houlsby' is not one of neat, lora, dora, pissa, milora"},
      {{"--epochs"}, "--epochs needs a value"},
      {{"--epochs", "0"}, "--epochs must be at least 1"},
      {{"--data", "mnist"}, "--data: 'mnist' is not one of"},
      {{"--neat-depth", "3"}, "--neat-depth must be even"},
      {{"--model", "vit-base", "--dim", "64", "--data", "synthetic"}, "--dim needs --model custom"},
      {{"--eval-only"}, "--eval-only needs --weights"},
      {{"--channels", "2"}, "--channels must be 1 or 3 (0 = the data's), got 2"},
      {{"--classes", "9-3"}, "--classes: empty range '9-3' in '9-3'"},
      {{"--threads", "100000"}, "--threads must be in [0, 1024], got 100000"},
      {{"--data", "synthetic", "--model", "custom", "--image-size", "-8"},
       "--image-size must be >= 0 (0 = the default), got -8"},
  };
  for (const auto& [args, reason] : cases) {
    CAPTURE(reason);
    const Result r = train(args);
    CHECK(r.code == 2);
    CHECK(r.err.find(reason) != std::string::npos);
    CHECK(r.err.find("usage: train_vit") != std::string::npos);
    CHECK(r.out.empty());
  }
  const Result help = train({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--neat-rank R") != std::string::npos);
  CHECK(help.out.find("(default: 8)") != std::string::npos);
}

TEST_CASE("train_vit: missing data says where it looked and how to fetch it, on one line") {
  TempDir dir("missing");
  const Result r = train({"--data", "cifar10", "--data-dir", dir / "nothing", "--quiet"});
  CHECK(r.code == 1);
  CHECK(r.err.find(dir / "nothing") != std::string::npos);
  CHECK(r.err.find("scripts/get_data.sh cifar10") != std::string::npos);
  CHECK(r.err.find('\n') == r.err.size() - 1);
  const Result w = train(tiny({"--weights", dir / "absent.safetensors", "--out", dir / "w"}));
  CHECK(w.code == 1);
  CHECK(w.err.find("absent.safetensors") != std::string::npos);
}

TEST_CASE("train_vit: random init with an adapter method warns once; full does not") {
  TempDir dir("warn");
  const Result neat = train(tiny({"--method", "neat", "--max-steps", "1", "--out", dir / "a"}));
  REQUIRE(neat.code == 0);
  CHECK(neat.err.find("warning: --method neat on a randomly initialised backbone") !=
        std::string::npos);
  const Result full = train(tiny({"--method", "full", "--max-steps", "1", "--out", dir / "b"}));
  REQUIRE(full.code == 0);
  CHECK(full.err.find("warning") == std::string::npos);
}

TEST_CASE("the built ./train_vit binary exits 2 on a bad flag") {
  if (!file_exists("./train_vit"))
    return neat::test::skip("./train_vit is not built in the current directory (make builds it)");
  const int status = std::system("./train_vit --no-such-flag 2>/dev/null");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
}

TEST_CASE("train_vit: a damaged checkpoint's state is an error naming the file") {
  TempDir dir("bad_state");
  REQUIRE(train(tiny({"--method", "head", "--max-steps", "1", "--out", dir / "run"})).code == 0);
  const std::string path = dir / "run/checkpoint.safetensors";
  SafetensorsFile file = read_safetensors(path);
  Json state = Json::parse(file.metadata.at("state"));
  // A checkpoint written before "dropout_rng" was dropped still resumes (the field is ignored).
  state.set("dropout_rng", "12345678901234567890");
  file.metadata["state"] = state.dump();
  write_safetensors(path, file.tensors, file.metadata);
  CHECK(train({"--resume", dir / "run", "--eval-only", "--quiet"}).code == 0);
  state.set("step", "abc");
  file.metadata["state"] = state.dump();
  write_safetensors(path, file.tensors, file.metadata);
  const Result r = train({"--resume", dir / "run"});
  CHECK(r.code == 1);
  CHECK(r.err.find("checkpoint " + path + ": bad 'state' metadata: json: expected a number, got "
                   "a string") != std::string::npos);
  file.metadata["state"] = "{\"step\": 3";
  write_safetensors(path, file.tensors, file.metadata);
  CHECK(train({"--resume", dir / "run"}).err.find("checkpoint " + path + ": bad 'state' metadata: json:") !=
        std::string::npos);
}

TEST_CASE("train_vit: one class, or an empty test split, is an error before training") {
  TempDir dir("degenerate");
  const Result one = train(tiny({"--num-classes", "1", "--out", dir / "one"}));
  CHECK(one.code == 1);
  CHECK(one.err.find("1 class; classification needs at least 2") != std::string::npos);
  // 2 classes of 2 images and no test/ folder: 10% of 4 held out rounds to none.
  for (const char* path : {"a/0.png", "a/1.png", "b/0.png", "b/1.png"}) {
    const std::string file = dir / (std::string("images/") + path);
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    write_image(file, Image(8, 8, 3));
  }
  const Result empty = train({"--data", "folder:" + (dir / "images"), "--model", "custom", "--dim",
                              "16", "--depth", "1", "--heads", "2", "--image-size", "8",
                              "--threads", "1", "--quiet", "--out", dir / "empty"});
  CHECK(empty.code == 1);
  CHECK(empty.err.find("test 0 (= val: no test/ folder): an empty test split") != std::string::npos);
  CHECK_FALSE(file_exists(dir / "empty/results.json"));
}
