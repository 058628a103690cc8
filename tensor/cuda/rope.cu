// CUDA kernel of the rotary position embedding on packed heads (tensor/cuda/rope.h), the math of
// tensor/cpu/rope.h (rotate_half form):
//   a_i = pos[t] inv_freq[i],  s = -1 if inverse else 1, for every head h and i < hd/2:
//   y[h hd + i] = x1 cos a_i - s x2 sin a_i      y[h hd + i + hd/2] = x2 cos a_i + s x1 sin a_i
// One thread per (token, i) pair: it computes the angle's cos / sin once (in double, as the
// CPU) and turns that pair in every head, so the trigonometry is not repeated per head.
// bfloat16 x, y: float32 inv_freq and math, as the CPU's.
#include "tensor/cuda/rope.h"
#include "tensor/cuda/runtime.cuh"

namespace neat::cuda {

namespace {

template <typename T>
__global__ void rope_kernel(const T* x, const int64_t* pos, const math_t<T>* inv_freq, T* y,
                            int64_t tokens, int64_t heads, int64_t half, double sign) {
  using M = math_t<T>;
  const int64_t hd = 2 * half, width = heads * hd;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < tokens * half;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = e / half, i = e % half;
    double sn, cs;
    sincos(double(pos[t]) * double(inv_freq[i]), &sn, &cs);
    const M c = M(cs), s = M(sign * sn);
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t o = t * width + h * hd + i;
      const M x1 = M(x[o]), x2 = M(x[o + half]);
      y[o] = T(x1 * c - x2 * s);
      y[o + half] = T(x2 * c + x1 * s);
    }
  }
}

}  // namespace

template <typename T>
void rope_rotate(Cuda, const T* x, const int64_t* pos, const math_t<T>* inv_freq, T* y,
                 int64_t tokens, int64_t heads, int64_t half, bool inverse) {
  const int64_t n = tokens * half;
  if (n == 0) return;
  rope_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(x, pos, inv_freq, y, tokens, heads, half,
                                                        inverse ? -1.0 : 1.0);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void rope_rotate(Cuda, const float*, const int64_t*, const float*, float*, int64_t,
                          int64_t, int64_t, bool);
template void rope_rotate(Cuda, const double*, const int64_t*, const double*, double*, int64_t,
                          int64_t, int64_t, bool);
template void rope_rotate(Cuda, const bfloat16*, const int64_t*, const float*, bfloat16*, int64_t,
                          int64_t, int64_t, bool);

}  // namespace neat::cuda
