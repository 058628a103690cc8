#include "nn/peft/peft_format.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace neat {

static const char* kConfigFile = "adapter_config.json";
static const char* kModelFile = "adapter_model.safetensors";
static const char* kPrefix = "base_model.model.";

static std::string path_in(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

bool has_peft_layout(const std::string& method) {
  return method == "lora" || method == "dora" || method == "vera" || method == "fourierft" ||
         method == "neat";
}

// One target -> a regex fragment: dots literal, "*" one dotted part.
static std::string target_fragment(const std::string& target) {
  std::string out;
  for (char ch : target) {
    if (ch == '.') out += "\\.";
    else if (ch == '*') out += "[^.]+";
    else out += ch;
  }
  return out;
}

std::string peft_target_regex(const std::string& targets) {
  std::string alternatives;
  for (const std::string& t : resolve_targets(targets))
    alternatives += (alternatives.empty() ? "" : "|") + target_fragment(t);
  return ".*\\.(" + alternatives + ")$";
}

// peft's target_modules back to our targets: one of our regexes, or a list of names (peft
// matches a list entry as the name itself or a dotted suffix, as resolve_targets' lists do).
static std::string targets_from_peft(const Json& target_modules, const std::string& file) {
  if (target_modules.is_string()) {
    const std::string& regex = target_modules.as_string();
    for (const char* preset : {"qv", "qvmlp"}) {
      // Also the ViT-only form (attention.attention.query) written before qv covered BERT's
      // attention.self.query, which peft's save_pretrained keeps in files made from it.
      const std::string any_attention = "attention\\.[^.]+\\.";
      std::string vit_only = peft_target_regex(preset);
      for (size_t at; (at = vit_only.find(any_attention)) != std::string::npos;)
        vit_only.replace(at, any_attention.size(), "attention\\.attention\\.");
      if (regex == peft_target_regex(preset) || regex == vit_only) return preset;
    }
    // A list this build wrote as a regex (a LLaMA's "q_proj,k_proj,v_proj,up_proj,down_proj").
    const std::string open = ".*\\.(", close = ")$";
    if (regex.size() > open.size() + close.size() && regex.compare(0, open.size(), open) == 0 &&
        regex.compare(regex.size() - close.size(), close.size(), close) == 0) {
      std::string list = regex.substr(open.size(), regex.size() - open.size() - close.size());
      std::replace(list.begin(), list.end(), '|', ',');
      if (list.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_,") == std::string::npos &&
          peft_target_regex(list) == regex)
        return list;
    }
    NEAT_CHECK(false, "peft adapter: ", file, ": target_modules regex '", regex,
               "' is not one this build writes (", peft_target_regex("qv"), " or ",
               peft_target_regex("qvmlp"), "); use a list of module names");
  }
  std::string list;
  for (const Json& t : target_modules.as_array()) list += (list.empty() ? "" : ",") + t.as_string();
  NEAT_CHECK(!list.empty(), "peft adapter: ", file, ": empty target_modules");
  return list;
}

static Json config_to_peft(const PeftConfig& c) {
  NEAT_CHECK(has_peft_layout(c.method), "peft adapter: method '", c.method,
             "' has no peft layout (lora, dora, vera, fourierft and neat have)");
  Json j = Json::object();
  j.set("peft_version", kPeftVersion);
  j.set("base_model_name_or_path", Json());
  j.set("task_type", Json());
  j.set("inference_mode", true);
  j.set("target_modules", peft_target_regex(c.targets));
  Json modules = Json::array();
  if (!c.classifier.empty()) modules.push_back(c.classifier);
  j.set("modules_to_save", modules);
  j.set("fan_in_fan_out", false);
  j.set("bias", "none");
  if (c.method == "lora" || c.method == "dora") {
    j.set("peft_type", "LORA");
    j.set("r", c.lora.rank);
    j.set("lora_alpha", c.lora.alpha);
    j.set("lora_dropout", c.lora.dropout);
    j.set("use_dora", c.method == "dora");
    j.set("init_lora_weights", true);
  } else if (c.method == "vera") {
    j.set("peft_type", "VERA");
    j.set("r", c.vera.rank);
    j.set("d_initial", c.vera.d_initial);
    j.set("projection_prng_key", int64_t(c.vera.projection_seed));
    j.set("save_projection", true);
    j.set("vera_dropout", 0.0);
  } else if (c.method == "fourierft") {
    j.set("peft_type", "FOURIERFT");
    j.set("n_frequency", c.fourier.n_frequency);
    j.set("scaling", c.fourier.scaling);
    j.set("random_loc_seed", int64_t(c.fourier.random_loc_seed));
    j.set("init_weights", c.fourier.zero_init);
  } else {   // neat: not a peft type; our own in the same layout
    j.set("peft_type", "NEAT");
    j.set("r", c.neat.rank);
    j.set("depth", c.neat.depth);
    j.set("activation", neat_activation_name(c.neat.activation));
    j.set("scale", c.neat.scale);
  }
  return j;
}

PeftConfig read_peft_adapter_config(const std::string& dir) {
  const std::string file = path_in(dir, kConfigFile);
  std::ifstream in(file);
  NEAT_CHECK(in.is_open(), "peft adapter: cannot open ", file);
  std::stringstream text;
  text << in.rdbuf();
  Json j;
  try {
    j = Json::parse(text.str());
  } catch (const std::runtime_error& e) {
    NEAT_CHECK(false, "peft adapter: ", file, ": ", e.what());
  }
  auto flag_is = [&](const char* key, const Json& want) {
    return !j.contains(key) || j[key].dump() == want.dump();
  };
  NEAT_CHECK(flag_is("bias", "none"), "peft adapter: ", file, ": bias '", j["bias"].dump(),
             "' is not supported (only \"none\")");
  NEAT_CHECK(flag_is("fan_in_fan_out", false), "peft adapter: ", file,
             ": fan_in_fan_out true is not supported (ViT's Linears are [out, in])");
  PeftConfig c;
  const std::string type = j["peft_type"].as_string();
  c.targets = targets_from_peft(j["target_modules"], file);
  if (j.contains("modules_to_save") && !j["modules_to_save"].is_null()) {
    const auto& m = j["modules_to_save"].as_array();
    NEAT_CHECK(m.size() <= 1, "peft adapter: ", file, ": more than one module to save");
    c.classifier = m.empty() ? "" : m[0].as_string();
  } else {
    c.classifier = "";
  }
  if (type == "LORA") {
    c.method = j.contains("use_dora") && j["use_dora"].as_bool() ? "dora" : "lora";
    c.lora.rank = j["r"].as_int();
    c.lora.alpha = j["lora_alpha"].as_number();
    c.lora.dropout = j.contains("lora_dropout") ? j["lora_dropout"].as_number() : 0.0;
    NEAT_CHECK(!j.contains("rank_pattern") || j["rank_pattern"].size() == 0, "peft adapter: ",
               file, ": rank_pattern is not supported");
    NEAT_CHECK(!j.contains("alpha_pattern") || j["alpha_pattern"].size() == 0, "peft adapter: ",
               file, ": alpha_pattern is not supported");
    NEAT_CHECK(!j.contains("use_rslora") || !j["use_rslora"].as_bool(), "peft adapter: ", file,
               ": use_rslora is not supported");
  } else if (type == "VERA") {
    c.method = "vera";
    c.vera.rank = j["r"].as_int();
    c.vera.d_initial = j.contains("d_initial") ? j["d_initial"].as_number() : 0.1;
    c.vera.projection_seed = uint64_t(j["projection_prng_key"].as_int());
    NEAT_CHECK(!j.contains("save_projection") || j["save_projection"].as_bool(), "peft adapter: ",
               file, ": save_projection false: the shared vera_A / vera_B are not in the file");
  } else if (type == "FOURIERFT") {
    c.method = "fourierft";
    c.fourier.n_frequency = j["n_frequency"].as_int();
    c.fourier.scaling = j["scaling"].as_number();
    c.fourier.random_loc_seed = uint64_t(j["random_loc_seed"].as_int());
    NEAT_CHECK(!j.contains("ifft2_norm") || j["ifft2_norm"].as_string() == "backward",
               "peft adapter: ", file, ": ifft2_norm '", j["ifft2_norm"].as_string(),
               "' is not supported (only \"backward\")");
    NEAT_CHECK(!j.contains("n_frequency_pattern") || j["n_frequency_pattern"].size() == 0,
               "peft adapter: ", file, ": n_frequency_pattern is not supported");
  } else if (type == "NEAT") {
    c.method = "neat";
    c.neat.rank = j["r"].as_int();
    c.neat.depth = j["depth"].as_int();
    c.neat.activation = parse_neat_activation(j["activation"].as_string());
    c.neat.scale = j["scale"].as_number();
  } else {
    NEAT_CHECK(false, "peft adapter: ", file, ": peft_type '", type,
               "' is not supported (LORA, VERA, FOURIERFT or NEAT)");
  }
  return c;
}

// The shared VeRA projections of a model (null when it has no Vera layer).
static std::shared_ptr<VeraProjections> vera_projections_of(const Module& model) {
  for (auto& [name, module] : model.named_modules())
    if (auto vera = std::dynamic_pointer_cast<Vera>(module)) return vera->projections();
  return nullptr;
}

void save_peft_adapter(const std::string& dir, const Module& model, const PeftConfig& config) {
  const Json json = config_to_peft(config);
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, p] : model.named_parameters(/*trainable_only=*/true))
    tensors.emplace_back(kPrefix + name, p.data());
  if (auto shared = vera_projections_of(model)) {
    tensors.emplace_back("base_model.vera_A", shared->vera_A.data());
    tensors.emplace_back("base_model.vera_B", shared->vera_B.data());
  }
  write_safetensors(path_in(dir, kModelFile), tensors, {{"format", "pt"}});
  const std::string file = path_in(dir, kConfigFile);
  const std::string tmp = file + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    NEAT_CHECK(out.is_open(), "peft adapter: cannot create ", tmp);
    out << json.dump(2) << "\n";
    out.close();
    NEAT_CHECK(!out.fail(), "peft adapter: writing ", tmp, " failed (disk full?)");
  }
  std::filesystem::rename(tmp, file);
}

void load_peft_adapter(const std::string& dir, Module& model, const PeftConfig& config) {
  const std::string file = path_in(dir, kModelFile);
  SafetensorsFile st = read_safetensors(file);
  std::set<std::string> used;
  auto take = [&](const std::string& key, const Variable& p, const std::string& ours) {
    NEAT_CHECK(st.contains(key), "peft adapter: ", file, " lacks '", key, "' ",
               shape_str(p.shape()), " (", ours, " of the model)");
    const Tensor& t = st.get(key);
    NEAT_CHECK(t.shape() == p.shape(), "peft adapter: '", key, "' has shape ",
               shape_str(t.shape()), " in ", file, " but ", shape_str(p.shape()), " in the model");
    used.insert(key);
    NoGradGuard no_grad;
    p.data().copy_from(t);
  };
  NEAT_CHECK(has_peft_layout(config.method), "peft adapter: method '", config.method,
             "' has no peft layout");
  for (auto& [name, p] : model.named_parameters(/*trainable_only=*/true))
    take(kPrefix + name, p, name);
  if (auto shared = vera_projections_of(model)) {
    take("base_model.vera_A", shared->vera_A, "the shared vera_A");
    take("base_model.vera_B", shared->vera_B, "the shared vera_B");
  }
  for (auto& [name, t] : st.tensors)
    NEAT_CHECK(used.count(name), "peft adapter: ", file, " has '", name, "' ",
               shape_str(t.shape()), ", which is not a trainable tensor of the model");
}

}  // namespace neat
