#include "nn/module.h"

namespace neat {

Variable Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  return register_parameter(name, Variable(std::move(value), requires_grad));
}

Variable Module::register_parameter(const std::string& name, Variable parameter) {
  NEAT_CHECK(parameter.defined(), "register_parameter: '", name, "' is undefined");
  for (auto& [existing, _] : parameters_)
    NEAT_CHECK(existing != name, "register_parameter: '", name, "' registered twice");
  parameters_.emplace_back(name, parameter);
  return parameter;
}

void Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  for (auto& [existing, _] : buffers_)
    NEAT_CHECK(existing != name, "register_buffer: '", name, "' registered twice");
  buffers_.emplace_back(name, Buffer{std::move(value), persistent});
}

size_t Module::buffer_index(const std::string& name) const {
  for (size_t i = 0; i < buffers_.size(); ++i)
    if (buffers_[i].first == name) return i;
  NEAT_CHECK(false, "buffer: no buffer named '", name, "' in ", type_name());
}

void Module::set_buffer(const std::string& name, Tensor value) {
  buffers_[buffer_index(name)].second.value = std::move(value);
}

const Tensor& Module::buffer(const std::string& dotted_name) const {
  const size_t dot = dotted_name.rfind('.');
  if (dot != std::string::npos)
    return module(dotted_name.substr(0, dot))->buffer(dotted_name.substr(dot + 1));
  return buffers_[buffer_index(dotted_name)].second.value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  NEAT_CHECK(module != nullptr, "register_module: '", name, "' is null");
  for (auto& [existing, _] : children_)
    NEAT_CHECK(existing != name, "register_module: '", name, "' registered twice");
  children_.emplace_back(name, std::move(module));
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters(bool trainable_only) const {
  std::vector<std::pair<std::string, Variable>> out;
  for (auto& [name, p] : parameters_)
    if (!trainable_only || p.requires_grad()) out.emplace_back(name, p);
  for (auto& [child_name, child] : children_)
    for (auto& [name, p] : child->named_parameters(trainable_only))
      out.emplace_back(child_name + "." + name, p);
  return out;
}

std::vector<Variable> Module::parameters(bool trainable_only) const {
  std::vector<Variable> out;
  for (auto& [_, p] : named_parameters(trainable_only)) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(name + "." + sub, m);
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::collect_buffers(bool persistent_only) const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [name, b] : buffers_)
    if (b.value.defined() && (b.persistent || !persistent_only)) out.emplace_back(name, b.value);
  for (auto& [child_name, child] : children_)
    for (auto& [name, t] : child->collect_buffers(persistent_only))
      out.emplace_back(child_name + "." + name, t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  return collect_buffers(/*persistent_only=*/false);
}

Variable Module::parameter(const std::string& dotted_name) const {
  for (auto& [name, p] : named_parameters())
    if (name == dotted_name) return p;
  NEAT_CHECK(false, "parameter: no parameter named '", dotted_name, "' in ", type_name());
}

std::shared_ptr<Module> Module::module(const std::string& dotted_name) const {
  for (auto& [name, m] : named_modules())
    if (name == dotted_name) return m;
  NEAT_CHECK(false, "module: no module named '", dotted_name, "' in ", type_name());
}

void Module::replace_module(const std::string& dotted_name, std::shared_ptr<Module> replacement) {
  size_t dot = dotted_name.rfind('.');
  if (dot != std::string::npos) {
    module(dotted_name.substr(0, dot))->replace_module(dotted_name.substr(dot + 1), replacement);
    return;
  }
  for (auto& [name, child] : children_) {
    if (name != dotted_name) continue;
    child = replacement;
    on_child_replaced(name, replacement);
    return;
  }
  NEAT_CHECK(false, "replace_module: no child named '", dotted_name, "' in ", type_name());
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::freeze() {
  for (Variable& p : parameters()) p.set_requires_grad(false);
}

void Module::unfreeze() {
  for (Variable& p : parameters()) p.set_requires_grad(true);
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& [_, p] : named_parameters(trainable_only)) n += p.numel();
  return n;
}

void Module::apply_to_tensors(const std::function<Tensor(const Tensor&)>& convert) {
  for (auto& [name, p] : parameters_) {
    NEAT_CHECK(p.is_leaf(), "to: parameter '", name, "' is not a leaf");
    p.set_data(convert(p.data()));
    if (p.grad().defined()) p.mutable_grad() = convert(p.grad());
  }
  for (auto& [_, b] : buffers_)
    if (b.value.defined()) b.value = convert(b.value);
  for (auto& [_, child] : children_) child->apply_to_tensors(convert);
}

void Module::to(DType dtype) {
  NEAT_CHECK(is_floating(dtype), "Module::to: parameters must stay floating, got ",
             dtype_name(dtype));
  apply_to_tensors([dtype](const Tensor& t) { return is_floating(t.dtype()) ? t.to(dtype) : t; });
}

void Module::to(Device device) {
  apply_to_tensors([device](const Tensor& t) { return t.to(device); });
}

Device Module::device() const {
  const auto params = named_parameters();
  return params.empty() ? Device::CPU : params.front().second.data().device();
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, p] : named_parameters()) out[name] = p.data();
  for (auto& [name, b] : collect_buffers(/*persistent_only=*/true)) out[name] = b;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  const std::map<std::string, Tensor> own = state_dict();   // shares storage with the model
  for (auto& [name, target] : own) {
    auto it = state.find(name);
    if (it == state.end()) {
      NEAT_CHECK(!strict, "load_state_dict: missing tensor '", name, "' (shape ",
                 shape_str(target.shape()), ")");
      continue;
    }
    NEAT_CHECK(it->second.shape() == target.shape(), "load_state_dict: '", name, "' has shape ",
               shape_str(it->second.shape()), " in the file but ", shape_str(target.shape()),
               " in the model");
    target.copy_from(it->second);
  }
  if (!strict) return;
  for (auto& [name, t] : state)
    NEAT_CHECK(own.count(name), "load_state_dict: unexpected tensor '", name, "' (shape ",
               shape_str(t.shape()), ") not in the model");
}

std::shared_ptr<Layer> as_layer(const std::shared_ptr<Module>& child, const std::string& name) {
  auto layer = std::dynamic_pointer_cast<Layer>(child);
  NEAT_CHECK(layer != nullptr, "replace_module: '", name, "' must be a Layer (one input, one ",
             "output), got a ", child->type_name());
  return layer;
}

}  // namespace neat
