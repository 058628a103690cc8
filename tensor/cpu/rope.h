// CPU kernel of the rotary position embedding on packed heads (tensor/rope.h), rotate_half form:
//   x, y [tokens, H*hd] (tokens = B N), pos int64 [tokens], inv_freq [hd/2]
//   a_i = pos[t] inv_freq[i],  s = -1 if inverse else 1, for every head h and i < hd/2:
//   y[h hd + i]        = x1 cos a_i - s x2 sin a_i     (x1 = x[h hd + i], x2 = x[h hd + i + hd/2])
//   y[h hd + i + hd/2] = x2 cos a_i + s x1 sin a_i
// A token's cos / sin (in double) are computed once and serve all its heads. x and y may be the
// same buffer (each pair is read before it is written).
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/cpu/device.h"

namespace neat::cpu {

template <typename T>
void rope_rotate(Cpu, const T* x, const int64_t* pos, const T* inv_freq, T* y, int64_t tokens,
                 int64_t heads, int64_t half, bool inverse) {
  const int64_t hd = 2 * half, width = heads * hd;
  const double sign = inverse ? -1.0 : 1.0;
#pragma omp parallel for schedule(static) if (tokens * width >= kParallelThreshold)
  for (int64_t t = 0; t < tokens; ++t) {
    const double p = double(pos[t]);
    for (int64_t i = 0; i < half; ++i) {
      const double a = p * double(inv_freq[i]);
      const T c = T(std::cos(a)), s = T(sign * std::sin(a));
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t o = t * width + h * hd + i;
        const T x1 = x[o], x2 = x[o + half];
        y[o] = x1 * c - x2 * s;
        y[o + half] = x2 * c + x1 * s;
      }
    }
  }
}

}  // namespace neat::cpu
