// A GGUF file assembled field by field, for tests that need a file gguf-py would never write
// (a wrong count, a bad type number, an offset past the end). Fields are little-endian, as in
// the format; docs/gguf.md lists them.
//
//   GgufBuilder b;
//   b.key("general.architecture", 8).str("llama");
//   b.tensor("w", {32, 2}, GgmlType::Q8_0, 0);       // dims innermost first, as stored
//   b.data = std::string(68, '\0');
//   GgufFile f = parse_gguf(b.bytes(), "built.gguf");
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/gguf.h"

namespace neat::test {

struct GgufBuilder {
  std::string magic = "GGUF";
  uint32_t version = 3;
  uint64_t alignment = 32;       // where bytes() starts the data section
  std::string kv;                // the metadata entries, as bytes
  uint64_t kv_count = 0;
  std::string infos;             // the tensor infos, as bytes
  uint64_t tensor_count = 0;
  std::string data;              // the data section

  // Appends the little-endian bytes of an integer to `out`.
  static void put(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(char(uint8_t(v >> (8 * i))));
  }
  static void put_string(std::string& out, const std::string& s) {
    put(out, s.size(), 8);
    out += s;
  }
  // A metadata key and its value type; the value follows with u()/str()/raw().
  GgufBuilder& key(const std::string& name, uint32_t value_type) {
    put_string(kv, name);
    put(kv, value_type, 4);
    ++kv_count;
    return *this;
  }
  GgufBuilder& u(uint64_t v, int bytes) { put(kv, v, bytes); return *this; }
  GgufBuilder& str(const std::string& s) { put_string(kv, s); return *this; }
  GgufBuilder& raw(const std::string& bytes) { kv += bytes; return *this; }
  // A tensor info: name, dims innermost first, ggml type number, data offset.
  GgufBuilder& tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                      uint64_t offset) {
    put_string(infos, name);
    put(infos, dims.size(), 4);
    for (uint64_t d : dims) put(infos, d, 8);
    put(infos, type, 4);
    put(infos, offset, 8);
    ++tensor_count;
    return *this;
  }
  GgufBuilder& tensor(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type,
                      uint64_t offset) {
    return tensor(name, dims, uint32_t(type), offset);
  }
  // The file: header, metadata, tensor infos, zero padding to `alignment`, the data.
  std::string bytes() const {
    std::string out = magic;
    put(out, version, 4);
    put(out, tensor_count, 8);
    put(out, kv_count, 8);
    out += kv + infos;
    out.append((alignment - out.size() % alignment) % alignment, '\0');
    return out + data;
  }
};

}  // namespace neat::test
