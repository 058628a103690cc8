// Shape ops: tensor/shape_ops.h and autograd/shape_ops.h. Values against element-wise index
// arithmetic, every dtype, errors naming the shapes. Gradients: the op table (tests/test_ops.cpp).
#include <doctest/doctest.h>

#include "autograd/elementwise.h"
#include "autograd/shape_ops.h"
#include "tensor/embedding.h"
#include "tensor/gpu.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"

using namespace neat;
using namespace neat::test;

TEST_CASE("shape transpose and permute values") {
  Tensor x = arange(6).reshape({2, 3});
  Tensor t = transpose(x, 0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(transpose(x, -1, -2).to_vector<float>() == t.to_vector<float>());
  CHECK(transpose(x, 1, 1).to_vector<float>() == x.to_vector<float>());

  // [B, N, H, d] -> [B, H, N, d] (attention heads) and a full reversal, checked elementwise.
  Tensor y = arange(2 * 3 * 4 * 5).reshape({2, 3, 4, 5});
  Tensor heads = permute(y, {0, 2, 1, 3});
  Tensor reversed = permute(y, {3, 2, 1, 0});
  CHECK(heads.shape() == Shape{2, 4, 3, 5});
  CHECK(reversed.shape() == Shape{5, 4, 3, 2});
  bool same = true;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 4; ++c)
        for (int64_t d = 0; d < 5; ++d) {
          same = same && heads.at({a, c, b, d}) == y.at({a, b, c, d});
          same = same && reversed.at({d, c, b, a}) == y.at({a, b, c, d});
        }
  CHECK(same);
  const std::vector<int64_t> p = {2, 0, 3, 1};
  CHECK(inverse_permutation(p) == std::vector<int64_t>{1, 3, 0, 2});
  CHECK(permute(permute(y, p), inverse_permutation(p)).to_vector<float>() == y.to_vector<float>());
  // Size-1 dims, int64 and a 0-d tensor.
  Tensor ones_dims = from_vector(std::vector<int64_t>{1, 2, 3}, {1, 3, 1});
  CHECK(permute(ones_dims, {2, 1, 0}).shape() == Shape{1, 3, 1});
  CHECK(permute(ones_dims, {1, 0, 2}).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3});
  CHECK(permute(scalar_tensor(3), {}).item() == 3.0);
  // Large enough for the threaded path, with a strided inner loop.
  Generator gen(4);
  Tensor big = randn({130, 257}, gen);
  Tensor bt = transpose(big, 0, 1);
  CHECK(bt.at({256, 129}) == big.at({129, 256}));
  CHECK(bt.at({17, 3}) == big.at({3, 17}));
}

// Many rows of a rank-6 permute (a ViT patch embedding's, [B, C, gh, p, gw, p] ->
// [B, gh, gw, C, p, p]), a rank-3 broadcast add and an expand: the kernels walk the rows in
// blocks, counting each row's index up from the block's first (tensor/cpu/elementwise.h's
// RowCursor), so every carry from the last dim to the first is checked against at().
TEST_CASE("shape permute, broadcast and expand over many rows and every index carry") {
  Tensor x = arange(2 * 3 * 4 * 5 * 6 * 7).reshape({2, 3, 4, 5, 6, 7});
  Tensor patches = permute(x, {0, 2, 4, 1, 3, 5});   // 720 rows of 7
  REQUIRE(patches.shape() == Shape{2, 4, 6, 3, 5, 7});
  bool same = true;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t gh = 0; gh < 4; ++gh)
        for (int64_t ph = 0; ph < 5; ++ph)
          for (int64_t gw = 0; gw < 6; ++gw)
            for (int64_t pw = 0; pw < 7; ++pw)
              same = same && patches.at({b, gh, gw, c, ph, pw}) == x.at({b, c, gh, ph, gw, pw});
  CHECK(same);
  Tensor a = arange(9 * 1 * 13).reshape({9, 1, 13}), row = arange(11 * 13).reshape({1, 11, 13});
  Tensor column = arange(9 * 11).reshape({9, 11, 1});
  Tensor sum = add(a, row), wide = add(row, column), grown = expand(column, {9, 11, 13});
  for (int64_t i = 0; i < 9; ++i)
    for (int64_t j = 0; j < 11; ++j)
      for (int64_t k = 0; k < 13; ++k) {
        same = same && sum.at({i, j, k}) == a.at({i, 0, k}) + row.at({0, j, k});
        same = same && wide.at({i, j, k}) == row.at({0, j, k}) + column.at({i, j, 0});
        same = same && grown.at({i, j, k}) == column.at({i, j, 0});
      }
  CHECK(same);
}

TEST_CASE("shape narrow, concat and their inverses") {
  Tensor x = arange(24).reshape({2, 3, 4});
  Tensor n = narrow(x, 2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(n.at({1, 2, 0}) == x.at({1, 2, 1}));
  CHECK(n.at({0, 1, 1}) == x.at({0, 1, 2}));
  CHECK(narrow(x, 0, 1, 1).to_vector<float>() == narrow(x, -3, 1, 1).to_vector<float>());
  CHECK(narrow(x, 1, 3, 0).numel() == 0);

  Tensor back = narrow_backward(n, x.shape(), 2, 1);
  CHECK(back.shape() == x.shape());
  CHECK(back.at({1, 2, 1}) == x.at({1, 2, 1}));
  CHECK(back.at({1, 2, 0}) == 0.0);
  CHECK(back.at({1, 2, 3}) == 0.0);

  Tensor a = narrow(x, 1, 0, 1), b = narrow(x, 1, 1, 2);
  CHECK(concat({a, b}, 1).to_vector<float>() == x.to_vector<float>());
  CHECK(concat({narrow(x, 2, 0, 3), narrow(x, 2, 3, 1)}, -1).to_vector<float>() == x.to_vector<float>());
  Tensor rows = concat({x, x}, 0);
  CHECK(rows.shape() == Shape{4, 3, 4});
  CHECK(rows.at({3, 2, 3}) == 23.0);
  Tensor labels = concat({from_vector(std::vector<int64_t>{1, 2}), from_vector(std::vector<int64_t>{3})}, 0);
  CHECK(labels.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3});
}

TEST_CASE("shape index_select and index_add") {
  Tensor table = arange(12).reshape({4, 3});  // an embedding table: 4 tokens, dim 3
  Tensor ids = from_vector(std::vector<int64_t>{2, 0, 2});
  Tensor rows = index_select(table, 0, ids);
  CHECK(rows.shape() == Shape{3, 3});
  CHECK(rows.to_vector<float>() == std::vector<float>{6, 7, 8, 0, 1, 2, 6, 7, 8});
  Tensor cols = index_select(table, 1, from_vector(std::vector<int64_t>{2, 1}));
  CHECK(cols.to_vector<float>() == std::vector<float>{2, 1, 5, 4, 8, 7, 11, 10});
  // An n-D index replaces the dim by its shape: token ids [2, 2] -> [2, 2, 3].
  Tensor grid = index_select(table, 0, from_vector(std::vector<int64_t>{3, 1, 0, 3}, {2, 2}));
  CHECK(grid.shape() == Shape{2, 2, 3});
  CHECK(grid.at({1, 1, 2}) == 11.0);

  // Repeated indices accumulate.
  Tensor dx = index_add({4, 3}, 0, ids, ones({3, 3}));
  CHECK(dx.to_vector<float>() == std::vector<float>{1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 0, 0});
}

TEST_CASE("shape ops bf16: moves are exact; index_add and the embedding gradient sum in float32") {
  Generator gen(3);
  const Tensor x = randn({3, 5, 34, 33}, gen, DType::BFloat16), x32 = x.to(DType::Float32);
  CHECK(is_rounded_float32(permute(x, {3, 2, 1, 0}), permute(x32, {3, 2, 1, 0})));
  CHECK(is_rounded_float32(permute(x, {0, 2, 1, 3}), permute(x32, {0, 2, 1, 3})));
  CHECK(is_rounded_float32(narrow(x, 2, 3, 20), narrow(x32, 2, 3, 20)));
  CHECK(is_rounded_float32(narrow_backward(narrow(x, 1, 1, 3), x.shape(), 1, 1),
                           narrow_backward(narrow(x32, 1, 1, 3), x.shape(), 1, 1)));
  CHECK(is_rounded_float32(concat({x, x}, 1), concat({x32, x32}, 1)));
  const Tensor index = from_vector(std::vector<int64_t>{4, 0, 4, 2, 32});
  CHECK(is_rounded_float32(index_select(x, 3, index), index_select(x32, 3, index)));
  // 300 rows of ones added into row 0: a bf16 running sum would stall at 256 (256 + 1 ties to
  // the even 256); summed in float32 it is 300, which bf16 holds exactly.
  const Tensor same_row = zeros({300}, DType::Int64);
  const Tensor src = ones({300, 4}, DType::BFloat16);
  const Tensor dx = index_add({2, 4}, 0, same_row, src);
  CHECK(dx.dtype() == DType::BFloat16);
  CHECK(dx.to_vector<float>() == std::vector<float>{300, 300, 300, 300, 0, 0, 0, 0});
  const Tensor dweight = embedding_backward(src, same_row, 2, /*padding_idx=*/-1);
  CHECK(dweight.dtype() == DType::BFloat16);
  CHECK(dweight.to_vector<float>() == std::vector<float>{300, 300, 300, 300, 0, 0, 0, 0});
  CHECK_THROWS_WITH(permute(x.to(DType::Float16), {1, 0, 2, 3}),
                    doctest::Contains("permute: no float16 kernel"));
}

TEST_CASE("shape op errors name the shapes") {
  Tensor x = zeros({2, 3});
  CHECK(mentions(thrown_message([&] { permute(x, {0}); }), {"permute", "[0]", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] { permute(x, {1, 1}); }), {"permute", "[1, 1]", "repeats"}));
  CHECK(mentions(thrown_message([&] { transpose(x, 0, 2); }), {"transpose", "dim 2"}));
  CHECK(mentions(thrown_message([&] { narrow(x, 1, 2, 2); }), {"narrow", "start 2", "length 2", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] { concat({x, zeros({3, 3})}, 1); }),
                 {"concat", "part 1", "[3, 3]", "[2, 3]", "dim 1"}));
  CHECK(mentions(thrown_message([&] { concat({x, zeros({2, 3}, DType::Float64)}, 0); }), {"concat", "float64"}));
  CHECK(mentions(thrown_message([] { concat(std::vector<Tensor>{}, 0); }), {"concat"}));
  CHECK(mentions(thrown_message([&] { index_select(x, 0, from_vector(std::vector<int64_t>{2})); }),
                 {"index_select", "index 2", "dim 0", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] { index_select(x, 0, zeros({1})); }), {"index_select", "int64", "float32"}));
  CHECK(mentions(thrown_message([&] { index_add({4, 3}, 0, from_vector(std::vector<int64_t>{1}), x); }),
                 {"index_add", "[2, 3]", "[1, 3]"}));
  CHECK(mentions(thrown_message([&] { narrow_backward(x, {2, 5}, 0, 0); }), {"narrow_backward", "[2, 3]", "[2, 5]"}));
}

TEST_CASE("autograd reshape is a view") {
  Variable x(arange(6, DType::Float64), true);
  Variable y = reshape(x, {2, -1});
  CHECK(y.shape() == Shape{2, 3});
  CHECK(y.data().raw_data() == x.data().raw_data());
  CHECK(std::string(y.grad_fn()->name()) == "reshape");
}

TEST_CASE("cuda: permute, narrow, concat, index_select and index_add equal the CPU's, bit for bit") {
  if (!cuda_available()) return skip(cuda_unavailable_reason());
  Generator gen(31);
  // Values, not just positions: every element differs, so a misplaced copy shows.
  auto same = [](const Tensor& got, const Tensor& want) {
    return got.device() == Device::CUDA && got.shape() == want.shape() &&
           got.to(Device::CPU).to_vector<double>() == want.to_vector<double>();
  };
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::BFloat16}) {
    CAPTURE(dtype_name(dt));
    const Shape shape{3, 5, 34, 33};   // odd, and not whole 32 x 32 tiles
    const Tensor x = dt == DType::Int64 ? arange(shape_numel(shape), dt).reshape(shape)
                                        : randn(shape, gen, dt);
    const Tensor xg = x.to(Device::CUDA);
    // {0, 2, 1, 3} keeps the last dim (a gather of rows); the others tile a transpose.
    for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{
             {0, 2, 1, 3}, {3, 2, 1, 0}, {1, 0, 3, 2}, {0, 1, 3, 2}, {2, 3, 0, 1}}) {
      CAPTURE(shape_str(dims));
      CHECK(same(permute(xg, dims), permute(x, dims)));
    }
    CHECK(same(narrow(xg, 2, 3, 20), narrow(x, 2, 3, 20)));
    CHECK(same(narrow_backward(narrow(xg, 1, 1, 3), shape, 1, 1),
               narrow_backward(narrow(x, 1, 1, 3), shape, 1, 1)));
    CHECK(same(concat({xg, narrow(xg, 1, 0, 2)}, 1), concat({x, narrow(x, 1, 0, 2)}, 1)));
    // Repeated indices add up in the CPU's order on the GPU too.
    const Tensor index = from_vector(std::vector<int64_t>{4, 0, 4, 2, 4, 32, 4});
    const Tensor index_g = index.to(Device::CUDA);
    const Tensor picked = index_select(x, 3, index);
    CHECK(same(index_select(xg, 3, index_g), picked));
    CHECK(same(index_add(shape, 3, index_g, picked.to(Device::CUDA)), index_add(shape, 3, index, picked)));
  }
  const Tensor xg = zeros({2, 3}).to(Device::CUDA);
  CHECK(mentions(thrown_message([&] {
                   index_select(xg, 1, from_vector(std::vector<int64_t>{0, 3, -1}).to(Device::CUDA));
                 }),
                 {"index_select", "index 3", "dim 1", "[2, 3]"}));
  CHECK(mentions(thrown_message([&] {
                   index_add({2, 3}, 0, from_vector(std::vector<int64_t>{1, -1}).to(Device::CUDA), zeros({2, 3}).to(Device::CUDA));
                 }),
                 {"index_add", "index -1", "dim 0", "[2, 3]"}));
}
