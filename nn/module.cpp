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

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, p] : named_parameters()) out[name] = p.data();
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  auto params = named_parameters();
  for (auto& [name, p] : params) {
    auto it = state.find(name);
    if (it == state.end()) {
      NEAT_CHECK(!strict, "load_state_dict: missing parameter '", name, "' (shape ",
                 shape_str(p.shape()), ")");
      continue;
    }
    NEAT_CHECK(it->second.shape() == p.shape(), "load_state_dict: '", name, "' has shape ",
               shape_str(it->second.shape()), " in the file but ", shape_str(p.shape()),
               " in the model");
    p.data().copy_from(it->second);
  }
  if (!strict) return;
  for (auto& [name, t] : state) {
    bool known = false;
    for (auto& [pname, _] : params) known = known || pname == name;
    NEAT_CHECK(known, "load_state_dict: unexpected parameter '", name, "' (shape ",
               shape_str(t.shape()), ") not in the model");
  }
}

}  // namespace neat
