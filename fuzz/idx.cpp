// Fuzzes the IDX reader (plain and gzip): the input is an images file; its first byte picks
// whether it is read as images (3 dimensions) or labels (1 dimension).
#include <cstdint>
#include <exception>

#include "data/idx.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int64_t ndims = data[0] % 2 == 0 ? 3 : 1;
  const std::string path = neat_fuzz::input_file(data + 1, size - 1, "idx");
  try {
    const neat::IdxArray array = neat::read_idx(path, ndims);
    (void)array.data.size();
  } catch (const std::exception&) {
  }
  return 0;
}
