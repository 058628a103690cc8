#include "nn/peft/lora.h"

#include "autograd/cast.h"
#include "autograd/matmul.h"
#include "nn/init.h"
#include "tensor/dropout.h"
#include "tensor/elementwise.h"
#include "tensor/matmul.h"
#include "tensor/reduce.h"

namespace neat {

Lora::Lora(const Linear& base, const LoraOptions& options)
    : options_(options),
      gen_(options.dropout_generator ? options.dropout_generator
                                     : std::make_shared<Generator>(options.seed + 2)) {
  NEAT_CHECK(options.rank >= 1, "Lora: rank must be >= 1, got ", options.rank);
  NEAT_CHECK(options.dropout >= 0 && options.dropout < 1, "Lora: dropout must be in [0, 1), got ",
             options.dropout);
  weight = register_parameter("weight", base.weight);
  weight.set_requires_grad(false);
  if (base.bias.defined()) {
    bias = register_parameter("bias", base.bias);
    bias.set_requires_grad(false);
  }
  const int64_t out = weight.size(0), in = weight.size(1), r = options.rank;
  lora_A = register_module("lora_A", std::make_shared<Linear>(in, r, false, options.seed));
  lora_B = register_module("lora_B", std::make_shared<Linear>(r, out, false, options.seed + 1));
  zeros_(lora_B->weight);
  to(weight.dtype());   // the adapter takes the base weight's dtype and device
  to(weight.data().device());
}

int64_t Lora::parameter_count(int64_t in_features, int64_t out_features,
                              const LoraOptions& options) {
  return options.rank * (in_features + out_features);
}

namespace {

// Input order of the recorded node (and of its backward's result).
enum LoraInput : size_t { kX = 0, kWeight = 1, kBias = 2, kA = 3, kB = 4 };

struct LoraNode : Node {
  double scaling = 1;
  // Saved by the forward, each only when a needed gradient reads it:
  Tensor x;        // [ROWS, IN]: dW0 = dy^T x
  Tensor kept;     // dropout(x) [ROWS, IN]: dA = dz^T kept
  Tensor mask;     // the dropout mask [ROWS, IN] (undefined without dropout): dx
  Tensor z;        // kept A^T [ROWS, R]: dB
  Tensor weight;   // W0: dx
  Tensor A;        // dx
  Tensor B;        // dz = s dy B
  const char* name() const override { return "lora_linear"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override;
  void release_saved() override { x = kept = mask = z = weight = A = B = Tensor(); }
};

}  // namespace

// One fused node, as Neat's (nn/peft/neat_function.cpp): x [ROWS, IN] (leading dims folded),
// kept = dropout(x), z = kept A^T [ROWS, R]:   y = x W0^T + b + s z B^T
// The update s z B^T is summed into x W0^T inside one GEMM (matmul_sum), so the forward makes
// no [ROWS, OUT] temporaries beyond y, and the backward sums dx the same way.
Variable lora_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, double scaling, double dropout_p,
                     bool training, Generator& gen) {
  NEAT_CHECK(dropout_p >= 0 && dropout_p <= 1, "lora_linear: dropout probability ", dropout_p,
             " must be in [0, 1]");
  NEAT_CHECK(weight.dim() == 2, "lora_linear: W0 must be [OUT, IN], got ",
             shape_str(weight.shape()));
  const int64_t out = weight.size(0), in = weight.size(1);
  NEAT_CHECK(x.dim() >= 1 && x.size(-1) == in, "lora_linear: input ", shape_str(x.shape()),
             " does not end in IN = ", in, " (W0 ", shape_str(weight.shape()), ")");
  NEAT_CHECK(A.dim() == 2 && A.size(1) == in, "lora_linear: A must be [R, IN = ", in, "], got ",
             shape_str(A.shape()));
  const int64_t r = A.size(0);
  NEAT_CHECK(B.shape() == Shape({out, r}), "lora_linear: B must be [OUT, R] = ",
             shape_str({out, r}), ", got ", shape_str(B.shape()));
  NEAT_CHECK(!bias.defined() || bias.shape() == Shape({out}), "lora_linear: bias must be [",
             out, "], got ", shape_str(bias.shape()));
  check_same_dtype(x.data(), weight.data(), "lora_linear");

  auto node = std::make_shared<LoraNode>();
  node->scaling = scaling;
  const Tensor x2 = x.data().reshape({-1, in});
  Tensor kept = x2;
  if (training && dropout_p > 0) {
    node->mask = dropout_mask(x.shape(), dropout_p, gen, x2.dtype(), x2.device()).reshape({-1, in});
    kept = mul(x2, node->mask);
  }
  Tensor z = matmul(kept, A.data(), false, /*trans_b=*/true);   // [ROWS, R]
  // y = x W^T + s z B^T + b, one GEMM (tensor/matmul.h)
  Tensor y = matmul_sum(x2, weight.data(), false, /*trans_b=*/true, z, B.data(), false,
                        /*trans_b2=*/true, scaling, bias.data_or_undefined());
  Shape out_shape = x.shape();
  out_shape.back() = out;

  if (weight.requires_grad()) node->x = x2;
  if (A.requires_grad()) node->kept = kept;
  if (!x.requires_grad()) node->mask = Tensor();
  if (B.requires_grad()) node->z = z;
  if (x.requires_grad()) {
    node->weight = weight.data();
    node->A = A.data();
  }
  if (x.requires_grad() || A.requires_grad()) node->B = B.data();
  return record(y.reshape(out_shape), std::move(node), {x, weight, bias, A, B});
}

// In the forward pass this was y = x W0^T + b + s z B^T with z = kept A^T, kept = x * mask
// (kept = x without dropout), so now we have
//   dB = s dy^T z [OUT, R],  dz = s dy B [ROWS, R],  dA = dz^T kept [R, IN],
//   dx = dy W0 + (dz A) * mask [ROWS, IN],  dW0 = dy^T x,  db = sum_rows dy.
std::vector<Tensor> LoraNode::backward(const Tensor& grad_y) {
  const int64_t out = grad_y.size(-1);
  std::vector<Tensor> grads(num_inputs());
  const Tensor dy = grad_y.reshape({-1, out});
  if (needs_grad(kB)) {
    grads[kB] = matmul(dy, z, /*trans_a=*/true);
    scale_(grads[kB], scaling);
  }
  if (needs_grad(kX) || needs_grad(kA)) {
    Tensor dz = matmul(dy, B);
    scale_(dz, scaling);
    if (needs_grad(kA)) grads[kA] = matmul(dz, kept, /*trans_a=*/true);
    if (needs_grad(kX)) {
      Tensor dx;
      if (mask.defined()) {
        dx = matmul(dy, weight);
        add_(dx, mul(matmul(dz, A), mask));
      } else {
        dx = matmul_sum(dy, weight, false, false, dz, A, false, false, 1.0);   // dy W0 + dz A
      }
      grads[kX] = dx.reshape(input_shape(kX));
    }
  }
  if (needs_grad(kWeight)) grads[kWeight] = matmul(dy, x, /*trans_a=*/true);
  if (needs_grad(kBias)) grads[kBias] = sum(dy, {0});
  return grads;
}

Variable Lora::forward(const Variable& x) {
  if (merged_) return linear(x, in_dtype_of(weight, x), in_dtype_of(bias, x));
  // float32 masters in a bf16 forward enter through to_dtype (autograd/cast.h)
  return lora_linear(x, in_dtype_of(weight, x), in_dtype_of(bias, x),
                     in_dtype_of(lora_A->weight, x), in_dtype_of(lora_B->weight, x), scaling(),
                     options_.dropout, is_training(), *gen_);
}

Tensor Lora::delta_weight() const {
  Tensor delta = matmul(lora_B->weight.data(), lora_A->weight.data());   // [OUT, R] x [R, IN]
  scale_(delta, scaling());
  return delta;
}

void Lora::merge() {
  NEAT_CHECK(!merged_, "Lora: merge of an already merged layer");
  // W0 += scaling B A, accumulated in place (no OUT x IN temporary).
  matmul_into(weight.data(), lora_B->weight.data(), lora_A->weight.data(), false, false,
              scaling(), 1.0);
  merged_ = true;
}

void Lora::unmerge() {
  NEAT_CHECK(merged_, "Lora: unmerge of a layer that is not merged");
  matmul_into(weight.data(), lora_B->weight.data(), lora_A->weight.data(), false, false,
              -scaling(), 1.0);
  merged_ = false;
}

}  // namespace neat
