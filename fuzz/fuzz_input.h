// Helpers shared by the libFuzzer harnesses in fuzz/ (see fuzz/README.md).
//
// Every harness feeds its input to one reader of the library. A reader may reject the input
// with an exception (std::exception: the clear error a user sees); anything else (a crash, an
// ASan or UBSan report, a leak, a huge allocation) is a bug the fuzzer reports.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace neat_fuzz {

// The input as a file, for readers that take a path: /tmp/neat_fuzz_<pid>_<name>, rewritten for
// every input (the harness processes run one input at a time).
inline std::string input_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = "/tmp/neat_fuzz_" + std::to_string(::getpid()) + "_" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace neat_fuzz
