#include "train/run_directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>

#include "tensor/json.h"
#include "tensor/safetensors.h"

#include "tensor/check.h"
#include "train/system.h"

namespace neat {

const std::vector<std::string> kRunFiles = {"results.json", "eval.json", "log.csv", "curves.svg",
                                            "adapter.safetensors", "model.safetensors",
                                            "config.json", "peft", "checkpoint.safetensors",
                                            // a merged text model's tokenizer
                                            "vocab.txt", "vocab.json", "merges.txt",
                                            "tokenizer_config.json"};

std::string create_unique_directory(const std::string& base) {
  const size_t slash = base.rfind('/');
  if (slash != std::string::npos && slash > 0) make_directories(base.substr(0, slash));
  for (int n = 1;; ++n) {
    const std::string dir = n == 1 ? base : base + "-" + std::to_string(n);
    if (::mkdir(dir.c_str(), 0755) == 0) return dir;
    NEAT_CHECK(errno == EEXIST && n < 10000, "mkdir ", dir, ": ", std::strerror(errno));
  }
}

std::vector<std::string> run_files_in(const std::string& dir) {
  std::vector<std::string> present;
  for (const std::string& name : kRunFiles)
    if (file_exists(dir + "/" + name)) present.push_back(name);
  return present;
}

void remove_run_files(const std::string& dir) {
  for (const std::string& name : run_files_in(dir)) {
    const std::string path = dir + "/" + name;
    std::error_code error;
    std::filesystem::remove_all(path, error);
    NEAT_CHECK(!error, "--overwrite: cannot remove ", path, ": ", error.message());
  }
}

namespace {

// The program of a run's saved state or results: its "program", else told by its flags.
std::string program_in(const Json& record, const Json& config) {
  if (record.contains("program")) return record["program"].as_string();
  if (!config.is_object()) return "";
  return config.contains("task") ? "train_text" : "train_vit";
}

}  // namespace

std::string run_program_of(const std::string& dir) {
  try {
    const std::string checkpoint = dir + "/checkpoint.safetensors";
    if (file_exists(checkpoint)) {
      const SafetensorsFile file = read_safetensors(checkpoint);
      const Json state = Json::parse(file.metadata.at("state"));
      return program_in(state, state["config"]);
    }
    for (const char* name : {"results.json", "eval.json"})
      if (file_exists(dir + "/" + name)) {
        const Json results = Json::parse(read_file(dir + "/" + name));
        return program_in(results, results.contains("config") ? results["config"] : Json());
      }
  } catch (const std::exception&) {
    // An unreadable run is still a run: the caller names its files instead.
  }
  return "";
}

int remove_stale_temp_files(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(dir.c_str()), ::closedir);
  if (!listing) return 0;
  int removed = 0;
  while (const dirent* entry = ::readdir(listing.get())) {
    const std::string name = entry->d_name;
    const size_t mark = name.rfind(".tmp.");
    if (mark == std::string::npos || mark == 0) continue;
    const std::string digits = name.substr(mark + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const pid_t pid = pid_t(std::stol(digits));
    const bool gone = ::kill(pid, 0) != 0 && errno == ESRCH;
    if (gone && ::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  return removed;
}

RunLock::RunLock(const std::string& dir) {
  const std::string path = dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  NEAT_CHECK(fd_ >= 0, "cannot lock the run directory ", dir, ": open ", path, ": ",
             std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {0};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    NEAT_CHECK(false, dir, " is in use by another run (pid ", n > 0 ? std::string(holder) : "?",
               " holds ", path, "); give this run another --out");
  }
  const std::string pid = std::to_string(::getpid());
  const bool written = ::ftruncate(fd_, 0) == 0 &&
                       ::pwrite(fd_, pid.data(), pid.size(), 0) == ssize_t(pid.size());
  NEAT_CHECK(written, "cannot write ", path, ": ", std::strerror(errno));
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);   // closing the descriptor releases the flock
}

}  // namespace neat
