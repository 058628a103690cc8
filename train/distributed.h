// The processes of one data-parallel run and what they exchange (docs/distributed.md). Under
// `mpirun -np N` (a build with MPI: make says "MPI found") world() is MPI's communicator of the N
// ranks; started any other way it is one process, and every collective is the identity.
//
//   Communicator& comm = world();                        // MPI_Init on first use under mpirun
//   if (comm.rank() == 0) write_results();               // rank 0 alone writes the run's files
//   std::unique_ptr<Reduction> r = comm.start_sum({grad_a, grad_b});   // returns at once
//   ...                                                  // the backward goes on meanwhile
//   r->wait();                                           // grad_a, grad_b: sums over the ranks
//   std::vector<double> stats{loss_sum, correct};
//   comm.sum(stats);                                     // small host values, blocking
//
// Every rank must call the collectives (start_sum, sum, max, gather) in the same order with the
// same sizes. A wait longer than dist_timeout_seconds() ends the whole job (a rank that hangs),
// and so does abort(): MPI_Abort, so no rank waits forever for one that failed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace neat {

// A sum in flight (Communicator::start_sum).
class Reduction {
 public:
  virtual ~Reduction() = default;
  virtual bool test() = 0;   // lets it progress; true once the sums are in place
  virtual void wait() = 0;   // until the sums are in place
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;   // "1 process", "Open MPI, 2 ranks"
  // Sums float32 tensors over the ranks, in place: CPU tensors over MPI, CUDA tensors over NCCL.
  virtual std::unique_ptr<Reduction> start_sum(std::vector<Tensor> tensors) = 0;
  virtual void sum(std::vector<double>& values) = 0;   // elementwise over the ranks, blocking
  virtual void max(std::vector<double>& values) = 0;
  virtual std::vector<uint64_t> gather(uint64_t value) = 0;   // every rank's value, by rank
  // Ends every rank of the job with this exit code (one process: exits).
  [[noreturn]] void abort(int code);

 private:
  virtual void end_job(int code) = 0;   // MPI_Abort; nothing for one process
};

// The run's communicator, made on first use: MPI's when this process was started by mpirun
// (OMPI_COMM_WORLD_SIZE or PMI_SIZE set) in a build with MPI, else one process.
Communicator& world();
bool mpi_built();   // this build has MPI (make found mpicxx)
// How long a collective may wait for the other ranks before the job is ended:
// NEAT_DIST_TIMEOUT seconds, 600 by default.
double dist_timeout_seconds();

#ifdef NEAT_MPI
std::unique_ptr<Communicator> make_mpi_communicator();   // train/distributed_mpi.cpp
#endif

}  // namespace neat
