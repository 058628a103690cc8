// The backward engine: one reverse topological walk over the recorded Nodes.
//
// 1. Depth-first from the root's grad_fn over each Node's edges, emitting a Node after all of
//    its inputs' Nodes (post-order). Reversed, that order puts every Node after all Nodes that
//    use its output, so a Node runs only once all the gradient flowing into it has been summed.
// 2. Walk that order: pop the Node's summed output gradient, call its backward, and for each
//    edge that needs a gradient either add it to the producer Node's pending sum or, for a
//    leaf, accumulate it into leaf.grad (+=), in place and without copies where no other
//    tensor shares the memory. Then free what the Node saved (unless
//    retain_graph): memory held by the graph shrinks as the walk goes.
#include <unordered_map>
#include <unordered_set>

#include "autograd/variable.h"
#include "tensor/elementwise.h"
#include "tensor/profile.h"

namespace neat {

// Iterative post-order DFS (deep graphs such as 24-layer ViTs would overflow a recursive one).
static thread_local GradReadyHook grad_ready_hook;

GradReadyScope::GradReadyScope(GradReadyHook hook) : previous_(std::move(grad_ready_hook)) {
  grad_ready_hook = std::move(hook);
}
GradReadyScope::~GradReadyScope() { grad_ready_hook = std::move(previous_); }

// For the grad-ready hook: how many edges of the walk lead into each leaf.
static std::unordered_map<VariableImpl*, int64_t> leaf_edge_counts(const std::vector<Node*>& order) {
  std::unordered_map<VariableImpl*, int64_t> counts;
  for (Node* node : order)
    for (const Edge& edge : node->edges)
      if (edge.requires_grad && edge.leaf) ++counts[edge.leaf.get()];
  return counts;
}

static std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->edges.size()) {
      Node* child = node->edges[next_input++].grad_fn.get();
      if (child && visited.insert(child).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};
}

void Variable::backward(bool retain_graph) const {
  NEAT_CHECK(numel() == 1, "backward: called without a gradient on a tensor of shape ",
             shape_str(shape()), "; only a one-element loss gets the implicit gradient 1");
  backward(full(shape(), 1.0, dtype(), device()), retain_graph);
}

void Variable::backward(const Tensor& grad_output, bool retain_graph) const {
  NEAT_CHECK(requires_grad(), "backward: the tensor does not require grad and has no grad_fn");
  NEAT_CHECK(grad_output.shape() == shape(), "backward: gradient of shape ",
             shape_str(grad_output.shape()), " for a tensor of shape ", shape_str(shape()));
  NEAT_CHECK(grad_output.dtype() == dtype(), "backward: gradient of dtype ",
             dtype_name(grad_output.dtype()), " for a tensor of dtype ", dtype_name(dtype()), " ",
             shape_str(shape()));
  NEAT_CHECK(grad_output.device() == device(), "backward: gradient on ",
             device_name(grad_output.device()), " for a tensor on ", device_name(device()));
  if (is_leaf()) {
    accumulate_grad(impl_->grad, grad_output);
    if (grad_ready_hook) grad_ready_hook(impl_);
    return;
  }
  NoGradGuard no_grad;  // backward functions use raw tensor ops; nothing to record
  std::vector<Node*> order = topological_order(grad_fn().get());
  std::unordered_map<Node*, Tensor> pending{{grad_fn().get(), grad_output}};
  // Copied: a hook may not change during the walk.
  const GradReadyHook hook = grad_ready_hook;
  std::unordered_map<VariableImpl*, int64_t> leaf_edges_left;
  if (hook) leaf_edges_left = leaf_edge_counts(order);
  for (Node* node : order) {
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // nothing flowed here (cannot happen for reachable nodes)
    Tensor grad_out = std::move(it->second);
    pending.erase(it);
    NEAT_CHECK(!node->released, "backward: ", node->name(), " belongs to a graph whose "
               "saved tensors an earlier backward already freed; run the forward again, or pass "
               "retain_graph = true to the first backward");
    std::vector<Tensor> grads;
    {
      const ProfileScope profile(ProfilePhase::Backward, node->name());
      grads = node->backward(grad_out);
    }
    const ProfileScope profile(ProfilePhase::Backward, "grad accumulation");
    NEAT_CHECK(grads.size() == node->edges.size(), "backward: ", node->name(), " returned ",
               grads.size(), " gradients for ", node->edges.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& edge = node->edges[i];
      if (!edge.requires_grad) continue;
      NEAT_CHECK(grads[i].defined(), "backward: ", node->name(), " gave no gradient for input ", i);
      NEAT_CHECK(grads[i].shape() == edge.shape, "backward: ", node->name(),
                 " gave a gradient of shape ", shape_str(grads[i].shape()), " for input ", i,
                 " of shape ", shape_str(edge.shape));
      // A gradient whose storage nothing else holds is taken as it is (no copy), and summed
      // into in place; one shared with another tensor (add's backward gives its gradient to
      // both inputs) is copied or summed into a new tensor.
      if (edge.leaf) {
        Tensor& leaf_grad = edge.leaf->grad;
        if (!leaf_grad.defined() && grads[i].storage_use_count() == 1) leaf_grad = std::move(grads[i]);
        else accumulate_grad(leaf_grad, grads[i]);
        if (hook && --leaf_edges_left[edge.leaf.get()] == 0) hook(edge.leaf);
      } else {
        Tensor& slot = pending[edge.grad_fn.get()];
        if (!slot.defined()) slot = grads[i];
        else if (slot.storage_use_count() == 1) add_(slot, grads[i]);
        else slot = add(slot, grads[i]);
      }
    }
    if (!retain_graph) {
      node->release_saved();
      node->released = true;
    }
  }
}

}  // namespace neat
