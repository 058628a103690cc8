#include "train/distributed.h"

#include <cstdlib>

#include "tensor/check.h"

namespace neat {

namespace {

// Already summed: the only rank's tensors are the sums.
class DoneReduction : public Reduction {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class OneProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "1 process"; }
  std::unique_ptr<Reduction> start_sum(std::vector<Tensor>) override {
    return std::make_unique<DoneReduction>();
  }
  void sum(std::vector<double>&) override {}
  void max(std::vector<double>&) override {}
  std::vector<uint64_t> gather(uint64_t value) override { return {value}; }

 private:
  void end_job(int) override {}
};

bool started_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

}  // namespace

void Communicator::abort(int code) {
  end_job(code);
  std::exit(code);
}

Communicator& world() {
  static const std::unique_ptr<Communicator> communicator = []() -> std::unique_ptr<Communicator> {
#ifdef NEAT_MPI
    if (started_by_mpirun()) return make_mpi_communicator();
#else
    NEAT_CHECK(!started_by_mpirun(), "started by mpirun, but this build has no MPI (make said "
               "\"MPI off\"): install libopenmpi-dev and openmpi-bin, then make");
#endif
    return std::make_unique<OneProcess>();
  }();
  return *communicator;
}

bool mpi_built() {
#ifdef NEAT_MPI
  return true;
#else
  return false;
#endif
}

double dist_timeout_seconds() {
  const char* text = std::getenv("NEAT_DIST_TIMEOUT");
  if (text == nullptr || *text == '\0') return 600;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  NEAT_CHECK(*end == '\0' && seconds > 0, "NEAT_DIST_TIMEOUT='", text,
             "': expected a positive number of seconds");
  return seconds;
}

}  // namespace neat
