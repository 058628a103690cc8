// The GPU side of the communicator (train/distributed.h): sums of CUDA tensors over NCCL, one
// rank per GPU, bootstrapped by MPI (rank 0's NCCL id is broadcast over MPI). libnccl.so.2 is
// opened on first use: `make deps` unpacks PyPI's nvidia-nccl-cu13 into third_party/nccl/.
//
//   NcclReducer nccl(rank, size, broadcast_from_rank_0(nccl_unique_id()));
//   std::unique_ptr<Reduction> r = nccl.start_sum({grad});   // queued on a stream of its own
//   r->wait();                                               // later kernels see the sums
#pragma once
#ifdef NEAT_NCCL
#include <array>
#include <memory>
#include <vector>

#include "train/distributed.h"

namespace neat {

using NcclId = std::array<char, 128>;   // ncclUniqueId's bytes
NcclId nccl_unique_id();                // rank 0 makes it; the others receive it

class NcclReducer {
 public:
  NcclReducer(int rank, int size, const NcclId& id);
  ~NcclReducer();
  NcclReducer(const NcclReducer&) = delete;
  NcclReducer& operator=(const NcclReducer&) = delete;
  // Packs the tensors into one buffer on the compute stream, sums it over NCCL on the
  // reducer's stream; wait() makes the compute stream wait for it and unpacks the sums.
  std::unique_ptr<Reduction> start_sum(std::vector<Tensor> tensors);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace neat
#endif
