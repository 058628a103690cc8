// The op table (tests/op_table.h): one entry per differentiable op of autograd/ (elementwise,
// reductions, shape ops, matmul / linear, the nn functions) and the fused adapter ops, each
// with the inputs it is checked at and an independent forward. Ranges keep inputs away from
// kinks (relu at 0, max's ties) and poles (div, log, sqrt, negative powers near 0).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "autograd/cast.h"
#include "autograd/elementwise.h"
#include "autograd/gradcheck.h"
#include "autograd/matmul.h"
#include "autograd/nn_functional.h"
#include "autograd/reduce.h"
#include "autograd/shape_ops.h"
#include "nn/patch_embedding.h"
#include "nn/peft/lora.h"
#include "nn/peft/neat_function.h"
#include "nn/peft/neat_reference.h"
#include "tensor/scalar_math.h"
#include "tensor/softmax.h"
#include "tests/op_cases_layers.h"
#include "tests/op_references.h"
#include "tests/op_table.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"

using namespace neat;
using namespace neat::test;

namespace {

using Vars = std::vector<Variable>;
using Tensors = std::vector<Tensor>;

// ---- references from a scalar function, and labels --------------------------------------

// y_i = f(x_i).
Reference pointwise(double (*f)(double)) {
  return [f](const Tensors& in) {
    return tabulate(in[0].shape(), [&](const Index& i) { return f(in[0].at(i)); });
  };
}

// y = f(a, b) with a and b broadcast (aligned right, size-1 dims repeated).
Reference binary(double (*f)(double, double)) {
  return [f](const Tensors& in) {
    return tabulate(broadcast_shape(in[0].shape(), in[1].shape()), [&](const Index& i) {
      return f(broadcast_at(in[0], i), broadcast_at(in[1], i));
    });
  };
}

// ---- inputs -----------------------------------------------------------------------------

Tensor int64s(std::vector<int64_t> values, Shape shape = {}) {
  if (shape.empty()) shape = {int64_t(values.size())};
  return from_vector(values, shape);
}

// Cases of a two-input elementwise op at the usual broadcasting shapes; b_low / b_high bound
// the second operand (a divisor stays away from 0).
std::vector<OpCase> broadcasting(Op op, Reference ref, double b_low = -1, double b_high = 1) {
  return {{"[3,1,5] with [4,5]", {random64({3, 1, 5}, 1), random64({4, 5}, 2, b_low, b_high)}, op, ref},
          {"[2,3] with [1]", {random64({2, 3}, 3), random64({1}, 4, b_low, b_high)}, op, ref},
          {"[1] with [3,2]", {random64({1}, 5), random64({3, 2}, 6, b_low, b_high)}, op, ref},
          {"[5,3] with [5,1]", {random64({5, 3}, 7), random64({5, 1}, 8, b_low, b_high)}, op, ref},
          {"[7] with [7]", {random64({7}, 9), random64({7}, 10, b_low, b_high)}, op, ref}};
}

// One case of a one-input op on [3, 7] values in [low, high).
std::vector<OpCase> unary_case(Op op, Reference ref, double low, double high) {
  return {{"[3,7] in [" + num(low) + ", " + num(high) + ")", {random64({3, 7}, 11, low, high)}, op, ref}};
}

double gelu_exact(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

namespace neat::test {

const std::vector<OpEntry>& op_table() {
  static const std::vector<OpEntry> table = {
      // ---- elementwise, broadcasting like PyTorch ----
      {"add",
       [] {
         return broadcasting([](const Vars& v) { return add(v[0], v[1]); },
                             binary([](double a, double b) { return a + b; }));
       }},
      {"sub",
       [] {
         return broadcasting([](const Vars& v) { return sub(v[0], v[1]); },
                             binary([](double a, double b) { return a - b; }));
       }},
      {"mul",
       [] {
         return broadcasting([](const Vars& v) { return mul(v[0], v[1]); },
                             binary([](double a, double b) { return a * b; }));
       }},
      {"div",
       [] {  // divisors in [0.5, 2): away from the pole at 0
         return broadcasting([](const Vars& v) { return div(v[0], v[1]); },
                             binary([](double a, double b) { return a / b; }), 0.5, 2.0);
       }},
      {"add_scalar",
       [] {
         return unary_case([](const Vars& v) { return add_scalar(v[0], 2.5); },
                           pointwise([](double x) { return x + 2.5; }), -1, 1);
       }},
      {"mul_scalar",
       [] {
         return unary_case([](const Vars& v) { return mul_scalar(v[0], -1.5); },
                           pointwise([](double x) { return x * -1.5; }), -1, 1);
       }},
      {"pow_scalar",
       [] {  // bases in [0.5, 2): fractional and negative exponents stay finite
         std::vector<OpCase> cases;
         for (double e : {2.0, 3.0, 0.5, -1.5})
           cases.push_back({"exponent " + num(e),
                            {random64({3, 7}, 12, 0.5, 2.0)},
                            [e](const Vars& v) { return pow_scalar(v[0], e); },
                            [e](const Tensors& in) {
                              return tabulate(in[0].shape(), [&](const Index& i) {
                                return std::pow(in[0].at(i), e);
                              });
                            }});
         return cases;
       }},
      // ---- unary: y = f(x), one entry per UnaryOp ----
      {"neg",
       [] {
         return unary_case([](const Vars& v) { return neg(v[0]); },
                           pointwise([](double x) { return -x; }), -1, 1);
       }},
      {"exp",
       [] {
         return unary_case([](const Vars& v) { return exp(v[0]); },
                           pointwise([](double x) { return std::exp(x); }), -2, 2);
       }},
      {"log",
       [] {
         return unary_case([](const Vars& v) { return log(v[0]); },
                           pointwise([](double x) { return std::log(x); }), 0.3, 3);
       }},
      {"sqrt",
       [] {
         return unary_case([](const Vars& v) { return sqrt(v[0]); },
                           pointwise([](double x) { return std::sqrt(x); }), 0.3, 3);
       }},
      {"tanh",
       [] {
         return unary_case([](const Vars& v) { return tanh(v[0]); },
                           pointwise([](double x) { return std::tanh(x); }), -2, 2);
       }},
      {"sigmoid",
       [] {
         return unary_case([](const Vars& v) { return sigmoid(v[0]); },
                           pointwise([](double x) { return 1 / (1 + std::exp(-x)); }), -3, 3);
       }},
      {"relu",
       [] {  // the kink at 0: |x| >= 0.1
         return std::vector<OpCase>{{"[3,7], |x| in [0.1, 1.1)",
                                     {away_from_zero64({3, 7}, 13)},
                                     [](const Vars& v) { return relu(v[0]); },
                                     pointwise([](double x) { return x > 0 ? x : 0.0; })}};
       }},
      {"gelu",
       [] {
         return unary_case([](const Vars& v) { return gelu(v[0]); }, pointwise(gelu_exact), -3, 3);
       }},
      {"sin",
       [] {
         return unary_case([](const Vars& v) { return sin(v[0]); },
                           pointwise([](double x) { return std::sin(x); }), -3, 3);
       }},
      {"sin2pi",
       [] {
         return unary_case([](const Vars& v) { return unary(UnaryOp::Sin2Pi, v[0]); },
                           pointwise([](double x) { return std::sin(2 * kPi * x); }), -1, 1);
       }},
      {"silu",
       [] {
         return unary_case([](const Vars& v) { return silu(v[0]); },
                           pointwise([](double x) { return x / (1 + std::exp(-x)); }), -3, 3);
       }},
      {"identity",
       [] {
         return unary_case([](const Vars& v) { return unary(UnaryOp::Identity, v[0]); },
                           pointwise([](double x) { return x; }), -1, 1);
       }},
      // ---- reductions ----
      {"sum",
       [] {
         std::vector<OpCase> cases;
         for (auto [dims, keep] : std::vector<std::pair<Index, bool>>{
                  {{}, false}, {{1}, false}, {{-1}, true}, {{0, 2}, false}, {{0, 1}, true}})
           cases.push_back({"dims " + shape_str(dims) + (keep ? " keepdim" : ""),
                            {random64({3, 4, 5}, 20)},
                            [dims, keep](const Vars& v) { return sum(v[0], dims, keep); },
                            [dims, keep](const Tensors& in) {
                              return reduce_loop(in[0], dims, keep, 0,
                                                 [](double a, double b) { return a + b; });
                            }});
         return cases;
       }},
      {"mean",
       [] {
         std::vector<OpCase> cases;
         for (auto [dims, keep] :
              std::vector<std::pair<Index, bool>>{{{}, false}, {{1}, false}, {{0, 2}, true}})
           cases.push_back({"dims " + shape_str(dims) + (keep ? " keepdim" : ""),
                            {random64({3, 5, 2}, 21)},
                            [dims, keep](const Vars& v) { return mean(v[0], dims, keep); },
                            [dims, keep](const Tensors& in) {
                              Tensor s = reduce_loop(in[0], dims, keep, 0,
                                                     [](double a, double b) { return a + b; });
                              return mul_scalar(s, double(s.numel()) / double(in[0].numel()));
                            }});
         return cases;
       }},
      {"max",
       [] {  // uniform values are distinct: no ties (max's kinks) within eps
         std::vector<OpCase> cases;
         for (int64_t dim : {0, 1, -1})
           for (bool keep : {false, true})
             cases.push_back({"dim " + std::to_string(dim) + (keep ? " keepdim" : ""),
                              {random64({3, 5, 4}, 22)},
                              [dim, keep](const Vars& v) { return max(v[0], dim, keep); },
                              [dim, keep](const Tensors& in) {
                                return reduce_loop(
                                    in[0], {dim}, keep, -kInf,
                                    [](double a, double b) { return std::max(a, b); });
                              }});
         return cases;
       }},
      // ---- shape ops ----
      {"reshape",
       [] {
         return std::vector<OpCase>{
             {"[3,5] -> [5,-1]",
              {random64({3, 5}, 23)},
              [](const Vars& v) {
                return reshape(v[0], {5, -1});
              },
              [](const Tensors& in) {
                return tabulate({5, 3},
                                [&](const Index& i) { return in[0].flat(i[0] * 3 + i[1]); });
              }},
             {"through [-1] and back to [3,1,5]",
              {random64({3, 5}, 24)},
              [](const Vars& v) {
                return reshape(reshape(v[0], {-1}), {3, 1, 5});
              },
              [](const Tensors& in) {
                return tabulate({3, 1, 5}, [&](const Index& i) { return in[0].at({i[0], i[2]}); });
              }}};
       }},
      {"permute",
       [] {
         std::vector<OpCase> cases;
         for (auto [shape, perm] : std::vector<std::pair<Shape, Index>>{
                  {{2, 3, 1, 5}, {1, 3, 0, 2}}, {{3, 2, 5}, {-1, 0, 1}}})
           cases.push_back({shape_str(shape),
                            {random64(shape, 25)},
                            [perm](const Vars& v) { return permute(v[0], perm); },
                            [perm](const Tensors& in) {
                              Shape out;
                              for (int64_t p : perm)
                                out.push_back(in[0].size(wrap(p, in[0].dim())));
                              return tabulate(out, [&](const Index& i) {
                                Index src(i.size());
                                for (size_t j = 0; j < i.size(); ++j)
                                  src[size_t(wrap(perm[j], in[0].dim()))] = i[j];
                                return in[0].at(src);
                              });
                            }});
         return cases;
       }},
      {"transpose",
       [] {
         std::vector<OpCase> cases;
         for (auto [d0, d1] : std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {-1, -2}})
           cases.push_back({"dims " + std::to_string(d0) + ", " + std::to_string(d1),
                            {random64({3, 4, 5}, 26)},
                            [d0, d1](const Vars& v) { return transpose(v[0], d0, d1); },
                            [d0, d1](const Tensors& in) {
                              const size_t a = size_t(wrap(d0, 3)), b = size_t(wrap(d1, 3));
                              Shape out = in[0].shape();
                              std::swap(out[a], out[b]);
                              return tabulate(out, [&](const Index& i) {
                                Index s = i;
                                std::swap(s[a], s[b]);
                                return in[0].at(s);
                              });
                            }});
         return cases;
       }},
      {"narrow",
       [] {
         std::vector<OpCase> cases;
         for (auto [dim, start, length] :
              std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 3}, {-1, 0, 1}, {0, 2, 1}})
           cases.push_back({"dim " + std::to_string(dim) + " start " + std::to_string(start),
                            {random64({3, 5, 2}, 27)},
                            [=](const Vars& v) { return narrow(v[0], dim, start, length); },
                            [=](const Tensors& in) {
                              const size_t d = size_t(wrap(dim, 3));
                              Shape out = in[0].shape();
                              out[d] = length;
                              return tabulate(out, [&](const Index& i) {
                                Index s = i;
                                s[d] += start;
                                return in[0].at(s);
                              });
                            }});
         return cases;
       }},
      {"concat",
       [] {
         // The same input twice (a cls token prepended to itself) gets both slices' gradients.
         auto ref = [](const Tensors& parts, int64_t dim) {
           Shape out = parts[0].shape();
           out[size_t(dim)] = 0;
           for (const Tensor& p : parts) out[size_t(dim)] += p.size(dim);
           return tabulate(out, [&](const Index& i) {
             Index s = i;
             for (const Tensor& p : parts) {
               if (s[size_t(dim)] < p.size(dim)) return p.at(s);
               s[size_t(dim)] -= p.size(dim);
             }
             return std::nan("");
           });
         };
         return std::vector<OpCase>{{"three parts along dim 1",
                                     {random64({3, 2, 2}, 28), random64({3, 1, 2}, 29), random64({3, 4, 2}, 30)},
                                     [](const Vars& v) {
                                       return concat({v[0], v[1], v[2]}, 1);
                                     },
                                     [ref](const Tensors& in) { return ref(in, 1); }},
                                    {"x, y, x along dim 0",
                                     {random64({1, 5}, 31), random64({3, 5}, 32)},
                                     [](const Vars& v) {
                                       return concat({v[0], v[1], v[0]}, 0);
                                     },
                                     [ref](const Tensors& in) {
                                       return ref({in[0], in[1], in[0]}, 0);
                                     }}};
       }},
      {"index_select",
       [] {
         // Repeated indices accumulate their gradients; an n-D index replaces the dim by its shape.
         auto ref = [](const Tensor& x, int64_t dim, const Tensor& index) {
           Shape out(x.shape().begin(), x.shape().begin() + dim);
           out.insert(out.end(), index.shape().begin(), index.shape().end());
           out.insert(out.end(), x.shape().begin() + dim + 1, x.shape().end());
           return tabulate(out, [&](const Index& i) {
             Index s(i.begin(), i.begin() + dim);
             s.push_back(int64_t(index.at(Index(i.begin() + dim, i.begin() + dim + index.dim()))));
             s.insert(s.end(), i.begin() + dim + index.dim(), i.end());
             return x.at(s);
           });
         };
         const Tensor rows = int64s({4, 0, 4, 2, 1, 4}), cols = int64s({2, 2, 0}, {3, 1});
         return std::vector<OpCase>{
             {"rows [6] of [5,3]",
              {random64({5, 3}, 33)},
              [rows](const Vars& v) {
                return index_select(v[0], 0, beside(rows, v[0].data()));
              },
              [ref, rows](const Tensors& in) { return ref(in[0], 0, rows); }},
             {"index [3,1] along dim 1 of [2,3,3]",
              {random64({2, 3, 3}, 34)},
              [cols](const Vars& v) {
                return index_select(v[0], 1, beside(cols, v[0].data()));
              },
              [ref, cols](const Tensors& in) { return ref(in[0], 1, cols); }}};
       }},
      // ---- matrix products ----
      {"matmul",
       [] {
         // Every transpose, on 2-D, batch-broadcast and 2-D-with-batched shapes (stored
         // transposed where trans is set).
         auto stored = [](Shape batch, int64_t rows, int64_t cols, bool trans) {
           batch.push_back(trans ? cols : rows);
           batch.push_back(trans ? rows : cols);
           return batch;
         };
         std::vector<OpCase> cases;
         uint64_t seed = 100;
         for (bool ta : {false, true})
           for (bool tb : {false, true})
             for (auto [ab, m, k, bb, n] :
                  std::vector<std::tuple<Shape, int64_t, int64_t, Shape, int64_t>>{
                      {{}, 7, 13, {}, 1},
                      {{}, 1, 7, {}, 13},
                      {{2, 1}, 3, 4, {5}, 6},
                      {{2, 3}, 7, 5, {}, 4},
                      {{}, 3, 4, {2}, 5},
                      {{3}, 2, 4, {1, 1}, 5}}) {
               const Shape a = stored(ab, m, k, ta), b = stored(bb, k, n, tb);
               cases.push_back(
                   {shape_str(a) + (ta ? "^T" : "") + " x " + shape_str(b) + (tb ? "^T" : ""),
                    {random64(a, seed++), random64(b, seed++)},
                    [ta, tb](const Vars& v) { return matmul(v[0], v[1], ta, tb); },
                    [ta, tb](const Tensors& in) { return matmul_loop(in[0], in[1], ta, tb); }});
             }
         return cases;
       }},
      {"linear",
       [] {
         Reference with_bias = [](const Tensors& in) {
           return add(matmul_loop(in[0], in[1], false, true), in[2]);
         };
         return std::vector<OpCase>{
             {"x [2,3,5], W [4,5], b [4]",
              {random64({2, 3, 5}, 35), random64({4, 5}, 36), random64({4}, 37)},
              [](const Vars& v) { return linear(v[0], v[1], v[2]); },
              with_bias},
             {"x [7,13], W [1,13], no bias",
              {random64({7, 13}, 38), random64({1, 13}, 39)},
              [](const Vars& v) { return linear(v[0], v[1], Variable()); },
              [](const Tensors& in) { return matmul_loop(in[0], in[1], false, true); }},
             {"x [2,4,16], W [8,16], b [8] (16-byte rows)",
              {random64({2, 4, 16}, 43), random64({8, 16}, 44), random64({8}, 45)},
              [](const Vars& v) { return linear(v[0], v[1], v[2]); },
              with_bias},
             {"x [5] (1-D), W [3,5], b [3]",
              {random64({5}, 40), random64({3, 5}, 41), random64({3}, 42)},
              [](const Vars& v) { return linear(v[0], v[1], v[2]); },
              [](const Tensors& in) {
                return add(matmul_loop(in[0].reshape({1, 5}), in[1], false, true).reshape({3}),
                           in[2]);
              }}};
       }},
      {"linear_gelu",
       [] {
         Op op = [](const Vars& v) { return linear_gelu(v[0], v[1], v[2]); };
         Reference ref = [](const Tensors& in) {
           return gelu(add(matmul_loop(in[0], in[1], false, true), in[2]));
         };
         return std::vector<OpCase>{
             {"x [2,3,5], W [4,5], b [4]",
              {random64({2, 3, 5}, 135), random64({4, 5}, 136), random64({4}, 137)}, op, ref},
             {"x [2,4,16], W [8,16], b [8] (16-byte rows)",
              {random64({2, 4, 16}, 140), random64({8, 16}, 141), random64({8}, 142)}, op, ref},
             {"x [7,13], W [3,13], no bias",
              {random64({7, 13}, 138), random64({3, 13}, 139)},
              [](const Vars& v) { return linear_gelu(v[0], v[1], Variable()); },
              [](const Tensors& in) { return gelu(matmul_loop(in[0], in[1], false, true)); }}};
       }},
      {"linear_add",
       [] {
         Op op = [](const Vars& v) { return linear_add(v[0], v[1], v[2], v[3]); };
         Reference ref = [](const Tensors& in) {
           return add(add(matmul_loop(in[0], in[1], false, true), in[2]), in[3]);
         };
         return std::vector<OpCase>{
             {"x [2,3,5], W [4,5], b [4], r [2,3,4]",
              {random64({2, 3, 5}, 235), random64({4, 5}, 236), random64({4}, 237),
               random64({2, 3, 4}, 238)}, op, ref},
             {"x [2,4,16], W [8,16], b [8], r [2,4,8] (16-byte rows)",
              {random64({2, 4, 16}, 242), random64({8, 16}, 243), random64({8}, 244),
               random64({2, 4, 8}, 245)}, op, ref},
             {"x [7,13], W [3,13], no bias, r [7,3]",
              {random64({7, 13}, 239), random64({3, 13}, 240), random64({7, 3}, 241)},
              [](const Vars& v) { return linear_add(v[0], v[1], Variable(), v[2]); },
              [](const Tensors& in) {
                return add(matmul_loop(in[0], in[1], false, true), in[2]);
              }}};
       }},
      // ---- nn functions ----
      {"softmax",
       [] {
         std::vector<OpCase> cases;
         for (int64_t dim : {0, 1, 2, -1})
           cases.push_back({"dim " + std::to_string(dim),
                            {random64({3, 5, 7}, 43, -3, 3)},
                            [dim](const Vars& v) { return softmax(v[0], dim); },
                            [dim](const Tensors& in) { return softmax_loop(in[0], dim, false); }});
         return cases;
       }},
      {"log_softmax",
       [] {
         std::vector<OpCase> cases;
         for (int64_t dim : {0, 1, 2, -1})
           cases.push_back({"dim " + std::to_string(dim),
                            {random64({3, 5, 7}, 44, -3, 3)},
                            [dim](const Vars& v) { return log_softmax(v[0], dim); },
                            [dim](const Tensors& in) { return softmax_loop(in[0], dim, true); }});
         return cases;
       }},
      {"layer_norm",
       [] {
         return std::vector<OpCase>{
             {"affine [3,7]",
              {random64({3, 7}, 45), random64({7}, 46), random64({7}, 47)},
              [](const Vars& v) { return layer_norm(v[0], v[1], v[2], 1e-5); },
              [](const Tensors& in) { return layer_norm_loop(in[0], in[1], in[2], 1e-5); }},
             {"weight only [2,3,5]",
              {random64({2, 3, 5}, 48), random64({5}, 49)},
              [](const Vars& v) { return layer_norm(v[0], v[1], Variable(), 1e-5); },
              [](const Tensors& in) { return layer_norm_loop(in[0], in[1], Tensor(), 1e-5); }},
             {"plain [4,13]",
              {random64({4, 13}, 50)},
              [](const Vars& v) { return layer_norm(v[0], Variable(), Variable(), 1e-5); },
              [](const Tensors& in) { return layer_norm_loop(in[0], Tensor(), Tensor(), 1e-5); }},
             {"D = 1: y = b, dx = 0",
              {random64({3, 1}, 51), random64({1}, 52), random64({1}, 53)},
              [](const Vars& v) { return layer_norm(v[0], v[1], v[2], 1e-5); },
              [](const Tensors& in) { return layer_norm_loop(in[0], in[1], in[2], 1e-5); }},
             {"70 rows (chunked weight / bias sums)",
              {random64({70, 3}, 54), random64({3}, 55), random64({3}, 56)},
              [](const Vars& v) { return layer_norm(v[0], v[1], v[2], 1e-5); },
              [](const Tensors& in) { return layer_norm_loop(in[0], in[1], in[2], 1e-5); }}};
       }},
      {"rms_norm",
       [] {
         auto op = [](const Vars& v) { return rms_norm(v[0], v[1], 1e-6); };
         auto ref = [](const Tensors& in) { return rms_norm_loop(in[0], in[1], 1e-6); };
         return std::vector<OpCase>{
             {"[3,7]", {random64({3, 7}, 45), random64({7}, 46)}, op, ref},
             {"[2,3,5]", {random64({2, 3, 5}, 48), random64({5}, 49)}, op, ref},
             {"D = 1", {random64({3, 1}, 51, 0.5, 1), random64({1}, 52)}, op, ref},
             {"70 rows (chunked weight sums)", {random64({70, 3}, 54), random64({3}, 55)}, op, ref}};
       }},
      {"rope", rope_cases},
      {"cross_entropy",
       [] {
         const Tensor labels = int64s({3, 0, 6, 6, 1});
         std::vector<OpCase> cases;
         for (double s : {0.0, 0.1, 1.0})
           cases.push_back(
               {"label_smoothing " + num(s),
                {random64({5, 7}, 57, -2, 2), labels},
                [s](const Vars& v) { return cross_entropy(v[0], v[1].data(), s); },
                [s](const Tensors& in) { return cross_entropy_loop(in[0], in[1], s); }});
         return cases;
       }},
      {"mse_loss", mse_loss_cases},
      {"embedding", embedding_cases},
      {"expand", expand_cases},
      {"add_layer_norm", add_layer_norm_cases},
      {"dropout", dropout_cases},
      {"scaled_dot_product_attention", attention_cases},
      {"packed_multi_head_attention", packed_attention_cases},
      {"packed_multi_head_attention causal / grouped-query", causal_attention_cases},
      {"flash_multi_head_attention", flash_attention_cases},
      // ---- the fused adapter ops ----
      {"neat_linear", neat_cases},
      {"lora_linear", lora_cases},
      // ---- the ViT's patch split (nn/patch_embedding.h) ----
      {"patchify",
       [] {
         // x [B, C, H, W] -> [B, (H/P)(W/P), C P P]: patch n = (gh, gw) row-major over the
         // grid, each flattened in (c, i, j) order like a Conv2d weight.
         const int64_t P = 2;
         Reference ref = [P](const Tensors& in) {
           const Tensor& x = in[0];
           const int64_t C = x.size(1), GW = x.size(3) / P;
           const Shape out = {x.size(0), (x.size(2) / P) * GW, C * P * P};
           return tabulate(out, [&](const Index& o) {
             const int64_t gh = o[1] / GW, gw = o[1] % GW;
             const int64_t c = o[2] / (P * P), i = o[2] / P % P, j = o[2] % P;
             return x.at({o[0], c, gh * P + i, gw * P + j});
           });
         };
         return std::vector<OpCase>{{"[2,3,4,6], patch 2",
                                     {random64({2, 3, 4, 6}, 85)},
                                     [P](const Vars& v) { return patchify(v[0], P); },
                                     ref}};
       }},
      // ---- dtype conversion (autograd/cast.h) ----
      {"to_dtype",
       [] {  // to float32 and back to the inputs' dtype, times y: float64 -> float32 -> float64
             // and both casts' backwards on the gradient (a float32 run: no cast; a bf16 run:
             // bf16 -> float32 -> bf16, exact). x float32-exact, scaled by 2^-20: float32's
             // rounding of x +- eps (half an ulp, ~1e-13 here) is far below what the central
             // difference resolves, so the round trip is exact to the gradcheck.
         Tensor x = random64({3, 5}, 86).to(DType::Float32).to(DType::Float64);
         scale_(x, std::ldexp(1.0, -20));
         return std::vector<OpCase>{
             {"[3,5] float32-exact, ~1e-6",
              {x, random64({3, 5}, 87)},
              [](const Vars& v) {
                return mul(to_dtype(to_dtype(v[0], DType::Float32), v[1].dtype()), v[1]);
              },
              binary([](double a, double b) { return a * b; })}};
       }},
  };
  return table;
}

}  // namespace neat::test
