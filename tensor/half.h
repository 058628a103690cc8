// 16-bit floats on disk, widened to float32 exactly: IEEE half (F16) and bfloat16 (BF16), as
// safetensors and GGUF files store them.
//
//   half_to_float(0x3C00) == 1.0f;   bf16_to_float(0x3F80) == 1.0f;
#pragma once
#include <cstdint>
#include <cstring>

namespace neat {

// IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Subnormals are renormalised.
inline float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // 112 = 127 - 15
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {
    int shift = 0;  // subnormal: value = mantissa * 2^-24
    while (!(mantissa & 0x400)) { mantissa <<= 1; ++shift; }
    bits = sign | (uint32_t(113 - shift) << 23) | ((mantissa & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// bfloat16 is the top half of a float32.
inline float bf16_to_float(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace neat
