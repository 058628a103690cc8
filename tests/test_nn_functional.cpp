// softmax, log_softmax, layer_norm, cross_entropy, dropout and scaled dot-product attention:
// forward values against numbers computed once with PyTorch, float32 and large inputs, saved
// statistics, the dropout mask, and the error messages. Gradients and the float64 forward
// against a loop: the op table (tests/test_ops.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "tests/tensor_check.h"
#include "autograd/nn_functional.h"
#include "tensor/gpu.h"
#include "tensor/cross_entropy.h"
#include "tensor/dropout.h"
#include "tensor/layer_norm.h"
#include "tensor/packed_attention.h"
#include "tensor/softmax.h"

using namespace neat;
using neat::test::cuda_nmse;
using neat::test::random64;
using neat::test::skip;
using neat::test::thrown_message;

namespace {

const DType f64 = DType::Float64;

// Largest |got - want| over all elements (shapes must match).
double max_diff(const Tensor& got, const std::vector<double>& want) {
  REQUIRE(got.numel() == int64_t(want.size()));
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) worst = std::max(worst, std::abs(got.flat(i) - want[size_t(i)]));
  return worst;
}

}  // namespace

TEST_CASE("softmax and log_softmax forward values") {
  // torch.softmax(torch.tensor([1., 2., 3.], dtype=torch.float64), 0)
  const std::vector<double> want = {0.09003057317038045, 0.2447284710547976, 0.6652409557748218};
  Tensor x = from_vector(std::vector<double>{1, 2, 3});
  CHECK(max_diff(softmax(x, 0), want) < 1e-15);
  CHECK(max_diff(log_softmax(x, -1), {std::log(want[0]), std::log(want[1]), std::log(want[2])}) < 1e-14);
  // Large logits do not overflow (the max is subtracted first), in float32 too.
  Tensor big = from_vector(std::vector<float>{1000, 1000, -1000}, {1, 3});
  CHECK(max_diff(softmax(big, 1), {0.5, 0.5, 0}) < 1e-7);
  CHECK(max_diff(log_softmax(big, 1), {-std::log(2.0), -std::log(2.0), -2000 - std::log(2.0)}) < 1e-3);
  // Over a middle dim: each column of a [2, 3, 2] tensor along dim 1 sums to 1.
  Generator gen(1);
  Tensor y = softmax(randn({2, 3, 2}, gen, f64), 1);
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t i = 0; i < 2; ++i)
      CHECK(y.at({o, 0, i}) + y.at({o, 1, i}) + y.at({o, 2, i}) == doctest::Approx(1.0).epsilon(1e-14));
}

TEST_CASE("softmax: rows with NaN or an infinite max give NaN, as PyTorch; float32 flushes e^-101") {
  // torch.softmax: a NaN anywhere in a row, a +inf, or a row that is all -inf make the whole
  // row NaN. Each input runs through the generic op (one row at a time) and through attention's
  // in-place block of rows, whose scores are exactly the input: q = 0, so Q K^T is 0 and the
  // additive mask is all there is.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  auto both_paths = [](const Tensor& x) {
    const Tensor q = zeros({1, x.size(0), 2}, x.dtype()), kv = zeros({1, x.size(1), 2}, x.dtype());
    return std::vector<Tensor>{softmax(x, 1),
                               packed_attention_forward(q, kv, kv, 1, x).probs.reshape(x.shape())};
  };
  for (DType dtype : {DType::Float32, DType::Float64}) {
    CAPTURE(dtype_name(dtype));
    const Tensor bad = from_vector(std::vector<double>{0.5, nan, 1.0, 2.0,       // NaN inside
                                                       inf, 1.0, -1.0, 0.0,      // +inf
                                                       -inf, -inf, -inf, -inf},  // all masked
                                   {3, 4}).to(dtype);
    for (const Tensor& y : both_paths(bad))
      for (int64_t i = 0; i < y.numel(); ++i) CHECK(std::isnan(y.flat(i)));
    // An ordinary row: one masked key, one whose weight e^-101 / (1 + e^-1 + e^-101) is below
    // float's smallest normal (1.2e-38): 0 in float32 (no subnormal), itself in float64.
    const Tensor row = from_vector(std::vector<double>{0.0, -100.0, -inf, 1.0}, {1, 4}).to(dtype);
    const double tiny = std::exp(-101.0) / (1 + std::exp(-1.0) + std::exp(-101.0));
    for (const Tensor& y : both_paths(row)) {
      CHECK(y.flat(1) == (dtype == DType::Float32 ? 0.0 : doctest::Approx(tiny).epsilon(1e-12)));
      CHECK(y.flat(2) == 0.0);
      CHECK(y.flat(0) + y.flat(3) == doctest::Approx(1.0).epsilon(1e-6));
    }
  }
}

TEST_CASE("layer_norm forward values and saved statistics") {
  // torch.nn.functional.layer_norm(x, (5,), w, b, 1e-5) in float64 with these x, w, b.
  Tensor x = from_vector(std::vector<double>{1, 2, 4, -1, 0.5, 3, 3, 3, 3, 3.1}, {2, 5});
  Tensor w = from_vector(std::vector<double>{0.5, -1, 2, 1.5, 1});
  Tensor b = from_vector(std::vector<double>{0.1, 0.2, -0.3, 0, 1});
  const std::vector<double> want = {0.009710773752963836, -0.22134972248616896, 2.9504121448933036,
                                    -2.0766522036818325,  0.518457460015807,    -0.14922239313961114,
                                    0.6984447862792222,   -1.2968895725584446,  -0.7476671794188334,
                                    2.993779145116916};
  LayerNormForward f = layer_norm_forward(x, w, b, 1e-5);
  CHECK(max_diff(f.y, want) < 1e-12);
  CHECK(max_diff(f.mean, {1.3, 3.02}) < 1e-14);
  CHECK(f.rstd.flat(1) == doctest::Approx(1.0 / std::sqrt(0.0016 + 1e-5)).epsilon(1e-12));
  // float32 agrees with float64 to float precision; no weight / bias means 1 / 0.
  LayerNormForward f32 = layer_norm_forward(x.to(DType::Float32), w.to(DType::Float32),
                                            b.to(DType::Float32), 1e-5);
  CHECK(max_diff(f32.y, want) < 1e-5);
  LayerNormForward plain = layer_norm_forward(x, Tensor(), Tensor(), 1e-5);
  CHECK(plain.y.at({0, 2}) == doctest::Approx((4 - 1.3) * f.rstd.flat(0)).epsilon(1e-14));
}

// The CPU kernel's one-pass sums are shifted by each row's first value: rows whose mean is far
// from 0, and a row whose first value is an outlier (the shift far from the mean), keep mean
// and rstd to double's rounding against a two-pass long double reference, in float64.
TEST_CASE("layer_norm's statistics hold for large offsets and an outlier as the first value") {
  Generator gen(5);
  const int64_t D = 192;
  std::vector<double> values;
  for (double offset : {0.0, 1e4, -3e7})
    for (int64_t j = 0; j < D; ++j) values.push_back(offset + gen.uniform(-0.1, 0.1));
  for (int64_t j = 0; j < D; ++j) values.push_back(j == 0 ? 1e8 : gen.uniform(-1.0, 1.0));
  const int64_t rows = int64_t(values.size()) / D;
  const LayerNormForward f =
      layer_norm_forward(from_vector(values, {rows, D}), Tensor(), Tensor(), 1e-5);
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = values.data() + r * D;
    long double sum = 0, sq = 0;
    for (int64_t j = 0; j < D; ++j) sum += row[j];
    const long double mean = sum / D;
    for (int64_t j = 0; j < D; ++j) sq += (row[j] - mean) * (row[j] - mean);
    const double rstd = double(1 / std::sqrt(sq / D + 1e-5L));
    CAPTURE(r);
    CHECK(f.mean.flat(r) == doctest::Approx(double(mean)).epsilon(1e-13));
    CHECK(f.rstd.flat(r) == doctest::Approx(rstd).epsilon(1e-12));
  }
}

TEST_CASE("layer_norm backward: large inputs give the same result as small-chunk sums") {
  // 600 x 64 crosses the parallel threshold; compare dw, db with plain float64 sums.
  Generator gen(5);
  Tensor x = randn({600, 64}, gen, f64), w = randn({64}, gen, f64), dy = randn({600, 64}, gen, f64);
  LayerNormForward f = layer_norm_forward(x, w, Tensor(), 1e-5);
  LayerNormGrads g = layer_norm_backward(dy, x, w, f.mean, f.rstd, true, true, true);
  double worst = 0;
  for (int64_t j = 0; j < 64; ++j) {
    double dw = 0, db = 0;
    for (int64_t r = 0; r < 600; ++r) {
      dw += dy.at({r, j}) * (x.at({r, j}) - f.mean.flat(r)) * f.rstd.flat(r);
      db += dy.at({r, j});
    }
    worst = std::max({worst, std::abs(g.weight.flat(j) - dw), std::abs(g.bias.flat(j) - db)});
  }
  CHECK(worst < 1e-10);
  CHECK(thrown_message([&] { layer_norm_forward(x, zeros({63}, f64), Tensor(), 1e-5); })
            .find("layer_norm: weight [63] does not match input [600, 64]") == 0);
}

TEST_CASE("layer_norm: equal values give y = b, and D = 1 gives dx = 0, exactly") {
  // xhat is 0 in a row whose values are all equal, so y = b with nothing left over; with D = 1
  // also g_j = mean(g), so dx = rstd (g_j - mean(g)) = 0, in float32 as in float64 (the GPU
  // kernel gives exact 0s; a dx pass that rounded dy w differently from its sums left noise
  // rstd times float's rounding on the CPU).
  Generator gen(9);
  for (DType dtype : {DType::Float32, DType::Float64})
    for (int64_t D : {1, 5, 192}) {
      CAPTURE(D);
      const Tensor x = full({3, D}, 0.37, dtype), w = randn({D}, gen, dtype),
                   b = randn({D}, gen, dtype), dy = randn({3, D}, gen, dtype);
      const LayerNormForward f = layer_norm_forward(x, w, b, 1e-5);
      for (int64_t i = 0; i < x.numel(); ++i) CHECK(f.y.flat(i) == b.flat(i % D));
      if (D != 1) continue;
      const LayerNormGrads g = layer_norm_backward(dy, x, w, f.mean, f.rstd, true, false, false);
      for (int64_t i = 0; i < x.numel(); ++i) CHECK(g.x.flat(i) == 0.0);
    }
}

TEST_CASE("cross_entropy forward matches PyTorch") {
  // torch.nn.functional.cross_entropy(logits, labels[, label_smoothing=...]) in float64.
  Tensor logits = from_vector(std::vector<double>{2, -1, 0.5, 0.1, 0.2, 0.3, -3, 4, 1, 1.5, 1.5, -0.5},
                              {4, 3});
  Tensor labels = from_vector(std::vector<int64_t>{0, 2, 1, 2});
  CHECK(cross_entropy_forward(logits, labels).loss.item() == doctest::Approx(1.01283335756539).epsilon(1e-13));
  CHECK(cross_entropy_forward(logits, labels, 0.1).loss.item() ==
        doctest::Approx(1.1028333575653901).epsilon(1e-13));
  CHECK(cross_entropy_forward(logits, labels, 1.0).loss.item() ==
        doctest::Approx(1.9128333575653902).epsilon(1e-13));
  CrossEntropyForward f32 = cross_entropy_forward(logits.to(DType::Float32), labels, 0.1);
  CHECK(f32.loss.dtype() == DType::Float32);
  CHECK(f32.loss.item() == doctest::Approx(1.1028333575653901).epsilon(1e-6));
  // The autograd version: same value, and dlogits rows sum to zero.
  Variable z(logits, true);
  Variable loss = cross_entropy(z, labels, 0.1);
  CHECK(loss.item() == doctest::Approx(1.1028333575653901).epsilon(1e-13));
  loss.backward();
  for (int64_t i = 0; i < 4; ++i)
    CHECK(std::abs(z.grad().at({i, 0}) + z.grad().at({i, 1}) + z.grad().at({i, 2})) < 1e-15);
}

TEST_CASE("cross_entropy errors name the label and the number of classes") {
  Tensor logits = zeros({3, 5});
  CHECK(thrown_message([&] { cross_entropy_forward(logits, from_vector(std::vector<int64_t>{0, 7, 1})); })
            .find("cross_entropy: label 7 at index 1 is out of range for C = 5 classes") == 0);
  CHECK(thrown_message([&] { cross_entropy_forward(logits, from_vector(std::vector<int64_t>{0, -1, 1})); })
            .find("label -1 at index 1") != std::string::npos);
  CHECK(thrown_message([&] { cross_entropy_forward(logits, from_vector(std::vector<int64_t>{0, 1})); })
            .find("cross_entropy: labels int64 [2] must be int64 [3]") == 0);
  CHECK(thrown_message([&] { cross_entropy_forward(zeros({5}), from_vector(std::vector<int64_t>{0})); })
            .find("cross_entropy: logits [5] must be [N, C]") == 0);
}

TEST_CASE("cuda: layer_norm and cross_entropy equal the CPU's; dw and db the same bits every run") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  auto gpu = [](const Tensor& t) { return t.defined() ? t.to(Device::CUDA) : t; };
  for (DType dt : {DType::Float32, DType::Float64}) {
    CAPTURE(dtype_name(dt));
    // Both devices accumulate in double, in other orders.
    const double tol = dt == DType::Float32 ? 1e-12 : 1e-24;
    // Rows fewer than a warp's block, a few, and 3000 (dw / db from many row chunks).
    for (const Shape& shape : {Shape{5, 7}, Shape{2, 20, 33}, Shape{3000, 96}}) {
      for (bool affine : {true, false}) {
        CAPTURE(shape_str(shape));
        CAPTURE(affine);
        const int64_t D = shape.back();
        const Tensor x = random64(shape, 20, -2, 3).to(dt), dy = random64(shape, 21).to(dt);
        const Tensor w = affine ? random64({D}, 22).to(dt) : Tensor();
        const Tensor b = affine ? random64({D}, 23).to(dt) : Tensor();
        const LayerNormForward want = layer_norm_forward(x, w, b, 1e-5);
        const LayerNormForward got = layer_norm_forward(gpu(x), gpu(w), gpu(b), 1e-5);
        CHECK(cuda_nmse(got.y, want.y) < tol);
        CHECK(cuda_nmse(got.mean, want.mean) < tol);
        CHECK(cuda_nmse(got.rstd, want.rstd) < tol);
        const LayerNormGrads want_g = layer_norm_backward(dy, x, w, want.mean, want.rstd, true, affine, affine);
        const LayerNormGrads got_g =
            layer_norm_backward(gpu(dy), gpu(x), gpu(w), got.mean, got.rstd, true, affine, affine);
        CHECK(cuda_nmse(got_g.x, want_g.x) < tol);
        if (!affine) continue;
        CHECK(cuda_nmse(got_g.weight, want_g.weight) < tol);
        CHECK(cuda_nmse(got_g.bias, want_g.bias) < tol);
        const LayerNormGrads again =
            layer_norm_backward(gpu(dy), gpu(x), gpu(w), got.mean, got.rstd, false, true, true);
        CHECK(cuda_nmse(again.weight, got_g.weight.to(Device::CPU)) == 0.0);
        CHECK(cuda_nmse(again.bias, got_g.bias.to(Device::CPU)) == 0.0);
      }
    }
    // cross_entropy: one row and class count below a warp, and 2000 rows (many per warp). The
    // log-probabilities come from each device's own exp and log (a few ulps apart in float).
    const double ce_tol = dt == DType::Float32 ? 1e-10 : 1e-22;
    for (const auto& sizes : std::vector<std::pair<int64_t, int64_t>>{{3, 5}, {2000, 37}}) {
      const int64_t N = sizes.first, C = sizes.second;
      for (double eps : {0.0, 0.1}) {
        CAPTURE(N);
        CAPTURE(eps);
        const Tensor logits = random64({N, C}, 24, -3, 3).to(dt);
        std::vector<int64_t> label_values(static_cast<size_t>(N));
        for (int64_t i = 0; i < N; ++i) label_values[size_t(i)] = (i * 7) % C;
        const Tensor labels = from_vector(label_values), grad = full({}, 0.7, dt);
        const CrossEntropyForward want = cross_entropy_forward(logits, labels, eps);
        const CrossEntropyForward got = cross_entropy_forward(gpu(logits), gpu(labels), eps);
        CHECK(cuda_nmse(got.loss, want.loss) < ce_tol);
        CHECK(cuda_nmse(got.log_probs, want.log_probs) < ce_tol);
        CHECK(cuda_nmse(cross_entropy_backward(gpu(grad), got.log_probs, gpu(labels), eps),
                        cross_entropy_backward(grad, want.log_probs, labels, eps)) < ce_tol);
      }
    }
  }
  // A bad label on the GPU is named as on the CPU: the first of two, in different threads.
  std::vector<int64_t> label_values(2000, 1);
  label_values[700] = 37;
  label_values[1500] = -1;
  const Tensor logits = zeros({2000, 37}, DType::Float32, Device::CUDA);
  const Tensor labels = from_vector(label_values).to(Device::CUDA);
  CHECK(thrown_message([&] { cross_entropy_forward(logits, labels); })
            .find("cross_entropy: label 37 at index 700 is out of range for C = 37 classes") == 0);
  CHECK(thrown_message([&] {
          cross_entropy_backward(full({}, 1.0, DType::Float32, Device::CUDA), logits, labels, 0.0);
        }).find("cross_entropy_backward: label 37 at index 700") == 0);
}

TEST_CASE("dropout mask: values, rate, reproducibility") {
  Generator gen(7);
  Tensor mask = dropout_mask({100, 100}, 0.25, gen);
  int64_t zeros_seen = 0;
  bool only_two_values = true;
  for (float m : mask.to_vector<float>()) {
    zeros_seen += m == 0.0f;
    only_two_values = only_two_values && (m == 0.0f || m == float(1.0 / 0.75));
  }
  CHECK(only_two_values);
  CHECK(std::abs(double(zeros_seen) / 10000 - 0.25) < 0.02);  // 0.02 is > 4 standard deviations
  Generator a(11), b(11);
  CHECK(dropout_mask({37}, 0.5, a, f64).to_vector<double>() == dropout_mask({37}, 0.5, b, f64).to_vector<double>());
  CHECK(dropout_mask({5}, 1.0, a).to_vector<float>() == std::vector<float>(5, 0.0f));
  // Evaluation mode and p = 0 return the input itself.
  Variable x(randn({3}, gen), true);
  CHECK(dropout(x, 0.5, false, gen).is_same(x));
  CHECK(dropout(x, 0.0, true, gen).is_same(x));
  CHECK(thrown_message([&] { dropout(x, 1.5, true, gen); }).find("dropout: probability 1.5 must be in [0, 1]") == 0);
}

TEST_CASE("dropout mask: element i is the generator's i-th draw, and the generator moves on by n") {
  // The mask is made from counter-based draws (tensor/random.h), in parallel on the CPU and on
  // the GPU; it must equal the mask of sequential draws, on any number of threads (a mask of
  // 40000 elements is split across the OpenMP threads).
  for (double p : {0.0, 0.1, 0.5, 1.0}) {
    Generator gen(123), sequential(123);
    gen.uniform();  // a state that is not the seed
    sequential.uniform();
    const Tensor mask = dropout_mask({200, 200}, p, gen, f64);
    const double keep = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    std::vector<double> want(40000);
    for (double& m : want) m = sequential.uniform() < p ? 0.0 : keep;
    CHECK(mask.to_vector<double>() == want);
    CHECK(gen.state() == sequential.state());
    CHECK(gen.next_u64() == sequential.next_u64());
  }
  Generator g(5);
  const uint64_t start = g.state();
  const uint64_t first = g.next_u64(), second = g.next_u64();
  CHECK(splitmix64_draw(start, 0) == first);
  CHECK(splitmix64_draw(start, 1) == second);
}

TEST_CASE("scaled_dot_product_attention forward matches PyTorch") {
  // torch 1.13 (no F.scaled_dot_product_attention yet), float64:
  //   (torch.softmax(q @ k.T / 2**0.5 + m, -1) @ v)
  Tensor q = from_vector(std::vector<double>{1, 0, 0.5, -1}, {2, 2});
  Tensor k = from_vector(std::vector<double>{1, 2, 0, 1, -1, 0.5}, {3, 2});
  Tensor v = from_vector(std::vector<double>{1, 0, 2, 0, 1, -1, 3, 1, 0}, {3, 3});
  const double inf = std::numeric_limits<double>::infinity();
  Tensor m = from_vector(std::vector<double>{0, 0, -inf, 0, -1, 0}, {2, 3});
  Variable o = scaled_dot_product_attention(Variable(q), Variable(k), Variable(v), m);
  CHECK(o.shape() == Shape{2, 3});
  CHECK(max_diff(o.data(), {0.6697615493266569, 0.33023845067334306, 1.0092846479799706,
                            1.7884381595992629, 0.6607896354941802, 0.5007070252152737}) < 1e-14);
  CHECK(thrown_message([&] { scaled_dot_product_attention(Variable(q), Variable(k), Variable(v), zeros({3, 3}, f64)); })
            .find("scaled_dot_product_attention: mask [3, 3] does not broadcast to the scores [2, 3]") !=
        std::string::npos);
  CHECK(thrown_message([&] { scaled_dot_product_attention(Variable(q), Variable(v), Variable(v)); })
            .find("scaled_dot_product_attention: q [2, 2] and k [3, 3] differ in the head dim d") == 0);
}

