// Fuzzes the GGUF reader: the header, every metadata value type (nested arrays included), the
// tensor infos and the data offsets against the file's size, then dequantizes every tensor.
#include <cstdint>
#include <exception>
#include <string>

#include "tensor/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const neat::GgufFile file =
        neat::parse_gguf(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const neat::GgufTensorInfo& info : file.tensors) (void)file.tensor(info.name).numel();
  } catch (const std::exception&) {
  }
  return 0;
}
