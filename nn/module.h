// Module: the base of every layer and model, after PyTorch's torch::nn::Module.
// A module owns named parameters, named buffers (state that is not trained, such as Neat's
// merged M) and named child modules; names nest with dots, so a ViT's parameters come out as
// "vit.encoder.layer.0.attention.attention.query.weight", exactly as Hugging Face names them.
//
//   struct TwoLayer : Layer {
//     std::shared_ptr<Linear> fc1, fc2;
//     TwoLayer() {
//       fc1 = register_module("fc1", std::make_shared<Linear>(4, 8));
//       fc2 = register_module("fc2", std::make_shared<Linear>(8, 2));
//     }
//     Variable forward(const Variable& x) override { return fc2->forward(relu(fc1->forward(x))); }
//   };
//   TwoLayer net;  net.named_parameters();   // fc1.weight, fc1.bias, fc2.weight, fc2.bias
//   net.fc1->freeze();  net.num_parameters(/*trainable_only=*/true) == 18;
//   net.to(DType::Float64);              // every parameter, gradient and buffer, in place
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace neat {

class Module {
 public:
  virtual ~Module() = default;

  // Parameters and children, in registration order, with dotted names.
  std::vector<std::pair<std::string, Variable>> named_parameters(bool trainable_only = false) const;
  std::vector<Variable> parameters(bool trainable_only = false) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // Every module below this one (not this one), with dotted names, depth first.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;
  // The parameter / module at a dotted path; error naming the path when absent.
  Variable parameter(const std::string& dotted_name) const;
  std::shared_ptr<Module> module(const std::string& dotted_name) const;
  // Swaps the child at a dotted path for another module (how adapters wrap target layers).
  void replace_module(const std::string& dotted_name, std::shared_ptr<Module> replacement);

  // train(true) / eval(): recursive; affects dropout.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // requires_grad false / true on every parameter below this module.
  void freeze();
  void unfreeze();
  int64_t num_parameters(bool trainable_only = false) const;

  // Buffers below this module with dotted names, in registration order; a buffer whose value
  // is undefined (Neat's M while not merged) is left out, as torch leaves out None buffers.
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // The buffer at a dotted path (undefined while cleared); error naming the path when none is
  // registered there.
  const Tensor& buffer(const std::string& dotted_name) const;

  // Converts every floating parameter, its gradient and every floating buffer (recursively) to
  // dtype, in place: the Variables stay the same objects (typed pointers stay valid), names and
  // requires_grad are kept. Integer buffers keep their dtype, as in torch.
  void to(DType dtype);
  // Moves every parameter, gradient and buffer to device (Tensor::to(Device): an error naming
  // the device when its backend is not built).
  void to(Device device);
  // The device of the first parameter (the CPU when there is none): where inputs must go.
  Device device() const;

  // Name -> tensor for every parameter and persistent buffer (shares storage with them).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in by name (parameters and persistent buffers). strict: every one must be
  // present and no name unknown. Shape mismatches are always errors, naming the tensor and
  // both shapes.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // A short type name for printing ("Linear", "Neat", ...).
  virtual std::string type_name() const { return "Module"; }

 protected:
  Variable register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  // Registers an existing Variable (shared, not copied): how an adapter keeps the wrapped
  // layer's frozen weight under its original name.
  Variable register_parameter(const std::string& name, Variable parameter);
  // A buffer: state that moves and converts with the module but is not a parameter (never
  // trained, no gradient). persistent: part of state_dict(); otherwise a cache that can be
  // recomputed (torch's persistent=False). value may be undefined (set later with set_buffer).
  void register_buffer(const std::string& name, Tensor value, bool persistent = true);
  // Replaces the value of this module's buffer `name` (undefined clears it).
  void set_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Hook for modules that hold typed pointers to their children: called after a child named
  // `name` was replaced, so the typed pointer can be updated.
  virtual void on_child_replaced(const std::string& name, const std::shared_ptr<Module>& child) {}

 private:
  struct Buffer {
    Tensor value;
    bool persistent;
  };
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  size_t buffer_index(const std::string& name) const;   // into buffers_; error when absent
  // Persistent (for the state dict) or every defined buffer, with dotted names.
  std::vector<std::pair<std::string, Tensor>> collect_buffers(bool persistent_only) const;
  // Replaces every parameter's data and gradient and every buffer below this module by
  // convert(tensor) (torch's Module::_apply).
  void apply_to_tensors(const std::function<Tensor(const Tensor&)>& convert);
  std::vector<std::pair<std::string, Variable>> parameters_;
  std::vector<std::pair<std::string, Buffer>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module with one input and one output (Linear, LayerNorm, GELU, Neat, LoRA, ...): what an
// adapter must be to stand in for the Linear it wraps.
class Layer : public Module {
 public:
  virtual Variable forward(const Variable& x) = 0;
};

// Casts a replacement child to Layer, with an error naming the slot when it is not one: what
// on_child_replaced of a module that keeps typed Layer pointers calls.
std::shared_ptr<Layer> as_layer(const std::shared_ptr<Module>& child, const std::string& name);

}  // namespace neat
