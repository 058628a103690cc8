#include "train/checkpoint.h"

#include <map>

#include "tensor/safetensors.h"

namespace neat {

namespace {

const char* kFormat = "neat.cpp checkpoint 1";

Json state_json(const TrainState& s) {
  Json j = Json::object();
  j.set("step", s.step);
  j.set("epoch", s.epoch);
  j.set("batch", s.batch);
  j.set("wall_seconds", s.wall_seconds);
  j.set("images_seen", s.images_seen);
  j.set("epoch_loss_sum", s.epoch_loss_sum);
  j.set("epoch_correct", s.epoch_correct);
  j.set("epoch_images", s.epoch_images);
  j.set("history", s.history.to_json());
  j.set("config", s.config);
  if (!s.program.empty()) j.set("program", s.program);
  return j;
}

TrainState state_from(const SafetensorsFile& file) {
  auto format = file.metadata.find("format");
  NEAT_CHECK(format != file.metadata.end() && format->second == kFormat, "checkpoint ", file.path,
             ": not a neat.cpp checkpoint (metadata 'format' is not '", kFormat, "')");
  auto text = file.metadata.find("state");
  NEAT_CHECK(text != file.metadata.end(), "checkpoint ", file.path, ": no 'state' metadata");
  try {
    const Json j = Json::parse(text->second);
    TrainState s;
    s.step = j["step"].as_int();
    s.epoch = j["epoch"].as_int();
    s.batch = j["batch"].as_int();
    s.wall_seconds = j["wall_seconds"].as_number();
    s.images_seen = j["images_seen"].as_int();
    s.epoch_loss_sum = j["epoch_loss_sum"].as_number();
    s.epoch_correct = j["epoch_correct"].as_int();
    s.epoch_images = j["epoch_images"].as_int();
    s.history = History::from_json(j["history"]);
    s.config = j["config"];
    if (j.contains("program")) s.program = j["program"].as_string();
    NEAT_CHECK(s.step >= 0 && s.epoch >= 0 && s.batch >= 0 && s.config.is_object(),
               "negative counters or no config object");
    return s;
  } catch (const std::runtime_error& e) {
    NEAT_CHECK(false, "checkpoint ", file.path, ": bad 'state' metadata: ", e.what());
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const Module& model, const AdamW& optimizer,
                     const TrainState& state) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, p] : model.named_parameters(/*trainable_only=*/true))
    tensors.emplace_back("param." + name, p.data());
  for (const auto& [name, t] : optimizer.state_dict()) tensors.emplace_back("optim." + name, t);
  write_safetensors(path, tensors, {{"format", kFormat}, {"state", state_json(state).dump()}});
}

TrainState read_checkpoint_state(const std::string& path) {
  return state_from(read_safetensors(path));
}

TrainState load_checkpoint(const std::string& path, Module& model, AdamW& optimizer) {
  const SafetensorsFile file = read_safetensors(path);
  TrainState state = state_from(file);
  std::map<std::string, Tensor> params, optim;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("param.", 0) == 0) params[name.substr(6)] = t;
    else if (name.rfind("optim.", 0) == 0) optim[name.substr(6)] = t;
    else NEAT_CHECK(false, "checkpoint ", path, ": unexpected tensor '", name, "'");
  }
  for (const auto& [name, p] : model.named_parameters(/*trainable_only=*/true)) {
    auto it = params.find(name);
    NEAT_CHECK(it != params.end(), "checkpoint ", path, ": no tensor for trainable parameter '",
               name, "' (was it written by another --method or model?)");
    NEAT_CHECK(it->second.shape() == p.shape(), "checkpoint ", path, ": '", name, "' has shape ",
               shape_str(it->second.shape()), ", the model's is ", shape_str(p.shape()));
    p.data().copy_from(it->second);
    params.erase(it);
  }
  NEAT_CHECK(params.empty(), "checkpoint ", path, ": '", params.empty() ? "" : params.begin()->first,
             "' is not a trainable parameter of this model");
  optimizer.load_state_dict(optim);
  return state;
}

}  // namespace neat
