// GGUF: llama.cpp's model file format (v2 and v3), read by our own small, bounds-checked parser.
// Layout of a file (little-endian; docs/gguf.md has every field):
//
//   "GGUF", uint32 version, uint64 tensor count, uint64 metadata count
//   metadata:     key (uint64 length + bytes), uint32 value type, value (arrays nest)
//   tensor infos: name, uint32 n_dims, uint64 dims[n_dims] (INNERMOST first), uint32 ggml type,
//                 uint64 offset into the data section
//   padding to general.alignment (32 when absent), then the data section
//
//   GgufFile f = read_gguf("data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
//   f.get_string("general.architecture") == "llama";  f.get_int("llama.block_count") == 30;
//   f.info("blk.0.attn_q.weight").shape == {576, 576};        // row-major: [out, in]
//   Tensor w = f.tensor("blk.0.attn_q.weight");               // Q4_1 dequantized to float32
//
// Only the header, metadata and tensor infos are read at open; each tensor's bytes are read (and
// dequantized, tensor/gguf_quants.h) when tensor() asks for it. Every count, string length,
// dimension, offset and size is checked against the file's size before it is used; a damaged
// file is an error naming the file, the field or tensor, and the byte offset.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/gguf_quants.h"
#include "tensor/tensor.h"

namespace neat {

// One metadata value: a scalar, a string, or an array of them (GGUF's value types).
struct GgufValue {
  enum class Kind { UInt, Int, Float, Bool, String, Array };
  Kind kind = Kind::UInt;
  uint32_t gguf_type = 0;          // the GGUF value type as stored (UINT8=0 ... FLOAT64=12)
  uint64_t u = 0;                  // Kind::UInt (uint8/16/32/64)
  int64_t i = 0;                   // Kind::Int (int8/16/32/64)
  double f = 0;                    // Kind::Float (float32/64)
  bool b = false;                  // Kind::Bool
  std::string s;                   // Kind::String
  std::vector<GgufValue> array;    // Kind::Array
  uint32_t array_type = 0;         // Kind::Array: the elements' GGUF value type
};

// The name of a GGUF value type ("uint32", "string", "array", ...; "type 99" for others).
std::string gguf_value_type_name(uint32_t gguf_type);

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;      // row-major (outermost first): GGUF's dims REVERSED, so a
                                   // weight [out, in] reads as in PyTorch
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;             // from the start of the data section
  uint64_t nbytes = 0;
  int64_t numel() const;
};

class GgufFile {
 public:
  std::string path;                // for error messages
  uint32_t version = 0;            // 2 or 3
  uint64_t alignment = 32;         // general.alignment or 32
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensorInfo> tensors;   // in file order
  uint64_t data_offset = 0;        // where the data section starts in the file
  uint64_t data_bytes = 0;         // the data section's size (the file's size - data_offset)

  bool has(const std::string& key) const;
  const GgufValue& at(const std::string& key) const;      // error naming file and key
  // Typed getters: error naming the file, the key, the expected and the stored type.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;   // any integer type (a uint64 > int64 max: error)
  double get_float(const std::string& key) const;          // float32/64 (and integers)
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_strings(const std::string& key) const;
  std::vector<int64_t> get_ints(const std::string& key) const;
  std::vector<double> get_floats(const std::string& key) const;
  // With a default when the key is absent (a present key of the wrong type is still an error).
  std::string get_string(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key, double fallback) const;

  bool has_tensor(const std::string& name) const;
  const GgufTensorInfo& info(const std::string& name) const;   // error naming file and tensor
  // The tensor dequantized to a CPU tensor of `dtype` (Float32 or Float64), shape info(name).shape.
  // Float64 holds the float32 values ggml's dequantization defines, widened exactly.
  Tensor tensor(const std::string& name, DType dtype = DType::Float32) const;
  // The tensor's bytes as stored (info(name).nbytes of them), for a caller that keeps them packed.
  std::string raw_bytes(const std::string& name) const;

 private:
  // parse_gguf's bytes; null for read_gguf, whose tensor() reopens `path` and reads what it needs.
  std::shared_ptr<const std::string> bytes_;
  void read_data(uint64_t offset, uint64_t n, char* dst) const;
  friend GgufFile parse_gguf(std::string bytes, const std::string& path);
};

// Reads the header, metadata and tensor infos, checking every count, length, offset and size
// against the file; the data stays on disk until tensor() is called.
GgufFile read_gguf(const std::string& path);
// The same from bytes in memory (the fuzz harness); `path` only names it in errors.
GgufFile parse_gguf(std::string bytes, const std::string& path);

}  // namespace neat
