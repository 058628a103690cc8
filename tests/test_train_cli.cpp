// train_vit tells the truth (issue 16, items 9-12): flags that do not apply are warnings, ranks
// are checked against the model, cheap checks come before the data, a wrong or damaged weights
// file is one line a user can act on, and Ctrl-C stops an evaluation.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include "data/image.h"
#include "data/load_dataset.h"
#include "models/vit.h"
#include "tensor/random.h"
#include "tensor/safetensors.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "tests/train_test_util.h"
#include "tests/skip.h"

using namespace neat;
using namespace neat_train_test;
namespace fs = std::filesystem;

namespace {

// A full model saved by a tiny run with --merge (the 32-wide, 2-layer ViT of tiny()).
std::string merged_model(const TempDir& dir) {
  const Result r = train(tiny({"--method", "full", "--max-steps", "1", "--merge", "--out", dir / "base"}));
  REQUIRE(r.code == 0);
  return dir / "base/model.safetensors";
}

}  // namespace

TEST_CASE("train_vit: flags the method ignores are warnings; a rank above the width is an error") {
  TempDir dir("ignored");
  const Result lora = train(tiny({"--method", "lora", "--neat-rank", "4", "--new-head",
                                  "--max-steps", "1", "--out", dir / "a"}));
  REQUIRE(lora.code == 0);   // --quiet is on: warnings still show
  CHECK(contains(lora.err, "warning: --neat-rank does not apply to --method lora (ignored)"));
  CHECK(contains(lora.err, "warning: --new-head does nothing without --weights"));
  const Result head = train(tiny({"--method", "head", "--lora-alpha", "4", "--max-steps", "1", "--out", dir / "b"}));
  CHECK(contains(head.err, "warning: --lora-alpha does not apply to --method head"));

  const Result rank = train(tiny({"--method", "neat", "--neat-rank", "64", "--out", dir / "c"}));
  CHECK(rank.code == 2);
  CHECK(contains(rank.err, "--neat-rank 64 is larger than the adapted layers' width 32"));
  CHECK(train(tiny({"--method", "lora", "--lora-r", "33", "--out", dir / "d"})).code == 2);
  CHECK(train(tiny({"--method", "lora", "--lora-r", "32", "--max-steps", "1", "--out", dir / "e"})).code == 0);
}

TEST_CASE("train_vit: cheap checks come before the data is read") {
  TempDir dir("cheap");
  // cifar10 is not in dir/none: each of these must fail on its own check, not on the data.
  const std::vector<std::string> missing_data = {"--data", "cifar10", "--data-dir", dir / "none"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = missing_data;
    args.insert(args.end(), extra.begin(), extra.end());
    return train(args);
  };
  const Result dim = with({"--model", "vit-tiny", "--dim", "64"});
  CHECK(dim.code == 2);
  CHECK(contains(dim.err, "--dim needs --model custom"));
  const Result adapter = with({"--adapter", dir / "missing.safetensors"});
  CHECK(adapter.code == 1);
  CHECK(contains(adapter.err, "--adapter " + dir / "missing.safetensors" + ": no such file"));
  const Result weights = with({"--weights", dir / "missing.safetensors"});
  CHECK(contains(weights.err, "--weights " + dir / "missing.safetensors" + ": no such file"));
  const Result folder = with({"--weights", dir.path});
  CHECK(contains(folder.err, "is a folder without model.safetensors"));

  const Result unused = train(tiny({"--data-dir", dir / "none", "--max-steps", "1", "--out", dir / "run"}));
  CHECK(unused.code == 0);
  CHECK(contains(unused.err, "warning: --data-dir " + dir / "none" + " does not exist (--data synthetic does not read it)"));
}

TEST_CASE("train_vit: --augment auto is the flip, at native size and resized") {
  TempDir dir("augment");
  // 8x8 images in a folder, a 16-pixel model: resized, where auto used to mean RandomResizedCrop.
  for (const char* cls : {"a", "b"})
    for (int i = 0; i < 6; ++i) {
      Image image(8, 8, 3);
      Generator gen(uint64_t(i * 7 + cls[0]));
      for (uint8_t& v : image.pixels) v = uint8_t(gen.below(256));
      const std::string path = dir / ("images/" + std::string(cls) + "/" + std::to_string(i) + ".png");
      fs::create_directories(fs::path(path).parent_path());
      write_image(path, image);
    }
  auto run = [&](const std::string& augment) {
    const std::string out = dir / augment;
    const Result r = train({"--data", "folder:" + (dir / "images"), "--model", "custom", "--dim", "16",
                            "--depth", "1", "--heads", "2", "--image-size", "16", "--patch", "4",
                            "--batch-size", "4", "--epochs", "2", "--threads", "1", "--quiet",
                            "--augment", augment, "--out", out});
    REQUIRE(r.code == 0);
    return read_file(out + "/adapter.safetensors");
  };
  const std::string flip = run("flip");
  CHECK(run("auto") == flip);
  CHECK(run("crop-flip") != flip);
  CHECK(run("none") != flip);
  const Result help = train({"--help"});
  CHECK(contains(help.out, "auto = flip"));
}

TEST_CASE("train_vit: a wrong or damaged --weights file is one line to act on") {
  TempDir dir("weights");
  const std::string model = merged_model(dir);

  // A Hugging Face snapshot folder: its model.safetensors is loaded.
  fs::create_directories(dir / "snapshot");
  fs::copy_file(model, dir / "snapshot/model.safetensors");
  const Result snapshot = train(tiny({"--method", "head", "--eval-only", "--weights", dir / "snapshot",
                                      "--out", dir / "eval"}));
  INFO(snapshot.err);
  CHECK(snapshot.code == 0);

  // Another --model: the flags that match the file, in one line.
  const Result shape = train(tiny({"--method", "head", "--eval-only", "--weights", model, "--depth", "1",
                                   "--out", dir / "shape"}));
  CHECK(shape.code == 1);
  CHECK(contains(shape.err, "holds a ViT of hidden 32, 2 layers, MLP 128, patch 4, 16 px but this "
                            "run builds"));
  CHECK(contains(shape.err, "run with --model custom --dim 32 --depth 2 --mlp-dim 128 --patch 4 --heads"));
  CHECK(shape.err.find('\n') == shape.err.size() - 1);

  // A NaN in a tensor: named, instead of a failure to write results.json later.
  SafetensorsFile file = read_safetensors(model);
  for (auto& [name, t] : file.tensors)
    if (name == "vit.encoder.layer.1.output.dense.weight") t.data<float>()[5] = std::nanf("");
  write_safetensors(dir / "nan.safetensors", file.tensors, file.metadata);
  const Result nan = train(tiny({"--method", "head", "--eval-only", "--weights", dir / "nan.safetensors",
                                 "--out", dir / "nan"}));
  CHECK(nan.code == 1);
  CHECK(contains(nan.err, "nan.safetensors: tensor 'vit.encoder.layer.1.output.dense.weight' holds 1 "
                          "NaN or Inf value"));

  // The classifier notice is a warning, shown with --quiet.
  const Result classes = train(tiny({"--method", "head", "--eval-only", "--weights", model,
                                     "--num-classes", "12", "--out", dir / "classes"}));
  CHECK(classes.code == 0);
  CHECK(contains(classes.err, "warning: the classifier in"));
  CHECK(contains(classes.err, "keeps its initialisation"));
}

TEST_CASE("evaluate: a stop signal ends it after the batch in progress, marked interrupted") {
  DataSpec spec;
  spec.synthetic.n_test = 64;
  spec.synthetic.image_size = 8;
  const DataSplits splits = load_dataset(spec);
  TransformConfig tc;
  tc.native_resolution = true;
  LoaderConfig lc;
  lc.batch_size = 8;
  lc.shuffle = false;
  DataLoader loader(splits.test, Transform(tc, false), lc);
  ViTConfig c;
  c.image_size = 8, c.patch_size = 4, c.hidden = 8, c.depth = 1, c.heads = 2, c.mlp_dim = 16;
  c.num_classes = 10;
  ViTForImageClassification model(c);
  std::vector<int64_t> seen;
  const EvalResult whole = evaluate(model, loader, [&](int64_t done, int64_t) { seen.push_back(done); });
  CHECK_FALSE(whole.interrupted);
  CHECK(whole.count == 64);
  CHECK(seen == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});

  struct sigaction previous;
  ::sigaction(SIGINT, nullptr, &previous);
  install_stop_handlers();
  const EvalResult cut = evaluate(model, loader, [&](int64_t done, int64_t) {
    if (done == 2) std::raise(SIGINT);
  });
  clear_stop_signal();
  ::sigaction(SIGINT, &previous, nullptr);
  CHECK(cut.interrupted);
  CHECK(cut.count == 16);
}

TEST_CASE("the built ./train_vit killed with SIGKILL leaves logs as long as its checkpoint") {
  if (!file_exists("./train_vit")) {
    return neat::test::skip("./train_vit is not built in the current directory (make builds it)");
  }
  TempDir dir("kill9");
  const std::string out = dir / "run";
  std::vector<std::string> args = tiny({"--method", "neat", "--epochs", "100", "--save-every", "2",
                                        "--out", out});
  args.insert(args.begin(), "./train_vit");
  const pid_t child = ::fork();
  if (child == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("./train_vit", argv.data());
    ::_exit(127);
  }
  REQUIRE(child > 0);
  // Wait for the checkpoint at step 4 (two saves), then kill -9.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int64_t step = 0;
  while (step < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
      if (file_exists(out + "/checkpoint.safetensors"))
        step = read_checkpoint_state(out + "/checkpoint.safetensors").step;
    } catch (const std::exception&) {
    }
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  REQUIRE(step >= 4);
  step = read_checkpoint_state(out + "/checkpoint.safetensors").step;
  const std::string csv = read_file(out + "/log.csv");
  const int64_t rows = int64_t(std::count(csv.begin(), csv.end(), '\n')) - 1;
  CHECK(rows >= step);   // written with the checkpoint, maybe one save later than we read it
  CHECK(file_exists(out + "/curves.svg"));
  const Result resumed = train({"--resume", out, "--max-steps", std::to_string(step + 1), "--quiet"});
  CHECK(resumed.code == 0);
}

TEST_CASE("train_vit --predict prints each image's top classes by name; names are kept in the files") {
  TempDir dir("predict");
  // Two classes of 8x8 images: "dark" (all 20) and "light" (all 235), easy to tell apart.
  for (const char* cls : {"dark", "light"})
    for (int i = 0; i < 8; ++i) {
      Image image(8, 8, 3);
      std::fill(image.pixels.begin(), image.pixels.end(), uint8_t(cls[0] == 'd' ? 20 + i : 235 - i));
      const std::string path = dir / ("images/" + std::string(cls) + "/" + std::to_string(i) + ".png");
      fs::create_directories(fs::path(path).parent_path());
      write_image(path, image);
    }
  const std::vector<std::string> data = {"--data", "folder:" + (dir / "images"), "--model", "custom",
                                         "--dim", "16", "--depth", "1", "--heads", "2", "--patch", "4",
                                         "--image-size", "8", "--batch-size", "4", "--threads", "1",
                                         "--quiet"};
  std::vector<std::string> run = data;
  run.insert(run.end(), {"--method", "full", "--epochs", "5", "--head-lr", "1e-2", "--merge", "--out", dir / "run"});
  REQUIRE(train(run).code == 0);
  const Json names = Json::parse(read_file(dir / "run/results.json"))["class_names"];
  CHECK(names.dump() == R"(["dark","light"])");
  CHECK(read_safetensors(dir / "run/adapter.safetensors").metadata.at("class_names") == names.dump());
  CHECK(read_safetensors(dir / "run/model.safetensors").metadata.at("class_names") == names.dump());

  const Result p = train({"--resume", dir / "run", "--predict", dir / "images/dark/3.png",
                          dir / "images/light/5.png", "--quiet"});
  INFO(p.err);
  REQUIRE(p.code == 0);
  CHECK(contains(p.out, dir / "images/dark/3.png: dark 0."));
  CHECK(contains(p.out, dir / "images/light/5.png: light 0."));
  CHECK(contains(p.out, ", light 0."));   // the runner-up, by name
  CHECK_FALSE(file_exists(dir / "run/eval.json"));

  // Another size is resized and center-cropped (issue 25: an internal shape error), a directory
  // is walked (it said "out of memory"), and the names come from the run's files, not --data.
  Image wide(12, 20, 3);
  std::fill(wide.pixels.begin(), wide.pixels.end(), uint8_t(22));
  write_image(dir / "wide.png", wide);
  const Result resized = train({"--resume", dir / "run", "--predict", dir / "wide.png", "--quiet"});
  INFO(resized.err);
  CHECK(resized.code == 0);
  CHECK(contains(resized.out, dir / "wide.png: dark 0."));
  const Result walked = train({"--resume", dir / "run", "--predict", dir / "images/light", "--quiet"});
  CHECK(walked.code == 0);
  CHECK(std::count(walked.out.begin(), walked.out.end(), '\n') == 8);
  CHECK(contains(walked.out, dir / "images/light/7.png: light 0."));
  Json config = Json::parse(read_file(dir / "run/config.json"));
  config.set("id2label", Json::parse(R"({"0": "black", "1": "white"})"));
  write_file_atomic(dir / "run/config.json", config.dump());
  CHECK(contains(train({"--resume", dir / "run", "--predict", dir / "wide.png", "--quiet"}).out,
                 "wide.png: black 0."));
  // A classifier no file trained is refused: its predictions would be random.
  std::vector<std::string> untrained = data;
  untrained.insert(untrained.end(), {"--weights", dir / "run/model.safetensors", "--new-head",
                                     "--predict", dir / "wide.png"});
  const Result random = train(untrained);
  CHECK(random.code == 1);
  CHECK(contains(random.err, "--predict: the classifier is untrained"));

  const Result none = train({"--predict"});
  CHECK(none.code == 2);
  CHECK(contains(none.err, "--predict needs at least one value"));
  CHECK(contains(train({"--predict", "x.png"}).err, "--predict needs --weights, --adapter or --resume"));
}

TEST_CASE("train_vit: attention larger than the machine's memory is an error saying why, up front") {
  TempDir dir("memory");
  // 512 px in 1-pixel patches: 262145 tokens, a 2-head attention matrix of ~1 TiB per layer.
  const Result r = train({"--data", "synthetic", "--model", "custom", "--dim", "8", "--depth", "1",
                          "--heads", "2", "--image-size", "512", "--patch", "1", "--batch-size", "2",
                          "--train-limit", "4", "--threads", "1", "--quiet", "--out", dir / "run"});
  CHECK(r.code == 1);
  CHECK(contains(r.err, "not enough memory: the model sees 262145 tokens per image (512 px / patch 1 = "
                        "512x512 patches + 1)"));
  CHECK(contains(r.err, "Lower --batch-size or --image-size, or raise --patch"));
  CHECK_FALSE(file_exists(dir / "run/checkpoint.safetensors"));
}

TEST_CASE("Progress: evaluation progress and warnings (shown even with --quiet)") {
  std::ostringstream lines;
  Progress log(lines, /*terminal=*/false, /*quiet=*/false, /*log_every=*/2);
  for (int64_t done = 0; done <= 5; ++done) log.eval("test", done, 5);
  CHECK(lines.str() == "test 0/5 batches\ntest 2/5 batches\ntest 4/5 batches\ntest 5/5 batches\n");
  std::ostringstream quiet;
  Progress silent(quiet, /*terminal=*/true, /*quiet=*/true, 1);
  silent.eval("val", 1, 3);
  silent.line("not shown");
  silent.warning("shown");
  CHECK(quiet.str() == "warning: shown\n");
}
