#include "nn/module_list.h"

namespace neat {

void ModuleList::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

}  // namespace neat
