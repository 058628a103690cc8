// Tensor basics (tensor/tensor.h): factories, views, conversions, element access, printing,
// seeded random numbers, and error messages.
#include <doctest/doctest.h>

#include <sstream>

#include "tensor/elementwise.h"
#include "tests/op_test_util.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

TEST_CASE("tensor.h usage example") {
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = ones({3});
  Tensor c = add(a, b);
  CHECK(c.at({1, 2}) == 7.0);
  Tensor d = c.reshape({3, -1});
  CHECK(d.shape() == Shape{3, 2});
  d.set({0, 0}, 10.0);
  CHECK(c.at({0, 0}) == 10.0);
  Tensor e = c.to(DType::Float64);
  CHECK(e.dtype() == DType::Float64);
  CHECK(e.at({1, 1}) == 6.0);
  std::ostringstream os;
  os << c;
  CHECK(os.str().rfind("tensor([[10, 3, 4], [5, 6, 7]]", 0) == 0);
}

TEST_CASE("tensor factories") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == DType::Float32);
  CHECK(z.device() == Device::CPU);
  for (int64_t i = 0; i < z.numel(); ++i) CHECK(z.flat(i) == 0.0);

  Tensor o = ones({4}, DType::Float64);
  CHECK(o.dtype() == DType::Float64);
  CHECK(o.to_vector<double>() == std::vector<double>{1, 1, 1, 1});

  Tensor f = full({2, 2}, 2.5);
  CHECK(f.at({1, 0}) == 2.5);
  CHECK(zeros_like(f).shape() == Shape{2, 2});
  CHECK(zeros_like(f).flat(3) == 0.0);

  Tensor r = arange(5, DType::Int64);
  CHECK(r.dtype() == DType::Int64);
  CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});

  Tensor s = scalar_tensor(3.5);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.5);

  Tensor empty_rows = zeros({0, 3});
  CHECK(empty_rows.numel() == 0);
  CHECK(Tensor().defined() == false);

  Generator gen(5);
  Tensor u = uniform({1000}, -2.0, 3.0, gen);
  for (int64_t i = 0; i < u.numel(); ++i) {
    CHECK(u.flat(i) >= -2.0);
    CHECK(u.flat(i) < 3.0);
  }
  CHECK(thrown_message([] { Tensor(Shape{2, -1}); }).find("negative size") != std::string::npos);
  CHECK(thrown_message([&] { randn({2}, gen, DType::Int64); }).find("floating") != std::string::npos);
}

TEST_CASE("tensor from_vector keeps values and checks the shape") {
  Tensor f = from_vector(std::vector<float>{1.5f, -2.f, 3.f});
  CHECK(f.shape() == Shape{3});
  CHECK(f.at({1}) == -2.0);
  Tensor d = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(d.dtype() == DType::Float64);
  CHECK(d.at({2, 1}) == 6.0);
  Tensor i = from_vector(std::vector<int64_t>{7, 8}, {2, 1});
  CHECK(i.dtype() == DType::Int64);
  CHECK(i.at({1, 0}) == 8.0);
  std::string msg = thrown_message([] { from_vector(std::vector<float>{1, 2, 3}, {2, 2}); });
  CHECK(mentions(msg, {"from_vector", "3 values", "[2, 2]"}));
}

TEST_CASE("tensor reshape is a view that shares storage") {
  Tensor a = arange(12);
  Tensor b = a.reshape({3, 4});
  CHECK(b.shape() == Shape{3, 4});
  CHECK(b.raw_data() == a.raw_data());
  b.set({2, 3}, 100.0);
  CHECK(a.at({11}) == 100.0);

  CHECK(a.reshape({-1, 6}).shape() == Shape{2, 6});
  CHECK(a.reshape({2, -1, 3}).shape() == Shape{2, 2, 3});
  CHECK(a.reshape({-1}).shape() == Shape{12});
  CHECK(scalar_tensor(1).reshape({1, 1}).shape() == Shape{1, 1});

  std::string msg = thrown_message([&] { a.reshape({5, -1}); });
  CHECK(mentions(msg, {"reshape", "[12]", "[5, -1]"}));
  msg = thrown_message([&] { a.reshape({3, 5}); });
  CHECK(mentions(msg, {"reshape", "[12]", "[3, 5]"}));
  msg = thrown_message([&] { a.reshape({-1, -1}); });
  CHECK(mentions(msg, {"reshape", "more than one -1"}));
}

TEST_CASE("tensor to(dtype), clone and copy_from") {
  Tensor a = from_vector(std::vector<float>{1.75f, -2.5f, 3.f}, {3});
  CHECK(a.to(DType::Float32).is_same(a));  // no conversion: the same tensor

  Tensor d = a.to(DType::Float64);
  CHECK(d.dtype() == DType::Float64);
  CHECK(d.raw_data() != a.raw_data());
  CHECK(d.to_vector<double>() == std::vector<double>{1.75, -2.5, 3.0});
  Tensor i = a.to(DType::Int64);  // truncates toward zero like a C++ cast
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3});
  CHECK(i.to(DType::Float32).at({1}) == -2.0);

  Tensor c = a.clone();
  CHECK(c.raw_data() != a.raw_data());
  c.set({0}, 9.0);
  CHECK(a.at({0}) == 1.75);

  Tensor target = zeros({3}, DType::Float64);
  target.copy_from(a);
  CHECK(target.at({2}) == 3.0);
  std::string msg = thrown_message([&] { zeros({2}).copy_from(a); });
  CHECK(mentions(msg, {"copy_from", "[3]", "[2]"}));

  Tensor filled = zeros({2, 2});
  filled.fill_(4.0);
  CHECK(filled.at({1, 1}) == 4.0);
}

TEST_CASE("tensor element access: at, set, item, flat") {
  Tensor t = zeros({2, 3}, DType::Float64);
  t.set({1, 2}, 5.0);
  CHECK(t.at({1, 2}) == 5.0);
  CHECK(t.flat(5) == 5.0);
  CHECK(t.size(-1) == 3);
  CHECK(t.size(0) == 2);
  CHECK(full({1, 1, 1}, 2.0).item() == 2.0);

  CHECK(mentions(thrown_message([&] { t.at({2, 0}); }), {"out of bounds", "[2, 0]", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] { t.at({0}); }), {"rank 1", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] { t.item(); }), {"item", "[2, 3]", "6 elements"}));
  CHECK(mentions(thrown_message([&] { t.flat(6); }), {"flat", "6"}));
  CHECK(mentions(thrown_message([&] { t.size(2); }), {"dim 2", "rank 2"}));
  CHECK(mentions(thrown_message([&] { t.data<float>(); }), {"float64", "float32"}));
}

TEST_CASE("tensor printing") {
  CHECK(from_vector(std::vector<float>{1, 2.5f, 3}).str() == "tensor([1, 2.5, 3], shape=[3], dtype=float32)");
  CHECK(scalar_tensor(2, DType::Float64).str() == "tensor(2, shape=[], dtype=float64)");
  CHECK(from_vector(std::vector<int64_t>{1, 2, 3, 4}, {2, 2}).str() ==
        "tensor([[1, 2], [3, 4]], shape=[2, 2], dtype=int64)");
  // Long dims show their first and last three entries.
  CHECK(arange(10).str() == "tensor([0, 1, 2, ..., 7, 8, 9], shape=[10], dtype=float32)");
  CHECK(Tensor().str() == "tensor(undefined)");
}

TEST_CASE("tensor randn is deterministic for a seed") {
  Generator g1(42), g2(42), g3(43);
  Tensor a = randn({1000}, g1);
  Tensor b = randn({1000}, g2);
  Tensor c = randn({1000}, g3);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  // The stream continues: a second draw differs from the first.
  CHECK(randn({1000}, g1).to_vector<float>() != a.to_vector<float>());

  double mean = 0, var = 0;
  Generator g(7);
  Tensor n = randn({20000}, g, DType::Float64);
  for (int64_t i = 0; i < n.numel(); ++i) mean += n.flat(i) / double(n.numel());
  for (int64_t i = 0; i < n.numel(); ++i) var += (n.flat(i) - mean) * (n.flat(i) - mean) / double(n.numel());
  CHECK(std::fabs(mean) < 0.05);
  CHECK(std::fabs(var - 1.0) < 0.05);

  Generator r1(3), r2(3);
  CHECK(rand({50}, r1).to_vector<float>() == rand({50}, r2).to_vector<float>());
}

TEST_CASE("tensor op errors name the op and both shapes") {
  Tensor a = zeros({2, 3});
  std::string msg = thrown_message([&] { add(a, zeros({4})); });
  CHECK(mentions(msg, {"add", "[2, 3]", "[4]"}));
  msg = thrown_message([&] { mul(a, zeros({2, 3}, DType::Float64)); });
  CHECK(mentions(msg, {"mul", "float32", "float64", "[2, 3]"}));
  msg = thrown_message([&] { check_float(zeros({5}, DType::Int64), "softmax"); });
  CHECK(mentions(msg, {"softmax", "int64", "[5]"}));
}
