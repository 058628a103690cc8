// Fuzzes the safetensors reader: the 8-byte length, the JSON header, dtypes, shapes and data
// offsets against the file's size.
#include <cstdint>
#include <exception>
#include <string>

#include "tensor/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const neat::SafetensorsFile file =
        neat::parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& [name, tensor] : file.tensors) (void)tensor.numel();
  } catch (const std::exception&) {
  }
  return 0;
}
