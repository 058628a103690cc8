// bfloat16 kernels of layer norm, RMS norm, softmax, cross-entropy, RoPE and packed attention:
// each op's bf16 forward and backward against the float64 op at the same (bf16-rounded) inputs,
// the dtypes of what it returns and saves, and a few cases where float32 statistics matter.
//
// Tolerances. u = 2^-8 is bf16's unit roundoff, g(n) = (n + 2) 2^-24 the error of a float32 sum
// of n terms relative to the sum of their magnitudes. These kernels read exact bf16 inputs, do
// their math in float32 and round each output once, so an output element differs from float64 by
//   |got - want| <= u |want| + g(n) S                                                   (1)
// with n the op's reduction length and S the magnitude of the summed terms (for the norms and
// softmax about the tensor's own scale). Tested per tensor against its largest value:
//   |got - want| <= 2 (u + g(n)) max |want|,
// the 2 covering terms larger than the result. A float32 output (the loss) has no u term.
// Attention also rounds intermediates to bf16: P before P V (forward), dS before dS K and
// dS^T Q (backward); each adds u times the magnitude of the sum it enters, bounded from the
// inputs where noted at its check.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "autograd/nn_functional.h"
#include "tensor/cross_entropy.h"
#include "tensor/gpu.h"
#include "tensor/layer_norm.h"
#include "tensor/packed_attention.h"
#include "tensor/rms_norm.h"
#include "tensor/rope.h"
#include "tensor/softmax.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "tests/tensor_check.h"

using namespace neat;
using neat::test::check_tensor;
using neat::test::max_abs;
using neat::test::random64;
using neat::test::skip;

namespace {

const DType bf16 = DType::BFloat16, f32 = DType::Float32, f64 = DType::Float64;
const double u = std::ldexp(1.0, -8);

double g(int64_t n) { return double(n + 2) * std::ldexp(1.0, -24); }

// An input of the op in bf16, and the same values in float64 for the reference.
struct Input {
  Tensor b, d;
};
Input bf16_input(const Tensor& x64) {
  Tensor b = x64.to(bf16);
  return {b, b.to(f64)};
}

// max |dP| of attention's dP = dO V^T over every (b, query head h, i, j), in float64: dO
// [B, Nq, H*dv], V [B, Nk, Hkv*dv] packed, query head h reading value head h / (H / Hkv).
double max_abs_dp(const Tensor& dout, const Tensor& v, int64_t H, int64_t Hkv) {
  const int64_t B = v.size(0), Nq = dout.size(1), Nk = v.size(1), dv = v.size(2) / Hkv;
  double largest = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Nq; ++i)
        for (int64_t j = 0; j < Nk; ++j) {
          double dp = 0;
          for (int64_t c = 0; c < dv; ++c)
            dp += dout.at({b, i, h * dv + c}) * v.at({b, j, h / (H / Hkv) * dv + c});
          largest = std::max(largest, std::abs(dp));
        }
  return largest;
}

// got has dtype `dtype` and is within rtol max|want| of want everywhere.
void check_close(const std::string& label, const Tensor& got, DType dtype, const Tensor& want,
                 double rtol) {
  CHECK_MESSAGE(got.dtype() == dtype, label, ": ", dtype_name(got.dtype()));
  check_tensor(label, got.to(f64), want, rtol, 1e-300);
}

// The same with an absolute bound.
void check_within(const std::string& label, const Tensor& got, DType dtype, const Tensor& want,
                  double bound) {
  check_close(label, got, dtype, want, bound / std::max(max_abs(want), 1e-300));
}

}  // namespace

TEST_CASE("bf16 layer_norm forward and backward against float64, with and without affine") {
  const int64_t rows = 6, D = 40;
  const Input x = bf16_input(random64({2, 3, D}, 1, -2, 2)), w = bf16_input(random64({D}, 2)),
              b = bf16_input(random64({D}, 3)), dy = bf16_input(random64({2, 3, D}, 4));
  const double tol = 2 * (u + g(D)), tol_rows = 2 * (u + g(rows));
  for (bool affine : {true, false}) {
    CAPTURE(affine);
    const Tensor wb = affine ? w.b : Tensor(), bb = affine ? b.b : Tensor();
    const Tensor wd = affine ? w.d : Tensor(), bd = affine ? b.d : Tensor();
    LayerNormForward got = layer_norm_forward(x.b, wb, bb, 1e-5);
    LayerNormForward want = layer_norm_forward(x.d, wd, bd, 1e-5);
    check_close("y", got.y, bf16, want.y, tol);
    check_close("mean", got.mean, f32, want.mean, 2 * g(D));
    check_close("rstd", got.rstd, f32, want.rstd, 2 * g(D));
    LayerNormGrads gg =
        layer_norm_backward(dy.b, x.b, wb, got.mean, got.rstd, true, affine, affine);
    LayerNormGrads gw =
        layer_norm_backward(dy.d, x.d, wd, want.mean, want.rstd, true, affine, affine);
    check_close("dx", gg.x, bf16, gw.x, tol);
    if (affine) {
      check_close("dweight", gg.weight, bf16, gw.weight, tol_rows);
      check_close("dbias", gg.bias, bf16, gw.bias, tol_rows);
    }
  }
  // The statistics must be float32 for a bf16 input: float64 ones are refused by name.
  LayerNormForward f = layer_norm_forward(x.b, w.b, b.b, 1e-5);
  CHECK(neat::test::mentions(neat::test::thrown_message([&] {
    layer_norm_backward(dy.b, x.b, w.b, f.mean.to(f64), f.rstd, true, false, false);
  }), {"layer_norm_backward", "float32", "bfloat16"}));
}

TEST_CASE("bf16 layer_norm of rows with a large mean (1000 + N(0, 1)): float32 statistics") {
  // bf16 keeps 1000 + N(0, 1) as 996, 1000, 1004, ...: var ~ 0.7, mean^2 = 1e6. A float32
  // E[x^2] - E[x]^2 would lose var to cancellation (1e6 2^-24 = 0.06 per rounding, summed over
  // D terms); the kernels' shifted or two-pass sums keep y within (1).
  const int64_t D = 768;
  Generator gen(5);
  Tensor x64 = randn({4, D}, gen, f64);
  for (int64_t i = 0; i < x64.numel(); ++i) x64.data<double>()[i] += 1000;
  const Input x = bf16_input(x64);
  const Input w = bf16_input(random64({D}, 6)), b = bf16_input(random64({D}, 7));
  LayerNormForward got = layer_norm_forward(x.b, w.b, b.b, 1e-5);
  LayerNormForward want = layer_norm_forward(x.d, w.d, b.d, 1e-5);
  check_close("y", got.y, bf16, want.y, 2 * (u + g(D)));
  check_close("rstd", got.rstd, f32, want.rstd, 2 * g(D));
  check_close("mean", got.mean, f32, want.mean, 2 * g(D));
}

TEST_CASE("bf16 rms_norm forward and backward against float64") {
  const int64_t D = 24;
  const Input x = bf16_input(random64({5, D}, 11, -2, 2)), w = bf16_input(random64({D}, 12)),
              dy = bf16_input(random64({5, D}, 13));
  RmsNormForward got = rms_norm_forward(x.b, w.b, 1e-6);
  RmsNormForward want = rms_norm_forward(x.d, w.d, 1e-6);
  check_close("y", got.y, bf16, want.y, 2 * (u + g(D)));
  check_close("rstd", got.rstd, f32, want.rstd, 2 * g(D));
  RmsNormGrads gg = rms_norm_backward(dy.b, x.b, w.b, got.rstd, true, true);
  RmsNormGrads gw = rms_norm_backward(dy.d, x.d, w.d, want.rstd, true, true);
  check_close("dx", gg.x, bf16, gw.x, 2 * (u + g(D)));
  check_close("dweight", gg.weight, bf16, gw.weight, 2 * (u + g(5)));
}

TEST_CASE("bf16 softmax and log_softmax forward and backward against float64, any dim") {
  const Input x = bf16_input(random64({3, 20, 4}, 21, -6, 6)),
              dy = bf16_input(random64({3, 20, 4}, 22));
  for (int64_t dim : {2, 1}) {   // contiguous rows, and rows 4 apart
    CAPTURE(dim);
    const int64_t n = x.b.size(dim);
    const double tol = 2 * (u + g(n));
    Tensor y = softmax(x.b, dim), ly = log_softmax(x.b, dim);
    check_close("softmax", y, bf16, softmax(x.d, dim), tol);
    check_close("log_softmax", ly, bf16, log_softmax(x.d, dim), tol);
    // The backward at the saved (bf16) output, against float64 at the same values.
    check_close("softmax_backward", softmax_backward(dy.b, y, dim), bf16,
                softmax_backward(dy.d, y.to(f64), dim), tol);
    check_close("log_softmax_backward", log_softmax_backward(dy.b, ly, dim), bf16,
                log_softmax_backward(dy.d, ly.to(f64), dim), tol);
  }
  // Large logits (exact in bf16): the max is taken out in float32, so nothing overflows and the
  // small weights keep their relative precision.
  Tensor big =
      from_vector(std::vector<float>{30080, 30080, -30080, 1000, 1000, 992}, {2, 3}).to(bf16);
  Tensor p = softmax(big, 1);
  const double e8 = std::exp(-8.0);
  check_close("softmax of large logits", p, bf16,
              from_vector(std::vector<double>{0.5, 0.5, 0, 1 / (2 + e8), 1 / (2 + e8),
                                              e8 / (2 + e8)}, {2, 3}),
              2 * (u + g(3)));
  CHECK(p.flat(5) == doctest::Approx(e8 / (2 + e8)).epsilon(u));
}

TEST_CASE("bf16 cross_entropy: a float32 loss and log_probs, bf16 dlogits, through autograd too") {
  const int64_t N = 5, C = 7;
  const Input logits = bf16_input(random64({N, C}, 31, -4, 4));
  const Tensor labels = from_vector(std::vector<int64_t>{0, 6, 3, 3, 1});
  for (double eps : {0.0, 0.1}) {
    CAPTURE(eps);
    CrossEntropyForward got = cross_entropy_forward(logits.b, labels, eps);
    CrossEntropyForward want = cross_entropy_forward(logits.d, labels, eps);
    // float32 log-softmax of exact inputs: each log p within g(C) (|max| + |log sum|), and the
    // loss a float32-rounded mean of N of them.
    const double lp_bound = 2 * g(C) * (max_abs(logits.d) + max_abs(want.log_probs));
    check_within("log_probs", got.log_probs, f32, want.log_probs, lp_bound);
    check_within("loss", got.loss, f32, want.loss, lp_bound + 2 * g(N) * want.loss.item());
    // dlogits = grad / N (exp(lp) - target), rounded once to bf16.
    const Tensor grad = full({}, 0.75, f32), grad64 = full({}, 0.75, f64);
    check_close("dlogits",
                cross_entropy_backward(grad, got.log_probs, labels, eps, bf16), bf16,
                cross_entropy_backward(grad64, want.log_probs, labels, eps), 2 * (u + g(C)));
  }
  // A bf16 logits Variable: the loss is float32, and backward() seeds it with a float32 1 and
  // gives the logits a bf16 gradient.
  Variable z(logits.b, /*requires_grad=*/true), z64(logits.d, true);
  Variable loss = cross_entropy(z, labels, 0.1);
  CHECK(loss.dtype() == f32);
  loss.backward();
  Variable loss64 = cross_entropy(z64, labels, 0.1);
  loss64.backward();
  check_close("logits.grad", z.grad(), bf16, z64.grad(), 2 * (u + g(C)));
  // Labels are still checked; bf16 dlogits need float32 log_probs.
  CHECK(neat::test::mentions(neat::test::thrown_message([&] {
    cross_entropy_backward(full({}, 1.0, f64), logits.d, labels, 0.0, bf16);
  }), {"cross_entropy_backward", "bfloat16", "float64"}));
}

TEST_CASE("bf16 mse_loss: a float32 loss, a bf16 gradient") {
  const Input x = bf16_input(random64({4, 6}, 35)), t = bf16_input(random64({4, 6}, 36));
  Variable xb(x.b, /*requires_grad=*/true), xd(x.d, true);
  Variable loss = mse_loss(xb, t.b), loss64 = mse_loss(xd, t.d);
  // float32 differences of exact bf16 values (one rounding each), squares and a sum of 24.
  check_close("loss", loss.data(), f32, loss64.data(), 2 * g(24 + 2));
  loss.backward();
  loss64.backward();
  check_close("dx", xb.grad(), bf16, xd.grad(), 2 * (u + g(2)));
}

TEST_CASE("bf16 rope forward and inverse against float64, float32 frequencies") {
  const int64_t B = 2, N = 3, heads = 2, hd = 8;
  const Input x = bf16_input(random64({B, N, heads * hd}, 41));
  const Tensor pos = from_vector(std::vector<int64_t>{0, 1, 2, 100, 2000, 7}, {B, N});
  Tensor inv_freq64({hd / 2}, f64);
  for (int64_t i = 0; i < hd / 2; ++i)
    inv_freq64.data<double>()[i] = std::pow(10000.0, -2.0 * double(i) / double(hd));
  const Tensor inv_freq = inv_freq64.to(f32);
  // The reference turns by the same float32 frequencies; a rotation's outputs are two-term sums.
  for (bool inverse : {false, true}) {
    CAPTURE(inverse);
    check_close("rope", rope(x.b, pos, inv_freq, heads, inverse), bf16,
                rope(x.d, pos, inv_freq.to(f64), heads, inverse), 2 * (u + g(2)));
  }
  CHECK(neat::test::mentions(neat::test::thrown_message([&] {
    rope(x.b, pos, inv_freq.to(bf16), heads);
  }), {"rope", "inv_freq bfloat16", "float32"}));
}

TEST_CASE("bf16 packed attention forward and backward against float64 (GQA, causal, mask)") {
  const int64_t B = 2, H = 4, Nq = 5, Nk = 6, d = 8, dv = 4;
  for (int64_t Hkv : {4, 2}) {
    for (bool causal : {false, true}) {
      CAPTURE(Hkv);
      CAPTURE(causal);
      const Input q = bf16_input(random64({B, Nq, H * d}, 51, -2, 2)),
                  k = bf16_input(random64({B, Nk, Hkv * d}, 52, -2, 2)),
                  v = bf16_input(random64({B, Nk, Hkv * dv}, 53)),
                  dout = bf16_input(random64({B, Nq, H * dv}, 54));
      const Input mask = bf16_input(random64({Nq, Nk}, 55));
      const PackedAttentionForward got =
          packed_attention_forward(q.b, k.b, v.b, H, mask.b, causal, Hkv);
      const PackedAttentionForward want =
          packed_attention_forward(q.d, k.d, v.d, H, mask.d, causal, Hkv);
      // S: float32 sums of d products, |S| <= d max|q| max|k| / sqrt(d) + max|mask|: P moves by
      // at most 2 g(d) |S| relative, then rounds (u). O = P V sums the rounded P: u max|V| more.
      const double s_max = std::sqrt(double(d)) * max_abs(q.d) * max_abs(k.d) + max_abs(mask.d);
      check_close("P", got.probs, bf16, want.probs, 2 * (u + 2 * g(d) * s_max));
      check_within("out", got.out, bf16, want.out,
                   2 * (u * max_abs(want.out) + (u + g(Nk) + 2 * g(d) * s_max) * max_abs(v.d)));
      // Backward at the saved bf16 P. dV = P^T dO is summed in float32 and rounded once. dS
      // (dS_ij = P_ij (dP_ij - rowsum(dP P)_i), so sum_j |dS_ij| <= 2 max|dP|) is rounded to
      // bf16 before dQ = dS K / sqrt(d) and dK = dS^T Q / sqrt(d): u of that sum on top of (1)
      // (dK's sum runs over the G query heads of a group too).
      const PackedAttentionGradients gg =
          packed_attention_backward(dout.b, q.b, k.b, v.b, got.probs, H, true, true, true, Hkv);
      const PackedAttentionGradients gw = packed_attention_backward(
          dout.d, q.d, k.d, v.d, got.probs.to(f64), H, true, true, true, Hkv);
      const double ds_sum = 2 * max_abs_dp(dout.d, v.d, H, Hkv), scale = 1 / std::sqrt(double(d));
      check_close("dv", gg.v, bf16, gw.v, 2 * (u + g(Nq * H / Hkv)));
      check_within("dq", gg.q, bf16, gw.q,
                   2 * ((u + g(Nk)) * max_abs(gw.q) + (u + g(dv)) * scale * ds_sum * max_abs(k.d)));
      check_within("dk", gg.k, bf16, gw.k,
                   2 * ((u + g(Nq * H)) * max_abs(gw.k) +
                        (u + g(dv)) * scale * ds_sum * double(H / Hkv) * max_abs(q.d)));
    }
  }
}

TEST_CASE("bf16 layer norm, softmax, cross_entropy, rope and attention on CUDA against the CPU") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  const Device gpu = Device::CUDA;
  // Both devices read the same bf16 inputs and round once from float32 math: each output within
  // (1) of float64, so within twice that of each other. D = 64 takes the 16-byte vector path,
  // D = 20 the one-value path.
  for (int64_t D : {64, 20}) {
    CAPTURE(D);
    const Input x = bf16_input(random64({3, D}, 61, -2, 2)), w = bf16_input(random64({D}, 62)),
                b = bf16_input(random64({D}, 63)), dy = bf16_input(random64({3, D}, 64));
    const double tol = 4 * (u + g(D));
    LayerNormForward c = layer_norm_forward(x.b, w.b, b.b, 1e-5);
    LayerNormForward gf = layer_norm_forward(x.b.to(gpu), w.b.to(gpu), b.b.to(gpu), 1e-5);
    check_close("layer_norm y", gf.y.to(Device::CPU), bf16, c.y.to(f64), tol);
    check_close("layer_norm rstd", gf.rstd.to(Device::CPU), f32, c.rstd.to(f64), 4 * g(D));
    LayerNormGrads cg = layer_norm_backward(dy.b, x.b, w.b, c.mean, c.rstd, true, true, true);
    LayerNormGrads gg = layer_norm_backward(dy.b.to(gpu), x.b.to(gpu), w.b.to(gpu), gf.mean,
                                            gf.rstd, true, true, true);
    check_close("layer_norm dx", gg.x.to(Device::CPU), bf16, cg.x.to(f64), tol);
    check_close("layer_norm dweight", gg.weight.to(Device::CPU), bf16, cg.weight.to(f64),
                4 * (u + g(3)));
    RmsNormForward rc = rms_norm_forward(x.b, w.b, 1e-6);
    RmsNormForward rg = rms_norm_forward(x.b.to(gpu), w.b.to(gpu), 1e-6);
    check_close("rms_norm y", rg.y.to(Device::CPU), bf16, rc.y.to(f64), tol);
    RmsNormGrads rcg = rms_norm_backward(dy.b, x.b, w.b, rc.rstd, true, true);
    RmsNormGrads rgg =
        rms_norm_backward(dy.b.to(gpu), x.b.to(gpu), w.b.to(gpu), rg.rstd, true, true);
    check_close("rms_norm dx", rgg.x.to(Device::CPU), bf16, rcg.x.to(f64), tol);
    Tensor y = softmax(x.b, 1);
    check_close("softmax", softmax(x.b.to(gpu), 1).to(Device::CPU), bf16, y.to(f64), tol);
    check_close("softmax_backward", softmax_backward(dy.b.to(gpu), y.to(gpu), 1).to(Device::CPU),
                bf16, softmax_backward(dy.b, y, 1).to(f64), tol);
    const Tensor labels = from_vector(std::vector<int64_t>{0, 5, D - 1});
    CrossEntropyForward ce = cross_entropy_forward(x.b, labels, 0.1);
    CrossEntropyForward ceg = cross_entropy_forward(x.b.to(gpu), labels.to(gpu), 0.1);
    check_close("cross_entropy loss", ceg.loss.to(Device::CPU), f32, ce.loss.to(f64), 4 * g(D));
    check_close("cross_entropy dlogits",
                cross_entropy_backward(full({}, 1.0, f32, gpu), ceg.log_probs, labels.to(gpu), 0.1,
                                       bf16).to(Device::CPU), bf16,
                cross_entropy_backward(full({}, 1.0, f32), ce.log_probs, labels, 0.1, bf16).to(f64),
                tol);
  }
  const Input q = bf16_input(random64({2, 5, 16}, 71)), k = bf16_input(random64({2, 5, 16}, 72)),
              v = bf16_input(random64({2, 5, 16}, 73)), dout = bf16_input(random64({2, 5, 16}, 74));
  PackedAttentionForward c = packed_attention_forward(q.b, k.b, v.b, 2, Tensor(), true);
  PackedAttentionForward gf = packed_attention_forward(q.b.to(gpu), k.b.to(gpu), v.b.to(gpu), 2,
                                                       Tensor(), true);
  // Each device within the bounds of the test above of float64, so within their sum of each
  // other (CUDA's float32 path rounds no P nor dS: it is the tighter one).
  const double scale = 1 / std::sqrt(8.0), ds_sum = 2 * max_abs_dp(dout.d, v.d, 2, 2),
               s_max = std::sqrt(8.0) * max_abs(q.d) * max_abs(k.d);
  check_close("attention P", gf.probs.to(Device::CPU), bf16, c.probs.to(f64),
              4 * (u + 2 * g(8) * s_max));
  check_within("attention out", gf.out.to(Device::CPU), bf16, c.out.to(f64),
               4 * (u * max_abs(c.out.to(f64)) + (u + g(5) + 2 * g(8) * s_max) * max_abs(v.d)));
  PackedAttentionGradients cg =
      packed_attention_backward(dout.b, q.b, k.b, v.b, c.probs, 2, true, true, true);
  PackedAttentionGradients gg = packed_attention_backward(
      dout.b.to(gpu), q.b.to(gpu), k.b.to(gpu), v.b.to(gpu), c.probs.to(gpu), 2, true, true, true);
  check_close("attention dv", gg.v.to(Device::CPU), bf16, cg.v.to(f64), 4 * (u + g(5)));
  check_within("attention dq", gg.q.to(Device::CPU), bf16, cg.q.to(f64),
               4 * ((u + g(5)) * max_abs(cg.q.to(f64)) +
                    (u + g(8)) * scale * ds_sum * max_abs(k.d)));
  check_within("attention dk", gg.k.to(Device::CPU), bf16, cg.k.to(f64),
               4 * ((u + g(5)) * max_abs(cg.k.to(f64)) +
                    (u + g(8)) * scale * ds_sum * max_abs(q.d)));
  Tensor inv_freq = from_vector(std::vector<float>{1.0f, 0.1f, 0.01f, 0.001f});
  Tensor pos = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 900, 901, 902, 903, 904}, {2, 5});
  check_close("rope", rope(q.b.to(gpu), pos.to(gpu), inv_freq.to(gpu), 2).to(Device::CPU), bf16,
              rope(q.b, pos, inv_freq, 2).to(f64), 4 * (u + g(2)));
}
