// MPI's communicator (train/distributed.h): MPI_Init under mpirun, errors returned (not fatal)
// and turned into exceptions, nonblocking all-reduces polled with a deadline.
// The C API only (OpenMPI and MPICH otherwise add their deprecated C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "tensor/check.h"
#include "train/distributed.h"
#include "train/distributed_nccl.h"
#include "train/system.h"

namespace neat {

namespace {

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  NEAT_CHECK(false, call, " failed: ", std::string(text, size_t(length)));
}

// Polls request until it completes; past the deadline ends the job, naming what it waited for.
void wait_for(MPI_Request& request, int rank, const char* what) {
  const double deadline = now_seconds() + dist_timeout_seconds();
  for (int done = 0;;) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    if (now_seconds() > deadline) {
      std::cerr << "rank " << rank << ": waited more than " << dist_timeout_seconds()
                << " s (NEAT_DIST_TIMEOUT) for the other ranks in " << what
                << "; a rank hangs or died: ending the job" << std::endl;
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    std::this_thread::yield();
  }
}

// One MPI_Iallreduce of packed float32 CPU tensors.
class MpiReduction : public Reduction {
 public:
  MpiReduction(std::vector<Tensor> tensors, int rank) : tensors_(std::move(tensors)), rank_(rank) {
    size_t n = 0;
    for (const Tensor& t : tensors_) n += size_t(t.numel());
    buffer_.resize(n);
    float* at = buffer_.data();
    for (const Tensor& t : tensors_) {
      std::memcpy(at, t.data<float>(), t.nbytes());
      at += t.numel();
    }
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, buffer_.data(), int(n), MPI_FLOAT, MPI_SUM,
                             MPI_COMM_WORLD, &request_), "MPI_Iallreduce");
  }
  bool test() override {
    if (!unpacked_) {
      int done = 0;
      check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) unpack();
    }
    return unpacked_;
  }
  void wait() override {
    if (unpacked_) return;
    wait_for(request_, rank_, "a gradient all-reduce");
    unpack();
  }

 private:
  void unpack() {
    const float* at = buffer_.data();
    for (const Tensor& t : tensors_) {
      std::memcpy(t.data<float>(), at, t.nbytes());
      at += t.numel();
    }
    unpacked_ = true;
  }
  std::vector<Tensor> tensors_;
  std::vector<float> buffer_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  int rank_;
  bool unpacked_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() {
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as codes (exceptions here) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    library_ = std::string(version, size_t(length));
    library_ = library_.substr(0, library_.find_first_of(",\n"));
    select_gpu();
  }
  ~MpiCommunicator() override { MPI_Finalize(); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override {
    return library_ + ", " + std::to_string(size_) + " ranks";
  }
  std::unique_ptr<Reduction> start_sum(std::vector<Tensor> tensors) override {
    NEAT_CHECK(!tensors.empty(), "start_sum: no tensors");
    if (tensors.front().device() != Device::CPU) return nccl().start_sum(std::move(tensors));
    for (const Tensor& t : tensors)
      NEAT_CHECK(t.device() == Device::CPU && t.dtype() == DType::Float32,
                 "start_sum: expected float32 CPU tensors, got ", dtype_name(t.dtype()), " on ",
                 device_name(t.device()));
    return std::make_unique<MpiReduction>(std::move(tensors), rank_);
  }
  void sum(std::vector<double>& values) override { all_reduce(values, MPI_SUM); }
  void max(std::vector<double>& values) override { all_reduce(values, MPI_MAX); }
  std::vector<uint64_t> gather(uint64_t value) override {
    std::vector<uint64_t> values(size_t(size_), 0);
    MPI_Request request;
    check_mpi(MPI_Iallgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T,
                             MPI_COMM_WORLD, &request), "MPI_Iallgather");
    wait_for(request, rank_, "a parameter hash check");
    return values;
  }
 private:
  void end_job(int code) override { MPI_Abort(MPI_COMM_WORLD, code); }

  void all_reduce(std::vector<double>& values, MPI_Op op) {
    MPI_Request request;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, op,
                             MPI_COMM_WORLD, &request), "MPI_Iallreduce");
    wait_for(request, rank_, "the step's loss and stop-flag exchange");
  }

  // One rank per GPU: rank i of a node sees only GPU i (the CUDA backend uses device 0), unless
  // the user set CUDA_VISIBLE_DEVICES.
  static void select_gpu() {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (local == nullptr) local = std::getenv("MPI_LOCALRANKID");   // MPICH
    if (local != nullptr && std::getenv("CUDA_VISIBLE_DEVICES") == nullptr)
      setenv("CUDA_VISIBLE_DEVICES", local, 1);
  }

#ifdef NEAT_NCCL
  NcclReducer& nccl() {
    if (!nccl_) {
      NcclId id{};
      if (rank_ == 0) id = nccl_unique_id();
      check_mpi(MPI_Bcast(id.data(), int(id.size()), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
      nccl_ = std::make_unique<NcclReducer>(rank_, size_, id);
    }
    return *nccl_;
  }
  std::unique_ptr<NcclReducer> nccl_;
#else
  struct NoNccl {
    [[noreturn]] std::unique_ptr<Reduction> start_sum(std::vector<Tensor>) {
      throw std::runtime_error("a CUDA run under mpirun sums its gradients over NCCL, and this "
                               "build has none: make deps (fetches NCCL into third_party/nccl/), "
                               "then make");
    }
  };
  NoNccl nccl() { return {}; }
#endif

  int rank_ = 0, size_ = 1;
  std::string library_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  return std::make_unique<MpiCommunicator>();
}

}  // namespace neat
