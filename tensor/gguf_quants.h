// The GGML tensor types GGUF files store, and their dequantization to float32.
//
//   const GgmlTypeSize& ts = ggml_type_size(GgmlType::Q4_1);  // 32 elements in 20 bytes
//   std::vector<float> w(64);
//   dequantize(GgmlType::Q4_1, bytes, 64, w.data());         // bytes: 2 blocks, 40 bytes
//
// A quantized type stores a row in blocks of `block` elements, `bytes` bytes each; a row's length
// (the innermost dimension) is a multiple of the block. Each block's layout and formula are above
// its function in gguf_quants.cpp and in docs/gguf.md. The arithmetic is float32 in the order of
// ggml's dequantize_row_* (and gguf-py's quants.py), so the results equal theirs bit for bit.
#pragma once
#include <cstdint>
#include <string>

namespace neat {

// GGML tensor types GGUF files use (values as in ggml.h); other numbers are refused by name or
// number (ggml_type_name).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, Q4_K = 12, Q6_K = 14, BF16 = 30
};

// "F32", "Q4_1", ...; for a number this reader does not decode, ggml's name when it has one
// ("Q5_K (unsupported)") or "type 99".
const char* ggml_type_name(GgmlType t);
// Whether this reader decodes the type number.
bool ggml_type_supported(uint32_t type);

struct GgmlTypeSize {
  int64_t block;   // elements per block (1 for F32 / F16 / BF16)
  int64_t bytes;   // bytes per block
};
// The block size of a supported type.
const GgmlTypeSize& ggml_type_size(GgmlType t);

// Decodes n elements (a multiple of the type's block) of `type` from `src` into dst.
void dequantize(GgmlType type, const unsigned char* src, int64_t n, float* dst);

}  // namespace neat
