// matmul and matmul_into: shape checks, batch-dim broadcasting and the dispatch to the GEMM
// (tensor/cpu/matmul.h, tensor/cuda/matmul.cu).
//
//   a [..a, M, K] (stored [..a, K, M] with trans_a), b [..b, K, N] (stored [..b, N, K] with
//   trans_b)  ->  c [broadcast(..a, ..b), M, N],  c = alpha op(a) op(b) + beta c
//   (matmul: alpha = 1, beta = 0 into a new c)
//
// Three ways to run it on the CPU, cheapest first:
//   1. b has no real batch (2-D, or all batch dims 1) and a is not transposed: a's batch rows
//      are consecutive in memory, so a [..a, M, K] is one [..a * M, K] matrix and the whole
//      product is ONE GEMM (Linear's x [B, N, IN] x W^T).
//   2. many small products (attention's [B, H, N, d] x [B, H, d, N]): one GEMM per batch
//      entry, the entries spread over the OpenMP threads, each GEMM single-threaded inside.
//   3. few large products: one GEMM after another, each using all threads itself.
// On CUDA, 1 is one cuBLAS GEMM, 2 and 3 one strided-batched GEMM when the batch has constant
// strides (tensor/cuda/matmul.cu).
#include "tensor/matmul.h"

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "tensor/cpu/matmul.h"
#include "tensor/cuda/matmul.h"
#include "tensor/dispatch.h"

namespace neat {

namespace {

// "[2, 3]" or "[2, 3]^T": how an operand appears in error messages.
std::string operand_str(const Tensor& t, bool trans) {
  return shape_str(t.shape()) + (trans ? "^T" : "");
}

// For every output batch entry, which matrix of a and which of b it multiplies.
struct BatchPlan {
  Shape shape;                        // the broadcast batch shape
  std::vector<int64_t> a_index, b_index;
};

BatchPlan plan_batches(const Shape& a_batch, const Shape& b_batch, const std::string& what,
                       const char* op) {
  const size_t rank = std::max(a_batch.size(), b_batch.size());
  // Right-aligned sizes (missing leading dims are 1) and matrix strides (0 where broadcast).
  std::vector<int64_t> a_size(rank, 1), b_size(rank, 1), a_stride(rank, 0), b_stride(rank, 0);
  for (size_t i = 0; i < a_batch.size(); ++i) a_size[rank - a_batch.size() + i] = a_batch[i];
  for (size_t i = 0; i < b_batch.size(); ++i) b_size[rank - b_batch.size() + i] = b_batch[i];
  BatchPlan plan;
  plan.shape.resize(rank);
  int64_t a_step = 1, b_step = 1;
  for (size_t d = rank; d-- > 0;) {
    NEAT_CHECK(a_size[d] == b_size[d] || a_size[d] == 1 || b_size[d] == 1, op, ": ", what,
               ": batch dims ", shape_str(a_batch), " and ", shape_str(b_batch),
               " do not broadcast");
    plan.shape[d] = a_size[d] == 1 ? b_size[d] : a_size[d];
    if (a_size[d] != 1) a_stride[d] = a_step;
    if (b_size[d] != 1) b_stride[d] = b_step;
    a_step *= a_size[d];
    b_step *= b_size[d];
  }
  const int64_t count = shape_numel(plan.shape);
  plan.a_index.resize(size_t(count));
  plan.b_index.resize(size_t(count));
  for (int64_t t = 0; t < count; ++t) {
    int64_t rest = t, ai = 0, bi = 0;
    for (size_t d = rank; d-- > 0;) {
      const int64_t digit = rest % plan.shape[d];
      rest /= plan.shape[d];
      ai += digit * a_stride[d];
      bi += digit * b_stride[d];
    }
    plan.a_index[size_t(t)] = ai;
    plan.b_index[size_t(t)] = bi;
  }
  return plan;
}

// A product ready to run: the output's shape, the GEMM sizes (rows = M, or a's batch x M when
// folded) and which matrix of a and of b each output matrix multiplies.
struct Product {
  Shape out_shape;
  int64_t rows = 0, N = 0, K = 0;
  BatchPlan plan;
};

Product plan_product(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                     const char* op) {
  NEAT_CHECK(a.defined() && b.defined(), op, ": an operand is undefined");
  const std::string what = operand_str(a, trans_a) + " x " + operand_str(b, trans_b);
  NEAT_CHECK(a.dim() >= 2 && b.dim() >= 2, op, ": ", what,
             ": both operands need at least 2 dims (reshape a vector to [1, n] or [n, 1])");
  check_same_dtype(a, b, op);

  const int64_t M = a.size(trans_a ? -1 : -2), K = a.size(trans_a ? -2 : -1);
  const int64_t Kb = b.size(trans_b ? -1 : -2), N = b.size(trans_b ? -2 : -1);
  NEAT_CHECK(K == Kb, op, ": ", what, ": inner dimensions ", K, " and ", Kb, " differ");

  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  Product p;
  p.plan = plan_batches(a_batch, b_batch, what, op);
  p.out_shape = p.plan.shape;
  p.out_shape.push_back(M);
  p.out_shape.push_back(N);
  p.N = N;
  p.K = K;
  // Case 1: fold a's batch into M. Valid when b has one matrix, so the output's batch entries
  // are exactly a's matrices in a's order.
  const bool fold = !trans_a && shape_numel(b_batch) == 1;
  if (fold) {
    p.plan.a_index = {0};
    p.plan.b_index = {0};
  }
  p.rows = fold ? shape_numel(a_batch) * M : M;
  return p;
}

// c = alpha op(a) op(b) + beta c, c of p.out_shape: c of a's dtype, or float32 under bfloat16
// a and b (the float32 sums kept).
void run_product(const Product& p, const Tensor& c, const Tensor& a, const Tensor& b,
                 bool trans_a, bool trans_b, double alpha, double beta, const char* op) {
  dispatch_with_bf16({a, b, c}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    using M = math_t<T>;
    if (c.numel() == 0) return;
    auto run = [&](auto* C) {
      matmul_forward(dev, trans_a, trans_b, p.rows, p.N, p.K, M(alpha), a.data<T>(),
                     b.data<T>(), M(beta), C, p.plan.a_index.data(), p.plan.b_index.data(),
                     int64_t(p.plan.a_index.size()));
    };
    if constexpr (std::is_same_v<T, bfloat16>) {
      if (c.dtype() == DType::Float32) return run(c.data<float>());
    }
    run(c.data<T>());
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const Product p = plan_product(a, b, trans_a, trans_b, "matmul");
  Tensor c(p.out_shape, a.dtype(), a.device());
  run_product(p, c, a, b, trans_a, trans_b, 1.0, 0.0, "matmul");
  return c;
}

void matmul_into(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                 double alpha, double beta) {
  const Product p = plan_product(a, b, trans_a, trans_b, "matmul_into");
  NEAT_CHECK(c.defined(), "matmul_into: the output is undefined");
  NEAT_CHECK(c.shape() == p.out_shape, "matmul_into: output ", shape_str(c.shape()), " but ",
             operand_str(a, trans_a), " x ", operand_str(b, trans_b), " is ",
             shape_str(p.out_shape));
  NEAT_CHECK(c.dtype() == a.dtype() ||
                 (a.dtype() == DType::BFloat16 && c.dtype() == DType::Float32),
             "matmul_into: dtype mismatch: output ", dtype_name(c.dtype()), " ",
             shape_str(c.shape()),
             " for ", dtype_name(a.dtype()), " operands (want ", dtype_name(a.dtype()),
             a.dtype() == DType::BFloat16 ? " or float32)" : ")");
  NEAT_CHECK(c.numel() == 0 || (c.raw_data() != a.raw_data() && c.raw_data() != b.raw_data()),
             "matmul_into: output ", shape_str(c.shape()), " shares memory with an operand (",
             operand_str(a, trans_a), " x ", operand_str(b, trans_b), ")");
  run_product(p, c, a, b, trans_a, trans_b, alpha, beta, "matmul_into");
}

Tensor matmul_sum(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, const Tensor& a2,
                  const Tensor& b2, bool trans_a2, bool trans_b2, double scale,
                  const Tensor& bias) {
  const char* op = "matmul_sum";
  NEAT_CHECK(a.dim() == 2 && b.dim() == 2 && a2.dim() == 2 && b2.dim() == 2, op,
             ": operands must be 2-D, got ", operand_str(a, trans_a), " x ",
             operand_str(b, trans_b), " + ", operand_str(a2, trans_a2), " x ",
             operand_str(b2, trans_b2));
  const int64_t M = trans_a ? a.size(1) : a.size(0), K = trans_a ? a.size(0) : a.size(1);
  const int64_t N = trans_b ? b.size(0) : b.size(1);
  const int64_t M2 = trans_a2 ? a2.size(1) : a2.size(0), K2 = trans_a2 ? a2.size(0) : a2.size(1);
  const int64_t N2 = trans_b2 ? b2.size(0) : b2.size(1);
  const int64_t Kb = trans_b ? b.size(1) : b.size(0), K2b = trans_b2 ? b2.size(1) : b2.size(0);
  NEAT_CHECK(K == Kb && K2 == K2b && M == M2 && N == N2, op, ": ", operand_str(a, trans_a), " x ",
             operand_str(b, trans_b), " + ", operand_str(a2, trans_a2), " x ",
             operand_str(b2, trans_b2),
             ": inner dimensions must agree in each product and both products be [M, N]");
  NEAT_CHECK(!bias.defined() || bias.shape() == Shape({N}), op, ": bias ",
             bias.defined() ? shape_str(bias.shape()) : "none", " is not [N] = [", N, "]");
  for (const Tensor* t : {&b, &a2, &b2}) check_same_dtype(a, *t, op);
  if (bias.defined()) check_same_dtype(a, bias, op);
  Tensor c({M, N}, a.dtype(), a.device());
  dispatch_with_bf16({a, b, a2, b2, bias, c}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    matmul_sum_forward(dev, trans_a, trans_b, M, N, K, a.data<T>(), b.data<T>(), trans_a2,
                       trans_b2, K2, math_t<T>(scale), a2.data<T>(), b2.data<T>(),
                       bias.defined() ? bias.data<T>() : nullptr, c.data<T>());
  });
  return c;
}

namespace {

// z = x weight^T + bias + residual, y = gelu(z) when gelu else z: x [rows, IN], weight
// [OUT, IN], bias [OUT] or undefined, residual [rows, OUT] or undefined, all of one dtype; one
// kernel call (tensor/cpu/matmul.h, tensor/cuda/matmul.h). With gelu, a non-null `product`
// receives z as well.
Tensor linear_product(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Tensor& residual, bool gelu, Tensor* product, const char* op) {
  NEAT_CHECK(x.dim() == 2 && weight.dim() == 2 &&
                 (!bias.defined() || bias.shape() == Shape({weight.size(0)})),
             op, ": x ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()), ", bias ",
             bias.defined() ? shape_str(bias.shape()) : "none",
             " are not [rows, IN], [OUT, IN], [OUT]");
  check_same_dtype(x, weight, op);
  if (bias.defined()) check_same_dtype(x, bias, op);
  NEAT_CHECK(x.size(1) == weight.size(1), op, ": x ", shape_str(x.shape()), " x weight ",
             shape_str(weight.shape()), "^T: inner dimensions ", x.size(1), " and ",
             weight.size(1), " differ");
  const int64_t rows = x.size(0), out = weight.size(0), in = x.size(1);
  if (residual.defined()) {
    NEAT_CHECK(residual.shape() == Shape({rows, out}), op, ": residual ",
               shape_str(residual.shape()), " is not the product's shape [", rows, ", ", out,
               "] (x ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()), ")");
    check_same_dtype(x, residual, op);
  }
  Tensor y({rows, out}, x.dtype(), x.device());
  if (product != nullptr) *product = Tensor({rows, out}, x.dtype(), x.device());
  dispatch_with_bf16({x, weight, bias, residual, y}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    linear_forward(dev, rows, out, in, x.data<T>(), weight.data<T>(),
                   bias.defined() ? bias.data<T>() : nullptr,
                   residual.defined() ? residual.data<T>() : nullptr,
                   gelu, product != nullptr ? product->data<T>() : nullptr, y.data<T>());
  });
  return y;
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_product(x, weight, bias, Tensor(), false, nullptr, "linear_forward");
}

Tensor linear_add_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const Tensor& residual) {
  NEAT_CHECK(residual.defined(), "linear_add_forward: the residual is undefined");
  return linear_product(x, weight, bias, residual, false, nullptr, "linear_add_forward");
}

Tensor linear_gelu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           Tensor* product) {
  return linear_product(x, weight, bias, Tensor(), true, product, "linear_gelu_forward");
}

Tensor linear_weight_grad(const Tensor& dy, const Tensor& x, Tensor* bias_grad) {
  const char* op = "linear_weight_grad";
  NEAT_CHECK(dy.dim() == 2 && x.dim() == 2 && dy.size(0) == x.size(0), op, ": dy ",
             shape_str(dy.shape()), " and x ", shape_str(x.shape()),
             " are not [rows, OUT] and [rows, IN]");
  check_same_dtype(dy, x, op);
  const int64_t rows = dy.size(0), out = dy.size(1), in = x.size(1);
  Tensor dw({out, in}, dy.dtype(), dy.device());
  if (bias_grad != nullptr) *bias_grad = Tensor({out}, dy.dtype(), dy.device());
  dispatch_with_bf16({dy, x}, op, [&](auto dev, auto zero) {
    using T = decltype(zero);
    linear_weight_grad(dev, rows, out, in, dy.data<T>(), x.data<T>(), dw.data<T>(),
                       bias_grad != nullptr ? bias_grad->data<T>() : nullptr);
  });
  return dw;
}

}  // namespace neat
