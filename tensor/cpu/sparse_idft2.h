// The two sparse stages of a 2-D inverse DFT of a spectrum with n nonzeros (FourierFT's
// Delta W, docs/fourierft.md). With the nonzeros' rows grouped into U distinct row slots:
//
//   stage 1 (here):  t [2U, I]   t[j, q]     = sum over k in slot j of c_k cos(2 pi v_k q / I)
//                                t[U + j, q] = sum over k in slot j of c_k sin(2 pi v_k q / I)
//   stage 2 (GEMM):  out [O, I] = basis [O, 2U] x t,  basis[p, j] = cos(2 pi u_j p / O),
//                                                     basis[p, U + j] = -sin(2 pi u_j p / O)
//
// so out[p, q] = sum_k c_k cos(2 pi (u_k p / O + v_k q / I)) = Re(sum_k c_k e^{i ...}).
// Stage 1 costs O(n I), the basis O(U O); the angles come from one table of length I (or O)
// indexed by (v q) mod I, which is exact.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/cpu/device.h"

namespace neat::cpu {

// table[m] = (cos, sin)(2 pi m / period), m in [0, period).
inline void unit_circle_table(int64_t period, std::vector<double>& cos_table,
                              std::vector<double>& sin_table) {
  const double two_pi = 6.283185307179586476925286766559;
  cos_table.resize(size_t(period));
  sin_table.resize(size_t(period));
  for (int64_t m = 0; m < period; ++m) {
    cos_table[size_t(m)] = std::cos(two_pi * double(m) / double(period));
    sin_table[size_t(m)] = std::sin(two_pi * double(m) / double(period));
  }
}

// Stage 1: coef [n], slot [n] (the row slot of each nonzero), col [n] in [0, in_features)
// -> t [2 slots, in_features], overwritten.
template <typename T>
void sparse_idft_rows(Cpu, const T* coef, const int64_t* slot, const int64_t* col, int64_t n,
                      int64_t slots, int64_t in_features, T* t) {
  std::vector<double> c, s;
  unit_circle_table(in_features, c, s);
  for (int64_t i = 0; i < 2 * slots * in_features; ++i) t[i] = T(0);
  for (int64_t k = 0; k < n; ++k) {
    T* re = t + slot[k] * in_features;
    T* im = t + (slots + slot[k]) * in_features;
    const double value = double(coef[k]);
    int64_t m = 0;   // (v_k q) mod in_features, stepped without a multiply
    for (int64_t q = 0; q < in_features; ++q) {
      re[q] += T(value * c[size_t(m)]);
      im[q] += T(value * s[size_t(m)]);
      m += col[k];
      if (m >= in_features) m -= in_features;
    }
  }
}

// Stage 1's adjoint: r [2 slots, in_features] -> coef_grad [n] (+=), where
//   coef_grad[k] += sum_q r[slot_k, q] cos(2 pi v_k q / I) + r[U + slot_k, q] sin(2 pi v_k q / I).
template <typename T>
void sparse_idft_rows_adjoint(Cpu, const T* r, const int64_t* slot, const int64_t* col, int64_t n,
                              int64_t slots, int64_t in_features, T* coef_grad) {
  std::vector<double> c, s;
  unit_circle_table(in_features, c, s);
  for (int64_t k = 0; k < n; ++k) {
    const T* re = r + slot[k] * in_features;
    const T* im = r + (slots + slot[k]) * in_features;
    double total = 0;
    int64_t m = 0;
    for (int64_t q = 0; q < in_features; ++q) {
      total += double(re[q]) * c[size_t(m)] + double(im[q]) * s[size_t(m)];
      m += col[k];
      if (m >= in_features) m -= in_features;
    }
    coef_grad[k] += T(total);
  }
}

// Stage 2's basis: rows [slots] (the distinct spectrum rows u_j) -> basis [out_features, 2 slots]
// with basis[p, j] = scale cos(2 pi u_j p / O) and basis[p, U + j] = -scale sin(2 pi u_j p / O).
template <typename T>
void idft_row_basis(Cpu, const int64_t* rows, int64_t slots, int64_t out_features, double scale,
                    T* basis) {
  std::vector<double> c, s;
  unit_circle_table(out_features, c, s);
  for (int64_t p = 0; p < out_features; ++p)
    for (int64_t j = 0; j < slots; ++j) {
      const size_t m = size_t((rows[j] * p) % out_features);
      basis[p * 2 * slots + j] = T(scale * c[m]);
      basis[p * 2 * slots + slots + j] = T(-scale * s[m]);
    }
}

}  // namespace neat::cpu
