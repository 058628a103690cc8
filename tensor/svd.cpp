#include "tensor/svd.h"

#include "tensor/cpu/svd_jacobi.h"
#include "tensor/shape_ops.h"

namespace neat {

Svd svd(const Tensor& a) {
  check_float(a, "svd");
  NEAT_CHECK(a.dim() == 2, "svd: expects a matrix, got shape ", shape_str(a.shape()));
  NEAT_CHECK(a.numel() > 0, "svd: empty matrix of shape ", shape_str(a.shape()));
  const int64_t m = a.size(0), n = a.size(1);
  // Jacobi works on the columns of a tall matrix: for a wide one, decompose a^T = V S U^T.
  const bool wide = m < n;
  // It runs on the host for every device: the SVD runs once per adapted layer, when PiSSA or
  // MiLoRA initialise, so a GPU matrix is copied over and its factors copied back. The one
  // compiled Jacobi gives the same bits on either device.
  Tensor tall = (wide ? transpose(a, 0, 1) : a).to(DType::Float64).to(Device::CPU);
  const int64_t rows = wide ? n : m, k = wide ? m : n;
  Tensor u({rows, k}, DType::Float64), s({k}, DType::Float64), v({k, k}, DType::Float64);
  cpu::svd_jacobi(cpu::Cpu{}, tall.data<double>(), rows, k, u.data<double>(), s.data<double>(),
                  v.data<double>());
  Svd out;
  if (wide) {   // a = (a^T)^T = (u s v^T)^T = v s u^T
    out.U = v;
    out.Vh = transpose(u, 0, 1);
  } else {
    out.U = u;
    out.Vh = transpose(v, 0, 1);
  }
  out.S = s;
  out.U = out.U.to(a.dtype()).to(a.device());
  out.S = out.S.to(a.dtype()).to(a.device());
  out.Vh = out.Vh.to(a.dtype()).to(a.device());
  return out;
}

}  // namespace neat
