#include "nn/peft/pissa.h"

#include <cmath>

#include "tensor/elementwise.h"
#include "tensor/matmul.h"
#include "tensor/shape_ops.h"
#include "tensor/svd.h"

namespace neat {

void init_lora_from_svd(Lora& layer, SvdInit which) {
  NEAT_CHECK(!layer.merged(), "init_lora_from_svd: the layer is merged");
  NoGradGuard no_grad;
  const Tensor w = layer.weight.data();
  const int64_t out = w.size(0), in = w.size(1), r = layer.options().rank;
  const int64_t k = std::min(out, in);
  NEAT_CHECK(r <= k, "init_lora_from_svd: rank ", r, " exceeds min(out, in) = ", k,
             " of the weight ", shape_str(w.shape()));
  Svd d = svd(w);
  const int64_t first = which == SvdInit::Principal ? 0 : k - r;
  Tensor u = narrow(d.U, 1, first, r).to(DType::Float64);    // [OUT, R]
  Tensor s = narrow(d.S, 0, first, r).to(DType::Float64);    // [R]
  Tensor vh = narrow(d.Vh, 0, first, r).to(DType::Float64);  // [R, IN]
  const double scaling = layer.scaling();
  Tensor a({r, in}, DType::Float64), b({out, r}, DType::Float64);
  for (int64_t j = 0; j < r; ++j) {
    const double root = std::sqrt(s.data<double>()[j] / scaling);
    for (int64_t i = 0; i < in; ++i) a.data<double>()[j * in + i] = root * vh.data<double>()[j * in + i];
    for (int64_t o = 0; o < out; ++o) b.data<double>()[o * r + j] = u.data<double>()[o * r + j] * root;
  }
  layer.lora_A->weight.data().copy_from(a);
  layer.lora_B->weight.data().copy_from(b);
  // The residual is formed from the A and B as stored (in the weight's dtype), so that
  // W0_res + s B A reproduces W0 up to one rounding.
  Tensor chosen = matmul(layer.lora_B->weight.data(), layer.lora_A->weight.data());
  Tensor residual = w;
  axpy_(residual, -scaling, chosen);
}

}  // namespace neat
