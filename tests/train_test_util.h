// Helpers of the train_vit tests: run the program in-process, a private directory per test,
// and the tiny model + synthetic data every run uses (each run takes well under a second).
#pragma once
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "train/system.h"
#include "train/train_vit_app.h"

namespace neat_train_test {

using namespace neat;

struct Result {
  int code = -1;
  std::string out, err;
};

inline Result train(std::vector<std::string> args) {
  std::ostringstream out, err;
  Result r;
  r.code = train_vit_main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// A fresh directory for one test's runs, removed when the test ends.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& name)
      : path("/tmp/neat_test_train_" + std::to_string(::getpid()) + "_" + name) {
    std::filesystem::remove_all(path);
    make_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& file) const { return path + "/" + file; }
};

// A 2-layer ViT of width 32 on 16x16 synthetic images (10 classes), one thread, quiet.
inline std::vector<std::string> tiny(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--data", "synthetic", "--model", "custom", "--dim", "32",
                                   "--depth", "2", "--heads", "2", "--image-size", "16",
                                   "--patch", "4", "--batch-size", "32", "--train-limit", "320",
                                   "--threads", "1", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::string file_bytes(const std::string& path) { return read_file(path); }
}  // namespace neat_train_test
