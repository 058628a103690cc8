#include "train/distributed_run.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

#include "tensor/check.h"
#include "train/args.h"
#include "train/distributed.h"

namespace neat {

int launch_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK"})
    if (const char* value = std::getenv(name)) return std::atoi(value);
  return 0;
}

std::ostream& rank_zero_only(std::ostream& stream) {
  static std::ostream dropped(nullptr);   // no buffer: every write is dropped
  return launch_rank() == 0 ? stream : dropped;
}

std::function<int()> ending_all_ranks_on_error(const std::string& program,
                                               std::function<int()> body) {
  return [program, body = std::move(body)] {
    Communicator& comm = world();
    if (comm.size() == 1) return body();
    try {
      return body();
    } catch (const std::exception& e) {
      std::cerr << "rank " << comm.rank() << ": " << program << ": error: " << e.what()
                << "\nrank " << comm.rank() << ": ending every rank of the job" << std::endl;
      comm.abort(dynamic_cast<const UsageError*>(&e) != nullptr ? 2 : 1);
    }
  };
}

ScratchDirectory::ScratchDirectory(const std::string& resume_dir) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/neat-rank" + std::to_string(launch_rank()) + "-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  NEAT_CHECK(mkdtemp(name.data()) != nullptr, "cannot create a scratch directory ", pattern);
  path_ = name.data();
  if (resume_dir.empty()) return;
  std::error_code error;
  const std::filesystem::path checkpoint =
      std::filesystem::absolute(std::filesystem::path(resume_dir) / "checkpoint.safetensors");
  std::filesystem::create_symlink(checkpoint, std::filesystem::path(path_) / "checkpoint.safetensors",
                                  error);
  NEAT_CHECK(!error, "cannot link ", checkpoint.string(), " into ", path_, ": ", error.message());
}

ScratchDirectory::~ScratchDirectory() {
  std::error_code error;   // a directory that cannot be removed stays: nothing to report to
  std::filesystem::remove_all(path_, error);
}

}  // namespace neat
