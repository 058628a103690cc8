// Proof that the replicas of a data-parallel run agree: a hash of every parameter's bytes
// (frozen ones too) on each rank, compared with rank 0's. The trainer checks at the start and
// every TrainerSettings::replica_check_every steps; a difference is an error naming the ranks.
//
//   check_replicas(world(), model, state.step);   // throws when a rank's weights differ
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"
#include "train/distributed.h"

namespace neat {

// FNV-1a (64 bits) over each parameter's name, shape and float bytes, in named_parameters order.
uint64_t parameter_hash(const Module& model);
// "" when every rank's hash is rank 0's, else a message naming the ranks that differ.
std::string replica_mismatch(const std::vector<uint64_t>& hashes, int64_t step);
void check_replicas(Communicator& comm, const Module& model, int64_t step);

}  // namespace neat
