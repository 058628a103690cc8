// Contiguous rows of 16-bit floats read and written 16 bytes (8 values) at a time, widened to
// float32 (math_t<T>) for the math; W = 1 is the plain one-value access of any T. A row kernel
// takes W as a template argument and strides its row in runs of W:
//
//   for (int64_t j = lane * W; j < D; j += kWarp * W) {
//     math_t<T> v[W];
//     load_widened<W>(xr + j, v);                  // one 16-byte load when W = 8
//     for (int i = 0; i < W; ++i) v[i] *= 2;
//     store_narrowed<W>(yr + j, v);                // rounded to nearest even, one 16-byte store
//   }
//
// and its launcher picks W with with_vector_width (8 only where every row of every pointer
// starts on 16 bytes: a 16-bit T, D a multiple of 8, aligned base pointers).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "tensor/half.h"

namespace neat::cuda {

template <int W, typename T>
__device__ inline void load_widened(const T* p, math_t<T> (&out)[W]) {
  if constexpr (W == 1) {
    out[0] = math_t<T>(p[0]);
  } else {
    static_assert(W * sizeof(T) == 16 && is_half_type<T>, "W = 8: a 16-byte load of bf16 / f16");
    const uint4 u = *reinterpret_cast<const uint4*>(p);
    const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {   // little-endian: the lower half is the first value
      out[2 * i] = float(T::from_bits(uint16_t(words[i] & 0xFFFFu)));
      out[2 * i + 1] = float(T::from_bits(uint16_t(words[i] >> 16)));
    }
  }
}

template <int W, typename T>
__device__ inline void store_narrowed(T* p, const math_t<T> (&in)[W]) {
  if constexpr (W == 1) {
    p[0] = T(in[0]);
  } else {
    static_assert(W * sizeof(T) == 16 && is_half_type<T>, "W = 8: a 16-byte store of bf16 / f16");
    uint32_t words[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      words[i] = uint32_t(T(in[2 * i]).bits) | (uint32_t(T(in[2 * i + 1]).bits) << 16);
    *reinterpret_cast<uint4*>(p) = make_uint4(words[0], words[1], words[2], words[3]);
  }
}

// Calls launch(std::integral_constant<int, W>{}): W = 8 when T is a 16-bit float, D % 8 == 0
// and every non-null pointer is 16-byte aligned (so every row of D values starts on 16 bytes),
// else W = 1.
template <typename T, typename Launch>
void with_vector_width(int64_t D, std::initializer_list<const void*> pointers, Launch&& launch) {
  if constexpr (is_half_type<T>) {
    bool aligned = D % 8 == 0;
    for (const void* p : pointers) aligned = aligned && reinterpret_cast<uintptr_t>(p) % 16 == 0;
    if (aligned) return launch(std::integral_constant<int, 8>{});
  }
  launch(std::integral_constant<int, 1>{});
}

}  // namespace neat::cuda
