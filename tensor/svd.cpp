#include "tensor/svd.h"

#include <vector>

#include "tensor/cpu/svd.h"
#include "tensor/matmul.h"
#include "tensor/shape_ops.h"

namespace neat {

namespace {

void check_matrix(const Tensor& a, const char* op) {
  check_float(a, op);
  NEAT_CHECK(a.dim() == 2, op, ": expects a matrix, got shape ", shape_str(a.shape()));
  NEAT_CHECK(a.numel() > 0, op, ": empty matrix of shape ", shape_str(a.shape()));
}

// Fixes the signs (cpu::svd_fix_signs) and gives the factors a's dtype and device.
Svd finish(Tensor u, Tensor s, Tensor vh, const Tensor& a) {
  cpu::svd_fix_signs(u.data<double>(), vh.data<double>(), u.size(0), u.size(1), vh.size(1));
  return {u.to(a.dtype()).to(a.device()), s.to(a.dtype()).to(a.device()),
          vh.to(a.dtype()).to(a.device())};
}

// q [m, k] with orthonormal columns spanning those of x [m, k] (m >= k; Householder QR's Q).
Tensor orthonormal_columns(const Tensor& x) {
  const int64_t m = x.size(0), k = x.size(1);
  Tensor work = x.clone();
  std::vector<double> d(static_cast<size_t>(k)), e(static_cast<size_t>(k)), tau(static_cast<size_t>(k)), unused(static_cast<size_t>(k));
  cpu::svd_bidiagonalize(work.data<double>(), m, k, d.data(), e.data(), tau.data(),
                         unused.data(), /*bidiagonal=*/false);
  Tensor qt({k, m}, DType::Float64);
  cpu::svd_form_qt(work.data<double>(), m, k, tau.data(), qt.data<double>());
  return transpose(qt, 0, 1);
}

}  // namespace

Svd svd(const Tensor& a) {
  check_matrix(a, "svd");
  const int64_t m = a.size(0), n = a.size(1);
  // The kernel decomposes a tall matrix: for a wide one, a^T = V S U^T.
  const bool wide = m < n;
  // It runs on the host for every device: the SVD runs once per adapted layer, when PiSSA or
  // MiLoRA initialise, so a GPU matrix is copied over and its factors copied back. The one
  // compiled kernel gives the same bits on either device.
  Tensor tall = (wide ? transpose(a, 0, 1) : a).to(DType::Float64).to(Device::CPU);
  const int64_t rows = wide ? n : m, k = wide ? m : n;
  Tensor u({rows, k}, DType::Float64), s({k}, DType::Float64), vt({k, k}, DType::Float64);
  cpu::svd_tall(cpu::Cpu{}, tall.data<double>(), rows, k, u.data<double>(), s.data<double>(),
                vt.data<double>());
  // a = (a^T)^T = (u s vt)^T = vt^T s u^T
  if (wide) return finish(transpose(vt, 0, 1), s, transpose(u, 0, 1), a);
  return finish(u, s, vt, a);
}

Svd svd_lowrank(const Tensor& a, int64_t q, int64_t niter, Generator& gen) {
  check_matrix(a, "svd_lowrank");
  const int64_t m = a.size(0), n = a.size(1);
  NEAT_CHECK(q >= 1 && q <= std::min(m, n), "svd_lowrank: q = ", q, " is not in 1..",
             std::min(m, n), " for the matrix ", shape_str(a.shape()));
  NEAT_CHECK(niter >= 0, "svd_lowrank: niter = ", niter, " must be >= 0");
  // As torch: work on the tall one of a and a^T (t [rows, cols], rows >= cols).
  const bool wide = m < n;
  const Tensor t = (wide ? transpose(a, 0, 1) : a).to(DType::Float64).to(Device::CPU);
  Tensor basis = orthonormal_columns(matmul(t, randn({t.size(1), q}, gen, DType::Float64)));
  for (int64_t i = 0; i < niter; ++i) {
    basis = orthonormal_columns(matmul(t, basis, /*trans_a=*/true));   // [cols, q]
    basis = orthonormal_columns(matmul(t, basis));                     // [rows, q]
  }
  // t ~ basis basis^T t = basis (b = x s y^T) with b = basis^T t [q, cols].
  const Svd small = svd(matmul(basis, t, /*trans_a=*/true));
  const Tensor u = matmul(basis, small.U);   // [rows, q]
  if (wide) return finish(transpose(small.Vh, 0, 1), small.S, transpose(u, 0, 1), a);
  return finish(u, small.S, small.Vh.clone(), a);
}

}  // namespace neat
