#include "nn/peft/neat_function.h"

#include "tensor/matmul.h"
#include "tensor/reduce.h"

namespace neat {

const char* neat_activation_name(NeatActivation activation) {
  switch (activation) {
    case NeatActivation::Relu: return "relu";
    case NeatActivation::Sin2Pi: return "sin2pi";
    case NeatActivation::Gelu: return "gelu";
    case NeatActivation::Tanh: return "tanh";
    case NeatActivation::Identity: return "identity";
  }
  return "?";
}

NeatActivation parse_neat_activation(const std::string& name) {
  for (NeatActivation a : {NeatActivation::Relu, NeatActivation::Sin2Pi, NeatActivation::Gelu,
                           NeatActivation::Tanh, NeatActivation::Identity})
    if (name == neat_activation_name(a)) return a;
  if (name == "sin") return NeatActivation::Sin2Pi;   // its name in files written before sin2pi
  NEAT_CHECK(false, "neat: unknown activation '", name,
             "' (choose relu, sin2pi, gelu, tanh or identity)");
}

UnaryOp neat_activation_op(NeatActivation activation) {
  switch (activation) {
    case NeatActivation::Relu: return UnaryOp::Relu;
    case NeatActivation::Sin2Pi: return UnaryOp::Sin2Pi;
    case NeatActivation::Gelu: return UnaryOp::Gelu;
    case NeatActivation::Tanh: return UnaryOp::Tanh;
    case NeatActivation::Identity: return UnaryOp::Identity;
  }
  return UnaryOp::Identity;
}

void check_neat_shapes(const Tensor& weight, const Tensor& A, const Tensor& B,
                       const std::vector<Tensor>& layers, const NeatSpec& spec) {
  NEAT_CHECK(spec.depth >= 2 && spec.depth % 2 == 0, "neat: depth must be even and >= 2, got ",
             spec.depth);
  NEAT_CHECK(int64_t(layers.size()) == spec.depth - 2, "neat: depth ", spec.depth, " needs ",
             spec.depth - 2, " intermediate layers, got ", layers.size());
  NEAT_CHECK(weight.dim() == 2, "neat: W0 must be [OUT, IN], got ", shape_str(weight.shape()));
  const int64_t out = weight.size(0);
  NEAT_CHECK(A.dim() == 2 && A.size(1) == out, "neat: A must be [R, OUT=", out, "], got ",
             shape_str(A.shape()));
  const int64_t r = A.size(0);
  NEAT_CHECK(B.shape() == Shape({out, r}), "neat: B must be [OUT, R] = ",
             shape_str({out, r}), ", got ", shape_str(B.shape()));
  for (size_t i = 0; i < layers.size(); ++i)
    NEAT_CHECK(layers[i].shape() == Shape({r, r}), "neat: layer ", i, " must be [R, R] = ",
               shape_str({r, r}), ", got ", shape_str(layers[i].shape()));
}

namespace {

// op(a) op(b) [M, N] as dtype `out`, a and b 2-D: matmul when a, b and out agree; otherwise
// (bf16 beside float32: a bf16 step's frozen W0 and activations meeting the float32 M network,
// docs/bf16.md) both operands in bf16, a float32 one rounded, and the product's float32 sums
// kept (matmul_into's float32 output for bf16 operands) or rounded once to a bf16 out.
Tensor product_as(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, DType out) {
  if (a.dtype() == out && b.dtype() == out) return matmul(a, b, trans_a, trans_b);
  Tensor c({a.size(trans_a ? 1 : 0), b.size(trans_b ? 0 : 1)}, out, a.device());
  matmul_into(c, a.to(DType::BFloat16), b.to(DType::BFloat16), trans_a, trans_b, 1.0, 0.0);
  return c;
}

}  // namespace

// pre_0 = W0^T A^T [IN, R] (in A's dtype: float32 beside a bf16 W0); then per layer k >= 1:
// pre_k = h_{k-1} L_k^T, and for the (depth-2)/2 encoders h_{k-1} is pushed before the layer,
// for the decoders the most recent push is popped and added after the activation.
NeatStack neat_m_forward(const Tensor& weight, const Tensor& A, const std::vector<Tensor>& layers,
                         const NeatSpec& spec) {
  const UnaryOp op = neat_activation_op(spec.activation);
  const size_t encoders = layers.size() / 2;
  NeatStack s;
  s.pre.push_back(product_as(weight, A, /*trans_a=*/true, /*trans_b=*/true, A.dtype()));
  s.act.push_back(unary(op, s.pre[0]));
  s.h.push_back(s.act[0]);
  s.skip.push_back(-1);
  std::vector<int64_t> pushed;   // indices into h of the saved values
  for (size_t i = 0; i < layers.size(); ++i) {
    const bool encoder = i < encoders;
    if (encoder) pushed.push_back(int64_t(s.h.size()) - 1);
    s.pre.push_back(matmul(s.h.back(), layers[i], false, /*trans_b=*/true));
    s.act.push_back(unary(op, s.pre.back()));
    if (encoder) {
      s.h.push_back(s.act.back());
      s.skip.push_back(-1);
    } else {
      s.h.push_back(add(s.act.back(), s.h[pushed.back()]));
      s.skip.push_back(pushed.back());
      pushed.pop_back();
    }
  }
  return s;
}

Tensor neat_delta_weight(const Tensor& M, const Tensor& B, double scale) {
  Tensor delta = matmul(B, M, false, /*trans_b=*/true);   // [OUT, R] x [R, IN]
  scale_(delta, scale);
  return delta;
}

namespace {

// Input order of the recorded node (and of its backward's result).
enum NeatInput : size_t { kX = 0, kWeight = 1, kBias = 2, kA = 3, kB = 4, kFirstLayer = 5 };

struct NeatNode : Node {
  NeatSpec spec;
  DType adapter_dtype = DType::Float32;   // A's, B's, the layers' (float32 masters under a
                                          // bf16 x and W0), what their gradients are given in
  DType m_dtype = DType::Float32;   // the M network's: the adapter's, float32 for a bf16 one
  // Saved by the forward, each only when a needed gradient reads it:
  Tensor x;                    // [ROWS, IN]: dM = x^T dz and dW0 = dy^T x
  Tensor z;                    // x M [ROWS, R]: dB
  Tensor weight;               // W0: dx and dA
  Tensor A;                    // dW0 through the M network (in m_dtype)
  Tensor B;                    // dz = s dy B (in x's dtype)
  std::vector<Tensor> layers;  // the M network's backward
  NeatStack stack;             // pre, act, h for the M network's backward
  Tensor M;                    // M in x's dtype: dx
  const char* name() const override { return "neat_linear"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override;
  void release_saved() override {
    x = z = weight = A = B = M = Tensor();
    layers.clear();
    stack = NeatStack();
  }
  // Some input of the M network (A, a layer, or W0) needs a gradient.
  bool needs_m_grad() const {
    for (size_t i = kFirstLayer; i < num_inputs(); ++i)
      if (needs_grad(i)) return true;
    return needs_grad(kA) || needs_grad(kWeight);
  }
  Tensor m_backward(const Tensor& dM, std::vector<Tensor>& grads) const;
};

}  // namespace

// x [ROWS, IN] (leading dims folded), M [IN, R], z = x M [ROWS, R]:
//   y = x W0^T + s z B^T + b
// With x and W0 in bf16 and A, B, the layers float32 (--precision bf16), the M network runs in
// float32 and M and B are cast to bf16 once, here; their gradients come back as float32. bf16
// A and layers are widened: the M network always runs in float32 at least.
Variable neat_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, const std::vector<Variable>& layers,
                     const NeatSpec& spec) {
  // The M network runs in the adapter's dtype, at least float32: bf16 A and layers are widened.
  const DType m_dtype = A.dtype() == DType::BFloat16 ? DType::Float32 : A.dtype();
  std::vector<Tensor> layer_data;
  for (const Variable& l : layers) layer_data.push_back(l.data().to(m_dtype));
  check_neat_shapes(weight.data(), A.data(), B.data(), layer_data, spec);
  const Tensor A_m = A.data().to(m_dtype);
  const int64_t out = weight.size(0), in = weight.size(1);
  NEAT_CHECK(x.dim() >= 1 && x.size(-1) == in, "neat_linear: input ", shape_str(x.shape()),
             " does not end in IN = ", in, " (W0 ", shape_str(weight.shape()), ")");
  NEAT_CHECK(!bias.defined() || bias.shape() == Shape({out}), "neat_linear: bias must be [",
             out, "], got ", shape_str(bias.shape()));
  const Tensor x2 = x.data().reshape({-1, in});
  NeatStack stack = neat_m_forward(weight.data(), A_m, layer_data, spec);
  const Tensor M = stack.M().to(x2.dtype()), Bx = B.data().to(x2.dtype());
  Tensor z = matmul(x2, M);
  // y = x W0^T + s z B^T + b, one GEMM (tensor/matmul.h)
  Tensor y = matmul_sum(x2, weight.data(), false, /*trans_b=*/true, z, Bx, false,
                        /*trans_b2=*/true, spec.scale, bias.data_or_undefined());
  Shape out_shape = x.shape();
  out_shape.back() = out;

  std::vector<Variable> inputs{x, weight, bias, A, B};
  inputs.insert(inputs.end(), layers.begin(), layers.end());
  bool need_m = A.requires_grad() || weight.requires_grad();
  for (const Variable& l : layers) need_m = need_m || l.requires_grad();
  auto node = std::make_shared<NeatNode>();
  node->spec = spec;
  node->adapter_dtype = A.dtype();
  node->m_dtype = m_dtype;
  if (need_m || weight.requires_grad()) node->x = x2;
  if (B.requires_grad()) node->z = z;
  if (x.requires_grad() || A.requires_grad()) node->weight = weight.data();
  if (weight.requires_grad()) node->A = A_m;
  if (x.requires_grad() || need_m) node->B = Bx;
  if (x.requires_grad()) node->M = M;
  if (need_m) node->stack = std::move(stack);
  if (need_m) node->layers = std::move(layer_data);
  return record(y.reshape(out_shape), std::move(node), inputs);
}

// Backward through the M network, from dM = dL/dM [IN, R] down to A (and W0, through
// pre_0 = W0^T A^T). Per layer k >= 1 (pre_k = h_{k-1} L_k^T, h_k = act(pre_k) [+ h_skip]):
//   dpre_k = dh_k * act'(pre_k),  dL_k = dpre_k^T h_{k-1},  dh_{k-1} += dpre_k L_k,
//   dh_skip += dh_k.   Layer 0: dpre_0 = dh_0 * act'(pre_0),
//   dA = dpre_0^T W0^T [R, OUT],  dW0 += A^T dpre_0^T [OUT, IN].
// Returns the W0 part (undefined when W0 is frozen) and writes dA, dL_k into grads.
Tensor NeatNode::m_backward(const Tensor& dM, std::vector<Tensor>& grads) const {
  const NeatStack& s = stack;
  const UnaryOp op = neat_activation_op(spec.activation);
  const size_t n = layers.size();
  // below[k]: some input at layer < k (A, W0, or L_1..L_{k-1}) needs a gradient.
  std::vector<bool> below(n + 1);
  below[0] = false;
  bool any = needs_grad(kA) || needs_grad(kWeight);
  for (size_t k = 1; k <= n; ++k) {
    below[k] = any;
    any = any || needs_grad(kFirstLayer + k - 1);
  }
  std::vector<Tensor> dh(n + 1);
  dh[n] = dM;
  for (size_t k = n; k >= 1; --k) {
    const Tensor& g = dh[k];
    if (s.skip[k] >= 0) accumulate_grad(dh[s.skip[k]], g);
    Tensor dpre = unary_backward(op, g, s.pre[k], s.act[k]);
    if (needs_grad(kFirstLayer + k - 1))
      grads[kFirstLayer + k - 1] =
          matmul(dpre, s.h[k - 1], /*trans_a=*/true).to(adapter_dtype);
    if (!below[k]) return Tensor();
    accumulate_grad(dh[k - 1], matmul(dpre, layers[k - 1]));
  }
  Tensor dpre0 = unary_backward(op, dh[0], s.pre[0], s.act[0]);
  if (needs_grad(kA))
    grads[kA] = product_as(dpre0, weight, /*trans_a=*/true, /*trans_b=*/true, m_dtype)
                    .to(adapter_dtype);
  if (!needs_grad(kWeight)) return Tensor();
  return matmul(A, dpre0, /*trans_a=*/true, /*trans_b=*/true);
}

// In the forward pass this was y = x W0^T + b + s z B^T with z = x M, so now we have
//   dB = s dy^T z [OUT, R],  dz = s dy B [ROWS, R],  db = sum_rows dy,
//   dx = dy W0 + dz M^T [ROWS, IN],  dM = x^T dz [IN, R] (then m_backward),
//   dW0 = dy^T x + (the M network's part).
std::vector<Tensor> NeatNode::backward(const Tensor& grad_y) {
  const int64_t out = grad_y.size(-1);
  std::vector<Tensor> grads(num_inputs());
  const Tensor dy = grad_y.reshape({-1, out});

  if (needs_grad(kB)) {
    grads[kB] = product_as(dy, z, /*trans_a=*/true, false, adapter_dtype);
    scale_(grads[kB], spec.scale);
  }
  const bool need_m = needs_m_grad();
  Tensor dz;
  if (needs_grad(kX) || need_m) {
    dz = matmul(dy, B);
    scale_(dz, spec.scale);
  }
  if (needs_grad(kX)) {
    Tensor dx = matmul_sum(dy, weight, false, false, dz, M, false, /*trans_b2=*/true,
                           1.0);   // dy W0 + dz M^T
    grads[kX] = dx.reshape(input_shape(kX));
  }
  if (needs_grad(kBias)) grads[kBias] = sum(dy, {0});
  if (need_m) {
    Tensor dW0_m = m_backward(product_as(x, dz, /*trans_a=*/true, false, m_dtype), grads);
    if (needs_grad(kWeight)) {
      grads[kWeight] = matmul(dy, x, /*trans_a=*/true);
      add_(grads[kWeight], dW0_m.to(grads[kWeight].dtype()));
    }
  }
  return grads;
}

}  // namespace neat
