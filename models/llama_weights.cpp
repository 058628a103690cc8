// Loading Hugging Face LLaMA-family weights (models/llama.h): config.json, and model.safetensors
// or the shards listed by model.safetensors.index.json, copied in by parameter name.
#include <set>

#include "models/llama.h"
#include "tensor/files.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace neat {

namespace {

// Tensors a checkpoint may hold that are not parameters: old LLaMA checkpoints saved RoPE's
// inverse frequencies as a buffer in every layer.
bool is_known_buffer(const std::string& name) {
  const std::string suffix = "rotary_emb.inv_freq";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int64_t load_llama_weights(LlamaForCausalLM& model, const std::map<std::string, Tensor>& tensors) {
  const LlamaConfig& config = model.config();
  const std::vector<std::string> names = llama_parameter_names(config);
  const std::set<std::string> wanted(names.begin(), names.end());
  for (const auto& [name, tensor] : tensors) {
    const bool tied_head = config.tie_word_embeddings && name == "lm_head.weight";
    NEAT_CHECK(wanted.count(name) || tied_head || is_known_buffer(name),
               "load_llama_weights: unexpected tensor '", name, "' ", shape_str(tensor.shape()),
               " (not a parameter of ", config.str(), ")");
  }
  int64_t loaded = 0;
  NoGradGuard no_grad;
  for (const std::string& name : names) {
    auto it = tensors.find(name);
    NEAT_CHECK(it != tensors.end(), "load_llama_weights: missing tensor '", name, "'");
    Variable p = model.parameter(name);
    NEAT_CHECK(it->second.shape() == p.shape(), "load_llama_weights: '", name, "' has shape ",
               shape_str(it->second.shape()), " but the model's is ", shape_str(p.shape()));
    p.data().copy_from(it->second.to(p.dtype()).to(p.device()));
    ++loaded;
  }
  return loaded;
}

std::shared_ptr<LlamaForCausalLM> load_llama(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  LlamaConfig config;
  try {
    config = llama_config_from_json(Json::parse(read_file(config_path, "config")));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, config_path, ": ", e.what());
  }
  config.random_init = false;   // every parameter is loaded below
  auto model = std::make_shared<LlamaForCausalLM>(config);
  std::map<std::string, Tensor> tensors;
  std::vector<std::string> files;
  const std::string single = dir + "/model.safetensors", index = dir + "/model.safetensors.index.json";
  if (file_exists(single)) {
    files.push_back(single);
  } else {
    NEAT_CHECK(file_exists(index), dir, ": neither model.safetensors nor model.safetensors.index.json");
    try {
      std::set<std::string> shards;
      const Json parsed = Json::parse(read_file(index, "shard index"));
      for (const auto& [name, shard] : parsed["weight_map"].as_object())
        shards.insert(shard.as_string());
      for (const std::string& shard : shards) {
        NEAT_CHECK(shard.find('/') == std::string::npos, "shard name '", shard, "' is not a file name");
        files.push_back(dir + "/" + shard);
      }
    } catch (const std::exception& e) {
      NEAT_CHECK(false, index, ": ", e.what());
    }
  }
  for (const std::string& path : files)
    for (auto& [name, tensor] : read_safetensors(path).tensors) {
      NEAT_CHECK(!tensors.count(name), path, ": tensor '", name, "' is also in another shard");
      tensors[name] = tensor;
    }
  try {
    load_llama_weights(*model, tensors);
  } catch (const std::exception& e) {
    NEAT_CHECK(false, dir, ": ", e.what());
  }
  return model;
}

}  // namespace neat
