// Fuzzes the JSON parser; whatever parses must dump and parse back to the same text.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "tensor/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  neat::Json value;
  try {
    value = neat::Json::parse(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception&) {
    return 0;
  }
  const std::string text = value.dump();
  if (neat::Json::parse(text).dump() != text) std::abort();   // the writer's output parses back
  return 0;
}
