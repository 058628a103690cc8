#include "train/replica_check.h"

#include <cstdio>
#include <stdexcept>


namespace neat {

namespace {

uint64_t fnv1a(uint64_t hash, const void* data, size_t bytes) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  return hash;
}

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

uint64_t parameter_hash(const Module& model) {
  uint64_t hash = 14695981039346656037ull;
  for (const auto& [name, p] : model.named_parameters()) {
    hash = fnv1a(hash, name.data(), name.size());
    const Tensor values = p.data().device() == Device::CPU ? p.data() : p.data().to(Device::CPU);
    for (int64_t d : values.shape()) hash = fnv1a(hash, &d, sizeof d);
    hash = fnv1a(hash, values.raw_data(), values.nbytes());
  }
  return hash;
}

std::string replica_mismatch(const std::vector<uint64_t>& hashes, int64_t step) {
  std::string ranks;
  for (size_t r = 1; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0])
      ranks += (ranks.empty() ? "rank " : ", rank ") + std::to_string(r) + " (" + hex(hashes[r]) + ")";
  if (ranks.empty()) return "";
  return "the replicas disagree after step " + std::to_string(step) + ": the parameters of " +
         ranks + " differ from rank 0's (" + hex(hashes[0]) +
         "); every rank must run the same build, flags and weights";
}

void check_replicas(Communicator& comm, const Module& model, int64_t step) {
  const std::string problem = replica_mismatch(comm.gather(parameter_hash(model)), step);
  if (!problem.empty()) throw std::runtime_error(problem);
}

}  // namespace neat
