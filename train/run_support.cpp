#include "train/run_support.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "nn/peft/lora.h"
#include "nn/peft/neat.h"
#include "tensor/safetensors.h"
#include "train/system.h"

namespace neat {

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

std::string join_path(const std::string& dir, const std::string& file) { return dir + "/" + file; }

void write_log_files(const std::string& dir, const std::string& title, const History& history) {
  write_file_atomic(join_path(dir, "log.csv"), history.log_csv());
  write_file_atomic(join_path(dir, "curves.svg"), history.curves_svg(title));
}

std::vector<ParamGroup> parameter_groups(const Module& model, const TrainOptions& t) {
  ParamGroup head{"head", {}, t.head_lr, t.weight_decay};
  ParamGroup backbone{"backbone", {}, t.backbone_lr, t.weight_decay};
  for (const auto& named : model.named_parameters(/*trainable_only=*/true))
    (named.first.rfind("classifier.", 0) == 0 ? head : backbone).params.push_back(named);
  return {head, backbone};
}

void merge_adapters(Module& model) {
  for (const auto& [name, module] : model.named_modules()) {
    if (auto neat = std::dynamic_pointer_cast<Neat>(module)) neat->merge();
    if (auto lora = std::dynamic_pointer_cast<Lora>(module)) lora->merge();
  }
}

std::string percent(double fraction) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f%%", 100.0 * fraction);
  return buffer;
}

std::string fixed(double x, int digits) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, x);
  return buffer;
}

int64_t load_trainable(Module& model, const SafetensorsFile& file) {
  std::map<std::string, Variable> trainable;
  for (const auto& named : model.named_parameters(/*trainable_only=*/true)) trainable.insert(named);
  int64_t loaded = 0;
  for (const auto& [name, tensor] : file.tensors) {
    auto it = trainable.find(name);
    NEAT_CHECK(it != trainable.end(), "--adapter ", file.path, ": '", name,
               "' is not a trainable parameter of this model and method");
    NEAT_CHECK(it->second.shape() == tensor.shape(), "--adapter ", file.path, ": '", name,
               "' has shape ", shape_str(tensor.shape()), ", the model's is ",
               shape_str(it->second.shape()));
    it->second.data().copy_from(tensor);
    ++loaded;
  }
  return loaded;
}

}  // namespace neat
