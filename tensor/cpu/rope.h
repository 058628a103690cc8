// CPU kernel of the rotary position embedding on packed heads (tensor/rope.h), rotate_half form:
//   x, y [tokens, H*hd] (tokens = B N), pos int64 [tokens], inv_freq [hd/2]
//   a_i = pos[t] inv_freq[i],  s = -1 if inverse else 1, for every head h and i < hd/2:
//   y[h hd + i]        = x1 cos a_i - s x2 sin a_i     (x1 = x[h hd + i], x2 = x[h hd + i + hd/2])
//   y[h hd + i + hd/2] = x2 cos a_i + s x1 sin a_i
// A token's cos / sin (in double) are computed once and serve all its heads. x and y may be the
// same buffer (each pair is read before it is written). bfloat16 x, y: inv_freq float32
// (math_t<T>: a bf16 frequency would move every angle by up to 2^-9 of itself, radians at long
// positions), the rotation in float32, each value rounded once.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/cpu/device.h"
#include "tensor/half.h"

namespace neat::cpu {

template <typename T>
void rope_rotate(Cpu, const T* x, const int64_t* pos, const math_t<T>* inv_freq, T* y,
                 int64_t tokens, int64_t heads, int64_t half, bool inverse) {
  using M = math_t<T>;
  const int64_t hd = 2 * half, width = heads * hd;
  const double sign = inverse ? -1.0 : 1.0;
#pragma omp parallel for schedule(static) if (tokens * width >= kParallelThreshold)
  for (int64_t t = 0; t < tokens; ++t) {
    const double p = double(pos[t]);
    for (int64_t i = 0; i < half; ++i) {
      const double a = p * double(inv_freq[i]);
      const M c = M(std::cos(a)), s = M(sign * std::sin(a));
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t o = t * width + h * hd + i;
        const M x1 = M(x[o]), x2 = M(x[o + half]);
        y[o] = T(x1 * c - x2 * s);
        y[o + half] = T(x2 * c + x1 * s);
      }
    }
  }
}

}  // namespace neat::cpu
