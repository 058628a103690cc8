// The fused Neat op, with a hand-written backward (derivation in docs/neat.md).
//
//   y = x W0^T + b + s (x M) B^T,   M = h_last,   h_0 = act(W0^T A^T)
//
// M (IN x R) comes from a small network of the frozen weight W0 itself: the first layer is A,
// then (depth-2)/2 "encoder" layers h = act(h E^T) and as many "decoder" layers
// h = act(h D^T) + skip, where skip is the value saved before the matching encoder (U-Net
// style, in reverse order). M is computed once per forward, independent of the batch; the full
// OUT x IN update s B M^T is never formed (only neat_delta_weight, for delta_weight(), forms it).
//
//   NeatSpec spec;  spec.depth = 4;  spec.activation = NeatActivation::Sin2Pi;
//   Variable y = neat_linear(x, W0, b, A, B, {E1, D1}, spec);   // layers: encoders, decoders
//
// Shapes: x [.., IN] (ROWS = product of the leading dims), W0 [OUT, IN], b [OUT] or undefined,
// A [R, OUT], B [OUT, R], layers [R, R] each, y [.., OUT].
//
// The op is defined like every op in autograd/: its node saves only what the needed gradients
// read (x only when A, B's network or W0 trains; z = x M only when B trains), and its backward
// computes only the gradients that are needed (a frozen W0 costs no GEMM).
#pragma once
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "tensor/elementwise.h"

namespace neat {

// The nonlinearity used after every layer of the M network.
enum class NeatActivation { Relu, Sin2Pi, Gelu, Tanh, Identity };
const char* neat_activation_name(NeatActivation activation);   // "relu", "sin2pi", ...
// Parses "relu" | "sin2pi" | "gelu" | "tanh" | "identity"; the error lists the choices. "sin",
// the name adapter files written before the rename use for the same sin(2 pi x), reads as sin2pi.
NeatActivation parse_neat_activation(const std::string& name);
// The elementwise op behind it (sin2pi is sin(2 pi x)); its math lives in tensor/scalar_math.h.
UnaryOp neat_activation_op(NeatActivation activation);

struct NeatSpec {
  NeatActivation activation = NeatActivation::Relu;
  int64_t depth = 2;    // even, >= 2: A, depth-2 intermediate R x R layers, and B
  double scale = 1.0;   // s: the adapter's output is multiplied by it
};
// Checks depth (even, >= 2) and the shapes of W0, A, B and the layers; errors name them.
void check_neat_shapes(const Tensor& weight, const Tensor& A, const Tensor& B,
                       const std::vector<Tensor>& layers, const NeatSpec& spec);

// The M network's values, kept for its backward. Layer 0 is A, layer k >= 1 is layers[k-1].
//   pre[k] = h_{k-1} L_k^T (pre[0] = W0^T A^T),   act[k] = act(pre[k]),
//   h[k] = act[k] + h[skip[k]] for decoders (skip[k] >= 0), else act[k].   M = h.back().
struct NeatStack {
  std::vector<Tensor> pre, act, h;   // [IN, R] each
  std::vector<int64_t> skip;         // -1 for layer 0 and encoders
  const Tensor& M() const { return h.back(); }
};
NeatStack neat_m_forward(const Tensor& weight, const Tensor& A, const std::vector<Tensor>& layers,
                         const NeatSpec& spec);

// Delta W = s B M^T, [OUT, IN]: what merge() adds to W0 (M must be the one from W0).
Tensor neat_delta_weight(const Tensor& M, const Tensor& B, double scale);

// y = x W0^T + b + s (x M) B^T with M = neat_m_forward(W0, A, layers, spec).M(): the fused op
// the Neat layer calls. Inputs in the recorded node's order: x, W0, b, A, B, layers...
Variable neat_linear(const Variable& x, const Variable& weight, const Variable& bias,
                     const Variable& A, const Variable& B, const std::vector<Variable>& layers,
                     const NeatSpec& spec);

}  // namespace neat
