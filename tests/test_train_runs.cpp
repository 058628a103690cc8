// A run's results are never lost or mixed up (issue 16, items 1-7): run directories are unique
// and locked, bad images are found before training, a failed checkpoint does not cost the
// results, evaluation has its own file, killed runs' temporary files are cleaned, --train-limit
// takes a balanced random subset, and --resume keeps the run's threads and workers.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <chrono>
#include <csignal>
#include <signal.h>
#include <filesystem>

#include "data/dataset.h"
#include "data/image.h"
#include "tensor/json.h"
#include "tensor/random.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"
#include "tests/train_test_util.h"

using namespace neat;
using namespace neat_train_test;
namespace fs = std::filesystem;

namespace {

// A pid that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

// An 8x8 RGB PNG of noise at path.
void write_noise_png(const std::string& path, uint64_t seed) {
  fs::create_directories(fs::path(path).parent_path());
  Image image(8, 8, 3);
  Generator gen(seed);
  for (uint8_t& v : image.pixels) v = uint8_t(gen.below(256));
  write_image(path, image);
}

// root/{train,val}/{a,b}/<n>.png: a tiny two-class image folder.
void write_folder(const std::string& root, int per_class) {
  for (const char* split : {"train", "val"})
    for (const char* cls : {"a", "b"})
      for (int i = 0; i < per_class; ++i)
        write_noise_png(root + "/" + split + "/" + cls + "/" + std::to_string(i) + ".png",
                        uint64_t(i * 31 + cls[0]));
}

std::vector<std::string> folder_run(const std::string& root, const std::string& out) {
  return {"--data", "folder:" + root, "--model", "custom", "--dim", "16", "--depth", "1",
          "--heads", "2", "--image-size", "8", "--patch", "4", "--batch-size", "4",
          "--epochs", "1", "--threads", "1", "--quiet", "--out", out};
}

}  // namespace

TEST_CASE("run directories: a new name per run, and a lock while one writes it") {
  TempDir dir("unique");
  const std::string base = dir / "runs/neat-cifar10-20240131-142501";
  CHECK(create_unique_directory(base) == base);
  CHECK(create_unique_directory(base) == base + "-2");
  CHECK(create_unique_directory(base) == base + "-3");

  RunLock lock(base);
  const std::string held = "is in use by another run (pid " + std::to_string(::getpid());
  CHECK_THROWS_WITH_AS(RunLock{base}, doctest::Contains(held.c_str()), std::runtime_error);
  // A run given that directory while it is locked stops before writing anything.
  const Result r = train(tiny({"--out", base}));
  CHECK(r.code == 1);
  CHECK(contains(r.err, base + " is in use by another run"));
  CHECK(run_files_in(base).empty());
}

TEST_CASE("train_vit: two runs without --out in the same second get their own directories") {
  TempDir dir("default_out");
  const fs::path previous = fs::current_path();
  fs::current_path(dir.path);
  const Result a = train(tiny({"--method", "head", "--max-steps", "1"}));
  const Result b = train(tiny({"--method", "head", "--max-steps", "1"}));
  fs::current_path(previous);
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  std::vector<std::string> runs;
  for (const auto& entry : fs::directory_iterator(dir / "runs")) runs.push_back(entry.path().string());
  REQUIRE(runs.size() == 2);
  for (const std::string& run : runs) CHECK(file_exists(run + "/results.json"));
}

TEST_CASE("train_vit: an --out holding another run is refused unless --overwrite or --resume") {
  TempDir dir("taken");
  REQUIRE(train(tiny({"--method", "head", "--max-steps", "1", "--merge", "--out", dir / "run"})).code == 0);
  const Result again = train(tiny({"--method", "head", "--max-steps", "1", "--out", dir / "run"}));
  CHECK(again.code == 2);
  CHECK(contains(again.err, "--out " + dir / "run" + " already holds a train_vit run (results.json"));
  CHECK(contains(again.err, "--resume " + dir / "run"));
  CHECK(contains(again.err, "usage: train_vit"));

  // --overwrite replaces it: the old run's files are gone (this run writes no merged model).
  const Result over = train(tiny({"--method", "head", "--max-steps", "2", "--overwrite", "--out", dir / "run"}));
  REQUIRE(over.code == 0);
  CHECK_FALSE(file_exists(dir / "run/model.safetensors"));
  CHECK(Json::parse(read_file(dir / "run/results.json"))["steps"].as_int() == 2);

  write_file_atomic(dir / "file", "x");
  const Result file = train(tiny({"--out", dir / "file"}));
  CHECK(file.code == 2);
  CHECK(contains(file.err, "--out " + dir / "file" + " is a file, not a directory"));
}

TEST_CASE("train_vit: a bad image in val/ is an error before training, naming the file") {
  TempDir dir("bad_val");
  write_folder(dir / "images", 4);
  write_file_atomic(dir / "images/val/b/broken.png", "this is not a PNG");
  const Result r = train(folder_run(dir / "images", dir / "run"));
  CHECK(r.code == 1);
  CHECK(contains(r.err, "1 of 9 files are not readable images"));
  CHECK(contains(r.err, "val/b/broken.png"));
  CHECK_FALSE(file_exists(dir / "run/checkpoint.safetensors"));   // no training happened
}

TEST_CASE("train_vit: an image that fails to decode mid-run leaves a checkpoint and logs") {
  TempDir dir("truncated_val");
  write_folder(dir / "images", 4);
  // A PNG whose header is whole but whose pixel data is cut: found only when decoded.
  const std::string png = read_file(dir / "images/val/a/0.png");
  write_file_atomic(dir / "images/val/a/0.png", png.substr(0, 45));
  const Result r = train(folder_run(dir / "images", dir / "run"));
  CHECK(r.code == 1);
  CHECK(contains(r.err, "val/a/0.png"));
  CHECK(contains(r.err, "a truncated or corrupt PNG file"));
  CHECK(contains(r.err, "continue with: train_vit --resume " + dir / "run"));
  CHECK(read_checkpoint_state(dir / "run/checkpoint.safetensors").step == 2);   // 8 images / 4
  CHECK(file_exists(dir / "run/log.csv"));
}

TEST_CASE("train_vit: a checkpoint that cannot be written is a warning; the results are kept") {
  TempDir dir("no_space");
  // A directory where the checkpoint's temporary file goes makes its write fail, as a full disk.
  const std::string blocker = dir / ("run/checkpoint.safetensors.tmp." + std::to_string(::getpid()));
  fs::create_directories(blocker + "/inside");
  const Result r = train(tiny({"--method", "neat", "--max-steps", "2", "--out", dir / "run"}));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(contains(r.err, "warning: could not write the checkpoint " + dir / "run/checkpoint.safetensors"));
  CHECK(contains(r.err, "MB)"));
  CHECK(file_exists(dir / "run/results.json"));
  CHECK(file_exists(dir / "run/adapter.safetensors"));
  CHECK(file_exists(dir / "run/log.csv"));
  CHECK(contains(r.out, "test accuracy"));
}

TEST_CASE("train_vit: --resume --eval-only writes eval.json and leaves results.json alone") {
  TempDir dir("eval_only");
  REQUIRE(train(tiny({"--method", "lora", "--max-steps", "2", "--out", dir / "run"})).code == 0);
  const std::string results = read_file(dir / "run/results.json");
  const std::string adapter = read_file(dir / "run/adapter.safetensors");
  const Result e = train({"--resume", dir / "run", "--eval-only", "--quiet"});
  REQUIRE(e.code == 0);
  CHECK(read_file(dir / "run/results.json") == results);
  CHECK(read_file(dir / "run/adapter.safetensors") == adapter);
  const Json eval = Json::parse(read_file(dir / "run/eval.json"));
  CHECK(eval["test_accuracy"].as_number() ==
        Json::parse(results)["test_accuracy"].as_number());
}

TEST_CASE("train_vit: temporary files of killed runs are removed on start and on resume") {
  TempDir dir("stale");
  REQUIRE(train(tiny({"--method", "head", "--max-steps", "1", "--out", dir / "run"})).code == 0);
  const std::string stale = dir / ("run/checkpoint.safetensors.tmp." + std::to_string(dead_pid()));
  const std::string live = dir / ("run/log.csv.tmp." + std::to_string(::getppid()));
  write_file_atomic(stale, "half a checkpoint");
  write_file_atomic(live, "another live process's write");
  REQUIRE(train({"--resume", dir / "run", "--quiet"}).code == 0);
  CHECK_FALSE(file_exists(stale));
  CHECK(file_exists(live));
  CHECK(remove_stale_temp_files(dir / "run") == 0);
}

TEST_CASE("balanced_subset: seeded, class-balanced, the same for any dataset order") {
  // 3 classes stored class by class (as an image folder lists them): 10, 10 and 4 samples.
  std::vector<int64_t> labels;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < (c == 2 ? 4 : 10); ++i) labels.push_back(c);
  const ArrayDataset data(ImageShape{1, 1, 1}, std::vector<uint8_t>(labels.size()), labels,
                          {"a", "b", "c"});
  auto counts = [&](const std::vector<int64_t>& indices) {
    std::vector<int> per_class(3);
    for (int64_t i : indices) ++per_class[size_t(labels[size_t(i)])];
    return per_class;
  };
  const std::vector<int64_t> nine = balanced_subset(data, 9, 7);
  CHECK(counts(nine) == std::vector<int>{3, 3, 3});
  CHECK(std::is_sorted(nine.begin(), nine.end()));
  CHECK(balanced_subset(data, 9, 7) == nine);
  CHECK(balanced_subset(data, 9, 8) != nine);
  // Class c has only 4: the others share its missing turns.
  CHECK(counts(balanced_subset(data, 20, 7)) == std::vector<int>{8, 8, 4});
  CHECK(balanced_subset(data, 100, 7).size() == labels.size());
}

TEST_CASE("train_vit: the run's size, then a measured estimate; over an hour on the CPU, a warning") {
  // 10^9 epochs of 10 steps: the estimate after the first 3 steps is over an hour unless a step
  // took under 0.4 us (this model's take a fraction of a millisecond). A SIGINT once the
  // checkpoint of step 4 exists (the estimate is printed by then) stops it.
  TempDir dir("estimate");
  struct sigaction previous_int;   // doctest's, restored afterwards
  ::sigaction(SIGINT, nullptr, &previous_int);
  install_stop_handlers();
  std::thread stopper([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!file_exists(dir / "long/checkpoint.safetensors") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ::kill(::getpid(), SIGINT);
  });
  const Result long_run = train(tiny({"--method", "head", "--epochs", "1000000000", "--save-every", "4",
                                      "--out", dir / "long"}));
  stopper.join();
  clear_stop_signal();
  ::sigaction(SIGINT, &previous_int, nullptr);
  REQUIRE(long_run.code == 128 + SIGINT);
  const std::string all = long_run.out + long_run.err;
  CAPTURE(all);
  CHECK(contains(all, "this run takes about"));   // a warning: shown even with --quiet
  CHECK(contains(all, "--weights"));
  CHECK(contains(all, "--device cuda"));
  // --max-steps: the estimate is for the steps this invocation runs, no warning (issue 25).
  const Result capped = train(tiny({"--method", "head", "--epochs", "1000000000", "--max-steps", "4",
                                    "--out", dir / "capped"}));
  REQUIRE(capped.code == 0);
  CHECK_FALSE(contains(capped.err, "this run takes about"));
  // Without --quiet the size line and the estimate itself are printed; a short run has no warning.
  const Result short_run = train({"--data", "synthetic", "--model", "custom", "--dim", "32", "--depth", "2",
                                  "--heads", "2", "--image-size", "16", "--patch", "4", "--batch-size", "32",
                                  "--train-limit", "320", "--threads", "1", "--method", "head", "--epochs", "1",
                                  "--out", dir / "short"});
  REQUIRE(short_run.code == 0);
  const std::string text = short_run.out + short_run.err;
  CAPTURE(text);
  CHECK(contains(text, "training: 320 samples x 1 epochs = 10 steps"));
  CHECK(contains(text, "estimate: "));
  CHECK(contains(text, "samples/s over the first 3 steps"));
  CHECK_FALSE(contains(text, "this run takes about"));
}

TEST_CASE("train_vit: --resume keeps the run's --threads and --workers unless given again") {
  TempDir dir("resume_threads");
  REQUIRE(train(tiny({"--method", "head", "--max-steps", "1", "--workers", "0", "--out", dir / "run"})).code == 0);
  REQUIRE(train({"--resume", dir / "run", "--quiet"}).code == 0);
  Json config = Json::parse(read_file(dir / "run/results.json"))["config"];
  CHECK(config["threads"].as_int() == 1);
  CHECK(config["workers"].as_int() == 0);
  CHECK(config["resume"].as_string() == dir / "run");
  CHECK(config["max-steps"].as_int() == 0);   // this invocation's, not the saved 1
}
