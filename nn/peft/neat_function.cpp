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

// pre_0 = W0^T A^T [IN, R]; then per layer k >= 1: pre_k = h_{k-1} L_k^T, and for the
// (depth-2)/2 encoders h_{k-1} is pushed before the layer, for the decoders the most recent
// push is popped and added after the activation.
NeatStack neat_m_forward(const Tensor& weight, const Tensor& A, const std::vector<Tensor>& layers,
                         const NeatSpec& spec) {
  const UnaryOp op = neat_activation_op(spec.activation);
  const size_t encoders = layers.size() / 2;
  NeatStack s;
  s.pre.push_back(matmul(weight, A, /*trans_a=*/true, /*trans_b=*/true));
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

// The recorded graph node: holds the context and hands the backward to NeatFunction.
class NeatNode : public Node {
 public:
  NeatContext ctx;
  const char* name() const override { return "neat_linear"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override {
    return NeatFunction::backward(ctx, grad_y);
  }
  void release_saved() override { ctx.saved = {}; }
};

Variable NeatFunction::apply(const Variable& x, const Variable& weight, const Variable& bias,
                             const Variable& A, const Variable& B,
                             const std::vector<Variable>& layers, const NeatSpec& spec) {
  std::vector<Variable> inputs{x, weight, bias, A, B};
  inputs.insert(inputs.end(), layers.begin(), layers.end());
  auto node = std::make_shared<NeatNode>();
  node->ctx.spec = spec;
  for (const Variable& v : inputs)
    node->ctx.needs_input_grad.push_back(grad_mode_enabled() && v.requires_grad());
  std::vector<Tensor> layer_data;
  for (const Variable& l : layers) layer_data.push_back(l.data());
  Tensor y = forward(node->ctx, x.data(), weight.data(), bias.defined() ? bias.data() : Tensor(),
                     A.data(), B.data(), layer_data);
  return record(std::move(y), node, std::move(inputs));
}

// x [ROWS, IN] (leading dims folded), M [IN, R], z = x M [ROWS, R]:
//   y = x W0^T + s z B^T + b
Tensor NeatFunction::forward(NeatContext& ctx, const Tensor& x, const Tensor& weight,
                             const Tensor& bias, const Tensor& A, const Tensor& B,
                             const std::vector<Tensor>& layers) {
  check_neat_shapes(weight, A, B, layers, ctx.spec);
  const int64_t out = weight.size(0), in = weight.size(1);
  NEAT_CHECK(x.dim() >= 1 && x.size(-1) == in, "neat_linear: input ", shape_str(x.shape()),
             " does not end in IN = ", in, " (W0 ", shape_str(weight.shape()), ")");
  NEAT_CHECK(!bias.defined() || bias.shape() == Shape({out}), "neat_linear: bias must be [",
             out, "], got ", shape_str(bias.shape()));
  const Tensor x2 = x.reshape({-1, in});
  NeatStack stack = neat_m_forward(weight, A, layers, ctx.spec);
  Tensor z = matmul(x2, stack.M());
  Tensor y = matmul(x2, weight, false, /*trans_b=*/true);
  axpy_(y, ctx.spec.scale, matmul(z, B, false, /*trans_b=*/true));
  if (bias.defined()) y = add(y, bias);

  bool any = false;
  for (bool n : ctx.needs_input_grad) any = any || n;
  if (any) ctx.save_for_backward({x.shape(), x2, weight, A, B, layers, std::move(stack), z});
  Shape out_shape = x.shape();
  out_shape.back() = out;
  return y.reshape(out_shape);
}

static void accumulate(Tensor& slot, const Tensor& grad) {
  if (!slot.defined()) slot = grad.clone();
  else add_(slot, grad);
}

// Backward through the M network, from dM = dL/dM [IN, R] down to A (and W0, through
// pre_0 = W0^T A^T). Per layer k >= 1 (pre_k = h_{k-1} L_k^T, h_k = act(pre_k) [+ h_skip]):
//   dpre_k = dh_k * act'(pre_k),  dL_k = dpre_k^T h_{k-1},  dh_{k-1} += dpre_k L_k,
//   dh_skip += dh_k.   Layer 0: dpre_0 = dh_0 * act'(pre_0),
//   dA = dpre_0^T W0^T [R, OUT],  dW0 += A^T dpre_0^T [OUT, IN].
// Returns the W0 part (undefined when W0 is frozen) and writes dA, dL_k into grads.
static Tensor m_backward(const NeatContext& ctx, const Tensor& dM, std::vector<Tensor>& grads) {
  using F = NeatFunction;
  const NeatContext::Saved& saved = ctx.saved;
  const NeatStack& s = saved.stack;
  const UnaryOp op = neat_activation_op(ctx.spec.activation);
  const auto& need = ctx.needs_input_grad;
  const size_t n = saved.layers.size();
  // below[k]: some input at layer < k (A, W0, or L_1..L_{k-1}) needs a gradient.
  std::vector<bool> below(n + 1);
  below[0] = false;
  bool any = need[F::kA] || need[F::kWeight];
  for (size_t k = 1; k <= n; ++k) {
    below[k] = any;
    any = any || need[F::kFirstLayer + k - 1];
  }
  std::vector<Tensor> dh(n + 1);
  dh[n] = dM;
  for (size_t k = n; k >= 1; --k) {
    const Tensor& g = dh[k];
    if (s.skip[k] >= 0) accumulate(dh[s.skip[k]], g);
    Tensor dpre = unary_backward(op, g, s.pre[k], s.act[k]);
    if (need[F::kFirstLayer + k - 1])
      grads[F::kFirstLayer + k - 1] = matmul(dpre, s.h[k - 1], /*trans_a=*/true);
    if (!below[k]) return Tensor();
    Tensor dprev = matmul(dpre, saved.layers[k - 1]);
    if (dh[k - 1].defined()) add_(dh[k - 1], dprev);
    else dh[k - 1] = dprev;
  }
  Tensor dpre0 = unary_backward(op, dh[0], s.pre[0], s.act[0]);
  if (need[F::kA]) grads[F::kA] = matmul(dpre0, saved.weight, /*trans_a=*/true, /*trans_b=*/true);
  if (!need[F::kWeight]) return Tensor();
  return matmul(saved.A, dpre0, /*trans_a=*/true, /*trans_b=*/true);
}

// In the forward pass this was y = x W0^T + b + s z B^T with z = x M, so now we have
//   dB = s dy^T z [OUT, R],  dz = s dy B [ROWS, R],  db = sum_rows dy,
//   dx = dy W0 + dz M^T [ROWS, IN],  dM = x^T dz [IN, R] (then m_backward),
//   dW0 = dy^T x + (the M network's part).
std::vector<Tensor> NeatFunction::backward(NeatContext& ctx, const Tensor& grad_y) {
  const NeatContext::Saved& s = ctx.saved;
  const auto& need = ctx.needs_input_grad;
  NEAT_CHECK(s.x.defined(), "neat_linear: backward called twice or without a saved forward");
  const int64_t out = s.weight.size(0);
  const double scale = ctx.spec.scale;
  std::vector<Tensor> grads(need.size());
  const Tensor dy = grad_y.reshape({-1, out});

  if (need[kB]) {
    grads[kB] = matmul(dy, s.z, /*trans_a=*/true);
    scale_(grads[kB], scale);
  }
  bool need_m = need[kA] || need[kWeight];
  for (size_t i = kFirstLayer; i < need.size(); ++i) need_m = need_m || need[i];
  Tensor dz;
  if (need[kX] || need_m) {
    dz = matmul(dy, s.B);
    scale_(dz, scale);
  }
  if (need[kX]) {
    Tensor dx = matmul(dy, s.weight);
    add_(dx, matmul(dz, s.stack.M(), false, /*trans_b=*/true));
    grads[kX] = dx.reshape(s.x_shape);
  }
  if (need[kBias]) grads[kBias] = sum(dy, {0});
  if (need_m) {
    Tensor dW0_m = m_backward(ctx, matmul(s.x, dz, /*trans_a=*/true), grads);
    if (need[kWeight]) {
      grads[kWeight] = matmul(dy, s.x, /*trans_a=*/true);
      add_(grads[kWeight], dW0_m);
    }
  }
  return grads;
}

}  // namespace neat
