// 16-bit floats: IEEE half (F16) and bfloat16 (BF16), as safetensors and GGUF files store them
// and as the Float16 / BFloat16 dtypes hold them. Widening to float32 is exact; narrowing
// rounds to nearest, ties to even, as PyTorch's torch.bfloat16 / torch.float16 do (checked bit
// for bit against a table PyTorch made: tests/parity/make_half_table.py, tests/test_half.cpp):
//
//   half_to_float(0x3C00) == 1.0f;   bf16_to_float(0x3F80) == 1.0f;
//   float_to_bf16_bits(1.00390625f) == 0x3F80;   // the tie 1 + 2^-8 goes to the even 1.0
//   bfloat16 b(3.14159f);  float(b) == 3.140625f;  bfloat16::from_bits(0x7F80) is +inf
//
// Finite values past the largest finite one (bf16 3.3895e38, half 65504) by half an ulp or more
// become inf. A NaN stays a NaN, quiet (the quiet bit set), with its sign and the top bits of its
// payload: what the hardware's conversions (F16C's vcvtps2ph, AVX512-BF16's vcvtneps2bf16) do,
// so the scalar code and the SIMD kernels agree. (PyTorch's own bf16 answers for a NaN differ by
// path: its CPU kernels write 0xFFFF, c10::BFloat16 0x7FC0; neither keeps the sign.)
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensor/host_device.h"

namespace neat {

NEAT_HOST_DEVICE inline uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}
NEAT_HOST_DEVICE inline float bits_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Subnormals are renormalised.
NEAT_HOST_DEVICE inline float half_to_float(uint16_t h) {
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
  return bits_float(bits);
}

// float32 -> half, round to nearest even. Three ranges of |x|: at least 65520 (the midpoint
// between 65504 and the next power of two, which rounds to even, up) is inf; below 2^-14 the
// result is a subnormal, an integer count of 2^-24, rounded from the 24-bit significand; the
// rest rebias the exponent and round away 13 mantissa bits, a carry into the exponent included.
NEAT_HOST_DEVICE inline uint16_t float_to_half_bits(float f) {
  const uint32_t x = float_bits(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return uint16_t(sign | 0x7E00 | ((abs >> 13) & 0x3FF));  // NaN, quiet
  if (abs >= 0x477FF000u) return uint16_t(sign | 0x7C00);  // >= 65520, inf included
  if (abs < 0x38800000u) {                                  // below 2^-14
    if (abs < 0x33000000u) return sign;  // below 2^-25 (and 2^-25 itself, a tie to 0 below)
    const uint32_t significand = (abs & 0x7FFFFF) | 0x800000, shift = 126 - (abs >> 23);
    const uint32_t q = significand >> shift, rest = significand & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    return uint16_t(sign | (q + (rest > half || (rest == half && (q & 1)))));
  }
  const uint32_t r = abs - 0x38000000u;  // exponent bias 127 -> 15
  return uint16_t(sign | ((r + 0xFFF + ((r >> 13) & 1)) >> 13));
}

// bfloat16 is the top half of a float32.
NEAT_HOST_DEVICE inline float bf16_to_float(uint16_t b) { return bits_float(uint32_t(b) << 16); }

// float32 -> bfloat16, round to nearest even: add 0x7FFF plus the kept part's lowest bit, so a
// tie carries only when that bit is odd. The largest finite floats carry into the exponent's
// all-ones: inf, as they should.
NEAT_HOST_DEVICE inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((x >> 16) | 0x40);  // NaN, quiet
  return uint16_t((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

// The element types of DType::BFloat16 and DType::Float16: 2 bytes, trivially copyable, explicit
// conversions to and from float (convert_value below goes between any two element types).
struct bfloat16 {
  uint16_t bits;
  bfloat16() = default;
  NEAT_HOST_DEVICE explicit bfloat16(float x) : bits(float_to_bf16_bits(x)) {}
  NEAT_HOST_DEVICE explicit operator float() const { return bf16_to_float(bits); }
  NEAT_HOST_DEVICE static bfloat16 from_bits(uint16_t b) {
    bfloat16 v;
    v.bits = b;
    return v;
  }
};
struct float16 {
  uint16_t bits;
  float16() = default;
  NEAT_HOST_DEVICE explicit float16(float x) : bits(float_to_half_bits(x)) {}
  NEAT_HOST_DEVICE explicit operator float() const { return half_to_float(bits); }
  NEAT_HOST_DEVICE static float16 from_bits(uint16_t b) {
    float16 v;
    v.bits = b;
    return v;
  }
};

template <typename T>
constexpr bool is_half_type = std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>;

// The type a kernel does its arithmetic in for elements of type T: float32 for the 16-bit floats
// (loaded, widened, computed, rounded once when stored), T itself otherwise.
//   using M = math_t<T>;   M sum = 0;   for (...) sum += M(x[i]);   y[0] = T(sum);
template <typename T>
using math_t = std::conditional_t<is_half_type<T>, float, T>;

// Src -> Dst for any two element types (float, double, int64_t, bfloat16, float16), as
// static_cast does for the built-in ones; a 16-bit float goes through float32 (a double is
// rounded to float32 first, then to 16 bits, as PyTorch's .to() does).
template <typename Dst, typename Src>
NEAT_HOST_DEVICE Dst convert_value(Src x) {
  if constexpr (is_half_type<Src> && !std::is_same_v<Dst, Src>) {
    return convert_value<Dst>(static_cast<float>(x));
  } else if constexpr (is_half_type<Dst> && !std::is_same_v<Dst, Src>) {
    return Dst(static_cast<float>(x));
  } else {
    return static_cast<Dst>(x);
  }
}

}  // namespace neat
