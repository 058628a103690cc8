#include "tensor/gguf_quants.h"

#include <cstring>

#include "tensor/check.h"
#include "tensor/half.h"

namespace neat {

namespace {

// ggml's type numbers with their names (ggml.h), the ones this reader decodes marked.
struct TypeEntry {
  uint32_t number;
  const char* name;
  bool supported;
  GgmlTypeSize size;   // supported types only
};

const TypeEntry kTypes[] = {
    {0, "F32", true, {1, 4}},       {1, "F16", true, {1, 2}},
    {2, "Q4_0", true, {32, 18}},    {3, "Q4_1", true, {32, 20}},
    {6, "Q5_0", false, {}},         {7, "Q5_1", false, {}},
    {8, "Q8_0", true, {32, 34}},    {9, "Q8_1", false, {}},
    {10, "Q2_K", false, {}},        {11, "Q3_K", false, {}},
    {12, "Q4_K", true, {256, 144}}, {13, "Q5_K", false, {}},
    {14, "Q6_K", true, {256, 210}}, {15, "Q8_K", false, {}},
    {16, "IQ2_XXS", false, {}},     {17, "IQ2_XS", false, {}},
    {18, "IQ3_XXS", false, {}},     {19, "IQ1_S", false, {}},
    {20, "IQ4_NL", false, {}},      {21, "IQ3_S", false, {}},
    {22, "IQ2_S", false, {}},       {23, "IQ4_XS", false, {}},
    {24, "I8", false, {}},          {25, "I16", false, {}},
    {26, "I32", false, {}},         {27, "I64", false, {}},
    {28, "F64", false, {}},         {29, "IQ1_M", false, {}},
    {30, "BF16", true, {1, 2}},     {34, "TQ1_0", false, {}},
    {35, "TQ2_0", false, {}},       {39, "MXFP4", false, {}},
};

const TypeEntry* find_type(uint32_t number) {
  for (const TypeEntry& e : kTypes)
    if (e.number == number) return &e;
  return nullptr;
}

uint16_t u16(const unsigned char* p) { return uint16_t(p[0] | (p[1] << 8)); }
float f16(const unsigned char* p) { return half_to_float(u16(p)); }

constexpr int64_t kQK = 32;     // elements per block of Q4_0, Q4_1, Q8_0
constexpr int64_t kQK_K = 256;  // elements per super-block of the K-quants

// Q4_0, 18 bytes per 32 elements: fp16 d, then 16 bytes of 4-bit q; byte j holds element j in
// its low nibble and element j + 16 in its high nibble. x = d * (q - 8).
void dequantize_q4_0(const unsigned char* b, float* y) {
  const float d = f16(b);
  const unsigned char* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float((qs[j] & 0x0F) - 8);
    y[j + 16] = d * float((qs[j] >> 4) - 8);
  }
}

// Q4_1, 20 bytes per 32 elements: fp16 d, fp16 m, then 16 bytes of 4-bit q (low nibbles are
// elements 0-15, high nibbles 16-31). x = d * q + m, rounded after the product (no fused
// multiply-add: separate statements, and the build never contracts across them).
void dequantize_q4_1(const unsigned char* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const unsigned char* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    const float lo = d * float(qs[j] & 0x0F), hi = d * float(qs[j] >> 4);
    y[j] = lo + m;
    y[j + 16] = hi + m;
  }
}

// Q8_0, 34 bytes per 32 elements: fp16 d, then 32 int8 q. x = d * q.
void dequantize_q8_0(const unsigned char* b, float* y) {
  const float d = f16(b);
  for (int j = 0; j < 32; ++j) y[j] = d * float(int8_t(b[2 + j]));
}

// Q4_K, 144 bytes per super-block of 256 elements, 8 sub-blocks of 32:
//   fp16 d, fp16 dmin, 12 bytes of eight 6-bit scales sc and eight 6-bit mins mn, 128 bytes q.
//   Scales and mins (bytes s[0..11]): for k < 4, sc[k] = s[k] & 63, mn[k] = s[k + 4] & 63;
//   for k >= 4, sc[k] = (s[k + 4] & 15) | ((s[k - 4] >> 6) << 4),
//               mn[k] = (s[k + 4] >> 4) | ((s[k] >> 6) << 4).
//   Byte 32 p + j of q (p = 0..3, j = 0..31) holds element 64 p + j (sub-block 2 p) in its low
//   nibble and element 64 p + 32 + j (sub-block 2 p + 1) in its high nibble.
//   x = (d * sc) * q - (dmin * mn), the two products rounded to float32 first (as ggml).
void dequantize_q4_k(const unsigned char* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  const unsigned char* s = b + 4;
  const unsigned char* qs = b + 16;
  for (int k = 0; k < 8; ++k) {
    const int sc = k < 4 ? s[k] & 63 : (s[k + 4] & 15) | ((s[k - 4] >> 6) << 4);
    const int mn = k < 4 ? s[k + 4] & 63 : (s[k + 4] >> 4) | ((s[k] >> 6) << 4);
    const float scale = d * float(sc), min = dmin * float(mn);
    const unsigned char* q = qs + 32 * (k / 2);
    const int shift = 4 * (k % 2);
    for (int j = 0; j < 32; ++j) {
      const float dq = scale * float((q[j] >> shift) & 0x0F);
      y[32 * k + j] = dq - min;
    }
  }
}

// Q6_K, 210 bytes per super-block of 256 elements, 16 groups of 16:
//   128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales, fp16 d.
//   Element e = 128 h + r (h = 0, 1; r = 0..127): low bits from ql[64 h + r % 64] (low nibble
//   when r < 64, high nibble otherwise), high bits from qh[32 h + r % 32] at bits 2 (r / 32);
//   q = (low | high << 4) - 32 in [-32, 31]. x = (d * scales[e / 16]) * q.
void dequantize_q6_k(const unsigned char* b, float* y) {
  const unsigned char* ql = b;
  const unsigned char* qh = b + 128;
  const unsigned char* scales = b + 192;
  const float d = f16(b + 208);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128;
    const int low = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0F;
    const int high = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
    const float scale = d * float(int8_t(scales[e / 16]));
    y[e] = scale * float((low | (high << 4)) - 32);
  }
}

template <void (*Block)(const unsigned char*, float*)>
void dequantize_blocks(const unsigned char* src, int64_t n, int64_t block, int64_t bytes,
                       float* dst) {
  for (int64_t i = 0; i < n / block; ++i) Block(src + i * bytes, dst + i * block);
}

}  // namespace

const char* ggml_type_name(GgmlType t) {
  const TypeEntry* e = find_type(uint32_t(t));
  return e != nullptr ? e->name : "unknown";
}

bool ggml_type_supported(uint32_t type) {
  const TypeEntry* e = find_type(type);
  return e != nullptr && e->supported;
}

const GgmlTypeSize& ggml_type_size(GgmlType t) {
  const TypeEntry* e = find_type(uint32_t(t));
  NEAT_CHECK(e != nullptr && e->supported, "gguf: ggml type ", uint32_t(t), " (",
             ggml_type_name(t), ") is not supported (F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q4_K, "
             "Q6_K are)");
  return e->size;
}

void dequantize(GgmlType type, const unsigned char* src, int64_t n, float* dst) {
  const GgmlTypeSize& ts = ggml_type_size(type);
  NEAT_CHECK(n >= 0 && n % ts.block == 0, "gguf: dequantize ", ggml_type_name(type), ": ", n,
             " elements are not a whole number of ", ts.block, "-element blocks");
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16(src + 2 * i);
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(u16(src + 2 * i));
      return;
    case GgmlType::Q4_0: return dequantize_blocks<dequantize_q4_0>(src, n, kQK, 18, dst);
    case GgmlType::Q4_1: return dequantize_blocks<dequantize_q4_1>(src, n, kQK, 20, dst);
    case GgmlType::Q8_0: return dequantize_blocks<dequantize_q8_0>(src, n, kQK, 34, dst);
    case GgmlType::Q4_K: return dequantize_blocks<dequantize_q4_k>(src, n, kQK_K, 144, dst);
    case GgmlType::Q6_K: return dequantize_blocks<dequantize_q6_k>(src, n, kQK_K, 210, dst);
  }
}

}  // namespace neat
