// Reductions: tensor/reduce.h and autograd/reduce.h. Values by hand, keepdim and negative
// dims, non-adjacent dims, the threaded paths against float64 sums, errors. Gradients and the
// float64 forward against a loop: the op table (tests/test_ops.cpp).
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/reduce.h"
#include "tensor/gpu.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "tests/tensor_check.h"

using namespace neat;
using namespace neat::test;

TEST_CASE("reduce sum values and keepdim") {
  Tensor x = arange(24).reshape({2, 3, 4});
  Tensor all = sum(x);
  CHECK(all.dim() == 0);
  CHECK(all.item() == 276.0);
  CHECK(sum(x, {}, true).shape() == Shape{1, 1, 1});

  Tensor last = sum(x, {-1});
  CHECK(last.shape() == Shape{2, 3});
  CHECK(last.to_vector<float>() == std::vector<float>{6, 22, 38, 54, 70, 86});
  CHECK(sum(x, {2}, true).shape() == Shape{2, 3, 1});

  Tensor first = sum(x, {0});
  CHECK(first.shape() == Shape{3, 4});
  CHECK(first.at({2, 3}) == 11.0 + 23.0);

  Tensor middle = sum(x, {1}, true);
  CHECK(middle.shape() == Shape{2, 1, 4});
  CHECK(middle.at({1, 0, 2}) == 14.0 + 18.0 + 22.0);

  // Non-adjacent dims reduce in two passes.
  Tensor outer = sum(x, {0, 2});
  CHECK(outer.shape() == Shape{3});
  CHECK(outer.to_vector<float>() == std::vector<float>{6 + 54, 22 + 70, 38 + 86});
  CHECK(sum(x, {2, 0}, true).shape() == Shape{1, 3, 1});

  // A 0-d tensor sums to a fresh copy of itself.
  Tensor s = scalar_tensor(4);
  Tensor s2 = sum(s);
  CHECK(s2.item() == 4.0);
  CHECK(s2.raw_data() != s.raw_data());

  // Empty reductions give 0; int64 sums stay int64.
  CHECK(sum(zeros({0, 3}), {0}).to_vector<float>() == std::vector<float>{0, 0, 0});
  Tensor ints = from_vector(std::vector<int64_t>{1, 2, 3, 4}, {2, 2});
  CHECK(sum(ints, {1}).dtype() == DType::Int64);
  CHECK(sum(ints, {1}).to_vector<int64_t>() == std::vector<int64_t>{3, 7});
}

TEST_CASE("reduce mean values") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(mean(x).item() == 3.5);
  CHECK(mean(x, {0}).to_vector<double>() == std::vector<double>{2.5, 3.5, 4.5});
  CHECK(mean(x, {1}, true).shape() == Shape{2, 1});
  CHECK(mean(x, {1}, true).to_vector<double>() == std::vector<double>{2, 5});
  CHECK(mentions(thrown_message([] { mean(zeros({2}, DType::Int64)); }), {"mean", "int64", "[2]"}));
}

TEST_CASE("reduce bf16: float32 sums, the result rounded once") {
  // 300 ones: a bf16 running sum stalls at 256 (256 + 1 is a tie, rounded to the even 256);
  // float32 sums reach 300, which bf16 holds exactly. Each sum path: a contiguous row, column
  // sums, and two blocks of dims (summed in float32 throughout, rounded at the end: 900).
  CHECK(sum(ones({2, 300}, DType::BFloat16), {1}).to_vector<float>() == std::vector<float>{300, 300});
  CHECK(sum(ones({300, 3}, DType::BFloat16), {0}).to_vector<float>() == std::vector<float>(3, 300));
  CHECK(sum(ones({300, 2, 3}, DType::BFloat16), {0, 2}).to_vector<float>() ==
        std::vector<float>{900, 900});
  // Otherwise the float32 result of the widened input, rounded: bit for bit, sum and mean (mean
  // scales the float32 sum, so it too rounds once), every dims pattern.
  const Tensor x = random64({6, 37, 300}, 5).to(DType::BFloat16), x32 = x.to(DType::Float32);
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{
           {2}, {0}, {1}, {0, 1}, {0, 2}, {1, 2}, {}}) {
    CAPTURE(shape_str(dims));
    CHECK(is_rounded_float32(sum(x, dims), sum(x32, dims)));
    CHECK(is_rounded_float32(mean(x, dims, true), mean(x32, dims, true)));
  }
  // max picks a stored value (exact) and the float32 argmax; its backward routes bf16 as it is.
  for (int64_t dim : {0, 1, 2}) {
    const MaxResult got = max(x, dim), want = max(x32, dim);
    CHECK(is_rounded_float32(got.values, want.values));
    CHECK(got.indices.to_vector<int64_t>() == want.indices.to_vector<int64_t>());
    const Tensor grad = random64(got.values.shape(), 9).to(DType::BFloat16);
    CHECK(is_rounded_float32(max_backward(grad, got.indices, x.shape(), dim, false),
                             max_backward(grad.to(DType::Float32), want.indices, x.shape(), dim, false)));
  }
  CHECK(squared_norm({x}).item() == doctest::Approx(squared_norm({x32}).item()).epsilon(1e-12));
}

TEST_CASE("reduce large sums match float64 sums") {
  // [outer, R, inner] layouts large enough for the threaded loops, incl. outer = 1.
  Generator gen(9);
  Tensor x = randn({3, 1031, 67}, gen);
  for (int64_t dim : {0, 1, 2}) {
    CAPTURE(dim);
    Tensor got = sum(x, {dim});
    Tensor want = sum(x.to(DType::Float64), {dim});
    CHECK(max_abs_diff(got, want) < 1e-3);
  }
  Tensor rows = x.reshape({-1, 67});
  Tensor got = sum(rows, {0});  // a bias gradient: column sums over 3093 rows
  double want0 = 0;
  for (int64_t r = 0; r < rows.size(0); ++r) want0 += rows.at({r, 0});
  CHECK(got.at({0}) == doctest::Approx(want0).epsilon(1e-4));
  CHECK(sum(x).item() == doctest::Approx(sum(x.to(DType::Float64)).item()).epsilon(1e-4));
}

TEST_CASE("reduce max and argmax") {
  Tensor x = from_vector(std::vector<float>{1, 5, 5, -2, 0, 3, 7, 7, -1}, {3, 3});
  MaxResult rows = max(x, 1);
  CHECK(rows.values.to_vector<float>() == std::vector<float>{5, 3, 7});
  CHECK(rows.indices.dtype() == DType::Int64);
  CHECK(rows.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 0});  // first maximum
  MaxResult cols = max(x, 0, true);
  CHECK(cols.values.shape() == Shape{1, 3});
  CHECK(cols.values.to_vector<float>() == std::vector<float>{7, 7, 5});
  CHECK(cols.indices.to_vector<int64_t>() == std::vector<int64_t>{2, 2, 0});
  CHECK(argmax(x, -1).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 0});

  Tensor with_nan = from_vector(std::vector<double>{1, std::nan(""), 3});
  CHECK(std::isnan(max(with_nan, 0).values.item()));
  CHECK(max(with_nan, 0).indices.item() == 1.0);

  Tensor ints = from_vector(std::vector<int64_t>{4, -1, 9}, {1, 3});
  CHECK(max(ints, 1).values.to_vector<int64_t>() == std::vector<int64_t>{9});

  Tensor dx = max_backward(from_vector(std::vector<float>{10, 20, 30}), rows.indices, {3, 3}, 1, false);
  CHECK(dx.to_vector<float>() == std::vector<float>{0, 10, 0, 0, 0, 20, 30, 0, 0});
}

TEST_CASE("reduce expand_reduced") {
  Tensor g = from_vector(std::vector<float>{1, 2, 3});
  Tensor e = expand_reduced(g, {2, 3}, {0}, false);
  CHECK(e.to_vector<float>() == std::vector<float>{1, 2, 3, 1, 2, 3});
  Tensor k = expand_reduced(g.reshape({3, 1}), {3, 2}, {-1}, true);
  CHECK(k.to_vector<float>() == std::vector<float>{1, 1, 2, 2, 3, 3});
  Tensor all = expand_reduced(scalar_tensor(5), {2, 2}, {}, false);
  CHECK(all.to_vector<float>() == std::vector<float>{5, 5, 5, 5});
  CHECK(mentions(thrown_message([&] { expand_reduced(g, {2, 4}, {0}, false); }),
                 {"expand_reduced", "[3]", "[2, 4]"}));
}

TEST_CASE("cuda: reductions equal the CPU's (every sum path, int64, bf16, max with ties and NaN, squared_norm)") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::BFloat16}) {
    CAPTURE(dtype_name(dt));
    auto values = [dt](const Shape& shape, uint64_t seed) {
      return dt == DType::Int64 ? arange(shape_numel(shape), DType::Int64).reshape(shape)
                                : random64(shape, seed).to(dt);
    };
    // The sums add in another order on the GPU: float within ~1e-6 of the scale, int64 exact,
    // bf16 (summed in float32) now and then one bf16 ulp apart.
    const double tol = dt == DType::Float32    ? 1e-10
                       : dt == DType::Float64  ? 1e-24
                       : dt == DType::BFloat16 ? 1e-6
                                               : 0.0;
    const Tensor x = values({6, 37, 300}, 5), xg = x.to(Device::CUDA);
    for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{
             {2}, {0}, {1}, {0, 1}, {0, 2}, {1, 2}, {}}) {
      CAPTURE(shape_str(dims));
      CHECK(cuda_nmse(sum(xg, dims), sum(x, dims)) <= tol);
    }
    // Column sums of few columns over many rows (rows cut into chunks, then a second pass), of
    // many columns (one pass), and one long row (one block); each the same bits every run.
    for (const Shape& shape : {Shape{4000, 96}, Shape{20, 5000}, Shape{1, 300000}}) {
      CAPTURE(shape_str(shape));
      const Tensor big = values(shape, 6), bigg = big.to(Device::CUDA);
      const int64_t dim = shape[0] == 1 ? 1 : 0;
      CHECK(cuda_nmse(sum(bigg, {dim}), sum(big, {dim})) <= 100 * tol);
      CHECK(cuda_nmse(sum(bigg, {dim}), sum(bigg, {dim}).to(Device::CPU)) == 0.0);
    }
    CHECK(cuda_nmse(sum(values({4, 0, 3}, 7).to(Device::CUDA), {1}), sum(values({4, 0, 3}, 7), {1})) == 0.0);
  }
  // max: ties (the first index wins) and NaNs (the first NaN wins), over each dim.
  Tensor m = random64({4, 5, 6}, 8);
  for (int64_t k = 0; k < 6; ++k) {
    m.set({0, 1, k}, 5.0);
    m.set({0, 3, k}, 5.0);
  }
  m.set({1, 2, 3}, std::nan(""));
  m.set({1, 4, 3}, std::nan(""));
  m.set({2, 0, 0}, std::nan(""));
  auto same_values = [](const Tensor& got, const Tensor& want) {
    const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
    bool same = g.size() == w.size();
    for (size_t i = 0; same && i < g.size(); ++i)
      same = (std::isnan(g[i]) && std::isnan(w[i])) || g[i] == w[i];
    return same;
  };
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::BFloat16}) {
    CAPTURE(dtype_name(dt));
    const Tensor x = dt == DType::Int64 ? arange(120, DType::Int64).reshape({4, 5, 6}) : m.to(dt);
    for (int64_t dim : {0, 1, 2}) {
      CAPTURE(dim);
      const MaxResult want = max(x, dim), got = max(x.to(Device::CUDA), dim);
      CHECK(got.values.device() == Device::CUDA);
      CHECK(same_values(got.values, want.values));
      CHECK(cuda_nmse(got.indices, want.indices) == 0.0);
      if (dt == DType::Int64) continue;
      const Tensor grad = random64(want.values.shape(), 9).to(dt);
      CHECK(cuda_nmse(max_backward(grad.to(Device::CUDA), got.indices, x.shape(), dim, false),
                      max_backward(grad, want.indices, x.shape(), dim, false)) == 0.0);
    }
  }
  // squared_norm: double partial sums in another order, so equal to ~1e-15.
  const std::vector<Tensor> parts = {random64({1000, 300}, 10).to(DType::Float32),
                                     random64({77}, 11).to(DType::Float32)};
  const double want = squared_norm(parts).item();
  const Tensor got = squared_norm({parts[0].to(Device::CUDA), parts[1].to(Device::CUDA)});
  CHECK(got.device() == Device::CUDA);
  CHECK(got.dtype() == DType::Float64);
  CHECK(std::abs(got.item() - want) <= 1e-12 * want);
}

TEST_CASE("reduce errors") {
  Tensor x = zeros({2, 3});
  CHECK(mentions(thrown_message([&] { sum(x, {2}); }), {"sum", "dim 2", "rank 2"}));
  CHECK(mentions(thrown_message([&] { sum(x, {1, -1}); }), {"sum", "[1, -1]", "twice"}));
  CHECK(mentions(thrown_message([&] { max(x, -3); }), {"max", "dim -3"}));
  CHECK(mentions(thrown_message([] { max(zeros({2, 0}), 1); }), {"max", "[2, 0]", "empty"}));
}
