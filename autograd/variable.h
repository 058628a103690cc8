// Variable: a Tensor that can take part in reverse-mode automatic differentiation.
//
//   Variable w(randn({3, 2}, gen), /*requires_grad=*/true);   // a leaf we want dL/dw for
//   Variable x(randn({4, 3}, gen));                             // an input: no gradient
//   Variable loss = sum(relu(matmul(x, w)));                    // each op records a Node
//   loss.backward();                                            // walks the Nodes in reverse
//   w.grad();                                                   // dL/dw, shape [3, 2]
//   sum(relu(matmul(x, w))).backward();                         // leaf grads accumulate (+=)
//   w.zero_grad();                                              // zeroing is explicit
//   { NoGradGuard no_grad; Variable y = matmul(x, w); }         // records nothing
//
// A Variable is a handle: copies share the same data, grad and graph position (like a
// torch.Tensor). Only leaves keep .grad; intermediate gradients live only during backward.
//
// What the graph keeps alive: a Node holds one Edge per input (the producer's Node, the leaf
// that receives the gradient, requires_grad, shape, dtype, device), never the input's data, plus
// the tensors its backward saved (PyTorch's save_for_backward). In loss = sum(relu(matmul(x, w)))
// with w frozen, matmul's node saves w (dx reads it) and nothing of x; with x an input that needs
// no gradient, x's storage is freed as soon as the caller drops x. Backward frees every saved
// tensor as it goes unless retain_graph is set.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace neat {

class Node;

struct VariableImpl {
  Tensor data;
  Tensor grad;                    // leaves only; undefined until the first backward
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // the op that produced this value (null for leaves)
};

class Variable {
 public:
  Variable() = default;  // undefined
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const;
  // data(), or an undefined Tensor for an undefined Variable (an optional bias or weight).
  Tensor data_or_undefined() const { return defined() ? data() : Tensor(); }
  // Replaces the value in place (optimizer steps, loading weights); keeps grad and flags.
  void set_data(const Tensor& data);
  const Tensor& grad() const;
  Tensor& mutable_grad();
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  void set_requires_grad(bool requires_grad);  // leaves only
  bool is_leaf() const { return !impl_ || impl_->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const;
  void zero_grad();  // drops the gradient (the next backward writes a fresh one)
  // Same data, cut from the graph, requires_grad false.
  Variable detach() const;

  // Backpropagate from this variable. With no gradient it must hold one element (a loss) and
  // the seed gradient is 1. Each node's saved tensors are freed once its backward has run,
  // unless retain_graph (then the same graph can be walked again).
  void backward(bool retain_graph = false) const;
  void backward(const Tensor& grad_output, bool retain_graph = false) const;

  const Shape& shape() const { return data().shape(); }
  int64_t dim() const { return data().dim(); }
  int64_t size(int64_t d) const { return data().size(d); }
  int64_t numel() const { return data().numel(); }
  DType dtype() const { return data().dtype(); }
  Device device() const { return data().device(); }
  double item() const { return data().item(); }

  bool is_same(const Variable& other) const { return impl_ == other.impl_; }
  VariableImpl* impl() const { return impl_.get(); }

 private:
  friend Variable record(Tensor, std::shared_ptr<Node>, const std::vector<Variable>&);
  std::shared_ptr<VariableImpl> impl_;
};

// What a Node knows of one input: where its gradient goes, and its metadata. Never its data.
struct Edge {
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;       // the producer, when the input is not a leaf
  std::shared_ptr<VariableImpl> leaf;  // a leaf that requires grad: its .grad accumulates here
  Shape shape;
  DType dtype = DType::Float32;
  Device device = Device::CPU;
};

// A recorded op in the graph: it turns dL/d(output) into dL/d(input_i). Each differentiable
// function declares its Node (the tensors its backward reads), then its forward, then the
// Node's backward under the math. The forward saves a tensor only when a gradient that reads
// it is needed: linear saves x only when the weight requires grad.
class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Returns one Tensor per input; an undefined Tensor for inputs with !needs_grad(i).
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  // Frees every saved tensor (the engine calls it once backward has run).
  virtual void release_saved() {}

  bool needs_grad(size_t i) const { return edges[i].requires_grad; }
  const Shape& input_shape(size_t i) const { return edges[i].shape; }
  size_t num_inputs() const { return edges.size(); }

  std::vector<Edge> edges;  // one per input, in the op's argument order
  bool released = false;    // saved tensors freed by a backward without retain_graph
};

// Grad mode: when off, ops record nothing (evaluation, weight init, optimizer updates).
bool grad_mode_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Grad mode on within a scope even under a NoGradGuard (autograd/checkpoint.h's recomputation
// runs inside a backward, which records nothing otherwise).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires grad: only then is a Node worth recording.
bool any_requires_grad(const std::vector<Variable>& inputs);
// Wraps an op's output: when any_requires_grad(inputs) the result requires grad and has
// grad_fn = node, with one Edge per input; otherwise node (and what it saved) is dropped.
Variable record(Tensor output, std::shared_ptr<Node> node, const std::vector<Variable>& inputs);

// slot += grad, or slot = a copy of grad when slot is still undefined (gradient accumulation).
void accumulate_grad(Tensor& slot, const Tensor& grad);

// A hook told, during each backward in its scope (on this thread), when a leaf's gradient is
// final for that backward: every edge into the leaf has been summed into its .grad. Data-parallel
// training starts reducing a bucket of gradients as soon as its leaves are final, while the rest
// of the backward still runs (train/gradient_reducer.h). Leaves no gradient reached are not told.
//
//   GradReadyScope scope([&](const std::shared_ptr<VariableImpl>& leaf) { ready(leaf.get()); });
//   loss.backward();                              // ready() once per leaf, in the order they finish
using GradReadyHook = std::function<void(const std::shared_ptr<VariableImpl>&)>;
class GradReadyScope {
 public:
  explicit GradReadyScope(GradReadyHook hook);
  ~GradReadyScope();
  GradReadyScope(const GradReadyScope&) = delete;
  GradReadyScope& operator=(const GradReadyScope&) = delete;

 private:
  GradReadyHook previous_;
};

}  // namespace neat
