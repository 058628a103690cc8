// Rotary position embedding on packed heads: checks and allocation here, the kernels (with the
// math) in tensor/cpu/rope.h and tensor/cuda/rope.cu.
#include "tensor/rope.h"

#include "tensor/cpu/rope.h"
#include "tensor/cuda/rope.h"
#include "tensor/dispatch.h"

namespace neat {

Tensor rope(const Tensor& x, const Tensor& position_ids, const Tensor& inv_freq, int64_t heads,
            bool inverse) {
  const char* op = inverse ? "rope_backward" : "rope";
  NEAT_CHECK(x.defined() && position_ids.defined() && inv_freq.defined(), op,
             ": x, position_ids and inv_freq must be defined");
  NEAT_CHECK(heads > 0, op, ": heads must be positive, got ", heads);
  NEAT_CHECK(x.dim() == 3 && x.size(2) % heads == 0 && (x.size(2) / heads) % 2 == 0, op, ": x ",
             shape_str(x.shape()), " is not [B, N, heads * hd] with ", heads,
             " heads of an even size hd");
  const int64_t B = x.size(0), N = x.size(1), half = x.size(2) / heads / 2;
  NEAT_CHECK(position_ids.dtype() == DType::Int64 && position_ids.shape() == Shape({B, N}), op,
             ": position_ids ", dtype_name(position_ids.dtype()), " ",
             shape_str(position_ids.shape()), " must be int64 [B, N] = ", shape_str({B, N}));
  NEAT_CHECK(inv_freq.shape() == Shape{half}, op, ": inv_freq ", shape_str(inv_freq.shape()),
             " must be [hd / 2] = [", half, "] for x ", shape_str(x.shape()), " with ", heads,
             " heads");
  NEAT_CHECK(inv_freq.dtype() == math_dtype(x.dtype()), op, ": inv_freq ",
             dtype_name(inv_freq.dtype()), " must be ", dtype_name(math_dtype(x.dtype())),
             " for ", dtype_name(x.dtype()), " x (bfloat16 x keeps float32 frequencies)");
  Tensor y(x.shape(), x.dtype(), x.device());
  dispatch_with_bf16({x, position_ids, inv_freq}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    rope_rotate(dev, x.data<T>(), position_ids.data<int64_t>(), inv_freq.data<math_t<T>>(),
                y.data<T>(), B * N, heads, half, inverse);
  });
  return y;
}

}  // namespace neat
