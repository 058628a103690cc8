// ModuleList: children named "0", "1", ..., as torch.nn.ModuleList, so a stack of layers gets
// Hugging Face's names ("encoder.layer.3.attention...").
//
//   auto layers = std::make_shared<ModuleList>();
//   layers->append(std::make_shared<Linear>(4, 4));   // parameters "0.weight", "0.bias"
#pragma once
#include <memory>

#include "nn/module.h"

namespace neat {

class ModuleList : public Module {
 public:
  void append(std::shared_ptr<Module> module);
  size_t size() const { return named_children().size(); }
  std::string type_name() const override { return "ModuleList"; }
};

}  // namespace neat
