// NCCL's sums of CUDA tensors (train/distributed_nccl.h). libnccl.so.2 is opened with dlopen on
// first use, as cuBLAS is (tensor/cuda/cublas_library.cuh): a CPU run never loads it.
#include "train/distributed_nccl.h"

#include <dlfcn.h>
#include <nccl.h>

#include <cstring>

#include "tensor/check.h"
#include "tensor/dynamic_symbol.h"
#include "tensor/cuda/runtime.cuh"

namespace neat {

namespace {

// The functions of libnccl.so.2 we call.
struct NcclLibrary {
  ncclResult_t (*get_unique_id)(ncclUniqueId*) = nullptr;
  ncclResult_t (*comm_init_rank)(ncclComm_t*, int, ncclUniqueId, int) = nullptr;
  ncclResult_t (*comm_destroy)(ncclComm_t) = nullptr;
  ncclResult_t (*all_reduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                             cudaStream_t) = nullptr;
  const char* (*error_string)(ncclResult_t) = nullptr;
};

// The fetched library (the Makefile's NEAT_NCCL_LIBRARY), else the usual library search.
#ifndef NEAT_NCCL_LIBRARY
#define NEAT_NCCL_LIBRARY "libnccl.so.2"
#endif

template <typename F>
void load(void* library, const char* name, F& function) {
  load_symbol(library, name, function, std::string("NCCL: ") + NEAT_NCCL_LIBRARY);
}

const NcclLibrary& nccl_library() {
  static const NcclLibrary library = [] {
    void* handle = dlopen(NEAT_NCCL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) handle = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    NEAT_CHECK(handle != nullptr, "NCCL: cannot load ", NEAT_NCCL_LIBRARY, " (", dlerror(),
               "); make deps fetches it into third_party/nccl/");
    NcclLibrary l;
    load(handle, "ncclGetUniqueId", l.get_unique_id);
    load(handle, "ncclCommInitRank", l.comm_init_rank);
    load(handle, "ncclCommDestroy", l.comm_destroy);
    load(handle, "ncclAllReduce", l.all_reduce);
    load(handle, "ncclGetErrorString", l.error_string);
    return l;   // open for the life of the process
  }();
  return library;
}

void check_nccl(ncclResult_t result, const char* call) {
  NEAT_CHECK(result == ncclSuccess, "NCCL: ", call, " failed: ",
             nccl_library().error_string(result));
}

}  // namespace

NcclId nccl_unique_id() {
  ncclUniqueId id;
  check_nccl(nccl_library().get_unique_id(&id), "ncclGetUniqueId");
  NcclId bytes;
  static_assert(sizeof id == sizeof bytes, "ncclUniqueId is 128 bytes");
  std::memcpy(bytes.data(), &id, sizeof id);
  return bytes;
}

struct NcclReducer::State {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;   // the sums run here, beside the compute stream
};

namespace {

// buffer = the tensors packed (compute stream); the sum on the reducer's stream after `packed`;
// wait(): the compute stream waits for `done`, then unpacks.
class NcclReduction : public Reduction {
 public:
  NcclReduction(std::vector<Tensor> tensors, ncclComm_t comm, cudaStream_t stream)
      : tensors_(std::move(tensors)) {
    int64_t n = 0;
    for (const Tensor& t : tensors_) {
      NEAT_CHECK(t.device() == Device::CUDA && t.dtype() == DType::Float32,
                 "start_sum: expected float32 CUDA tensors, got ", dtype_name(t.dtype()), " on ",
                 device_name(t.device()));
      n += t.numel();
    }
    buffer_ = empty({n}, DType::Float32, Device::CUDA);
    copy_all(/*into_buffer=*/true);
    cudaEvent_t packed;
    NEAT_CUDA_CHECK(cudaEventCreateWithFlags(&packed, cudaEventDisableTiming));
    NEAT_CUDA_CHECK(cudaEventRecord(packed, cuda::stream()));
    NEAT_CUDA_CHECK(cudaStreamWaitEvent(stream, packed, 0));
    NEAT_CUDA_CHECK(cudaEventDestroy(packed));
    check_nccl(nccl_library().all_reduce(buffer_.raw_data(), buffer_.raw_data(), size_t(n),
                                         ncclFloat, ncclSum, comm, stream), "ncclAllReduce");
    NEAT_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    NEAT_CUDA_CHECK(cudaEventRecord(done_, stream));
  }
  ~NcclReduction() override { cudaEventDestroy(done_); }
  bool test() override { return cudaEventQuery(done_) == cudaSuccess; }
  void wait() override {
    if (unpacked_) return;
    NEAT_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done_, 0));
    copy_all(/*into_buffer=*/false);
    unpacked_ = true;
  }

 private:
  void copy_all(bool into_buffer) {
    char* at = static_cast<char*>(buffer_.raw_data());
    for (const Tensor& t : tensors_) {
      void* tensor = t.raw_data();
      NEAT_CUDA_CHECK(cudaMemcpyAsync(into_buffer ? at : tensor, into_buffer ? tensor : at,
                                      t.nbytes(), cudaMemcpyDeviceToDevice, cuda::stream()));
      at += t.nbytes();
    }
  }
  std::vector<Tensor> tensors_;
  Tensor buffer_;
  cudaEvent_t done_ = nullptr;
  bool unpacked_ = false;
};

}  // namespace

NcclReducer::NcclReducer(int rank, int size, const NcclId& id) : state_(std::make_unique<State>()) {
  ncclUniqueId nccl_id;
  std::memcpy(&nccl_id, id.data(), sizeof nccl_id);
  cuda::stream();   // the CUDA backend picks its device first
  NEAT_CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking));
  check_nccl(nccl_library().comm_init_rank(&state_->comm, size, nccl_id, rank), "ncclCommInitRank");
}

NcclReducer::~NcclReducer() {
  if (state_->comm != nullptr) nccl_library().comm_destroy(state_->comm);
  if (state_->stream != nullptr) cudaStreamDestroy(state_->stream);
}

std::unique_ptr<Reduction> NcclReducer::start_sum(std::vector<Tensor> tensors) {
  return std::make_unique<NcclReduction>(std::move(tensors), state_->comm, state_->stream);
}

}  // namespace neat
