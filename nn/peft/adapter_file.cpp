#include "nn/peft/adapter_file.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "nn/peft/peft_format.h"

#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace neat {

static const char* kFormat = "neat-adapter";
static const char* kVersion = "1";
// VeRA's shared projections: drawn from projection_seed as peft's _kaiming_init draws them
// (nn/peft/vera.h). Files without this mark were drawn otherwise and are refused.
static const char* kVeraProjections = "peft-kaiming-uniform";

// The method and its settings. Without with_dropout: what must agree between file and model
// (LoRA's dropout only acts in training, so an adapter may be loaded under another).
static Json config_json(const PeftConfig& c, bool with_dropout = true) {
  Json j = Json::object();
  j.set("method", c.method);
  if (c.method == "neat") {
    j.set("targets", c.targets);
    j.set("rank", c.neat.rank);
    j.set("depth", c.neat.depth);
    j.set("activation", neat_activation_name(c.neat.activation));
    j.set("scale", c.neat.scale);
  } else if (c.method == "lora" || c.method == "dora" || c.method == "pissa" ||
             c.method == "milora") {
    j.set("targets", c.targets);
    j.set("rank", c.lora.rank);
    j.set("alpha", c.lora.alpha);
    if (with_dropout) j.set("dropout", c.lora.dropout);
    // PiSSA's randomized start: the residual W0 - s B A depends on the test matrix, so the
    // seed it was drawn with is part of the adapter (a decimal string: JSON numbers are
    // doubles, which do not hold every 64-bit seed).
    if (c.method == "pissa" && c.pissa_niter >= 0) {
      j.set("pissa_niter", c.pissa_niter);
      j.set("svd_seed", std::to_string(c.lora.seed));
    }
  } else if (c.method == "vera") {
    j.set("targets", c.targets);
    j.set("rank", c.vera.rank);
    j.set("d_initial", c.vera.d_initial);
    j.set("projection_seed", int64_t(c.vera.projection_seed));
    j.set("projections", kVeraProjections);
  } else if (c.method == "fourierft") {
    j.set("targets", c.targets);
    j.set("n_frequency", c.fourier.n_frequency);
    j.set("scaling", c.fourier.scaling);
    j.set("random_loc_seed", int64_t(c.fourier.random_loc_seed));
  } else if (c.method == "adapter") {
    j.set("bottleneck", c.adapter.bottleneck);
  }
  if (c.classifier != "classifier") j.set("classifier", c.classifier);
  return j;
}

static PeftConfig config_from_json(const Json& j) {
  PeftConfig c;
  c.method = j["method"].as_string();
  check_peft_method(c.method);
  if (c.method == "neat") {
    c.targets = j["targets"].as_string();
    c.neat.rank = j["rank"].as_int();
    c.neat.depth = j["depth"].as_int();
    c.neat.activation = parse_neat_activation(j["activation"].as_string());
    c.neat.scale = j["scale"].as_number();
  } else if (c.method == "lora" || c.method == "dora" || c.method == "pissa" ||
             c.method == "milora") {
    c.targets = j["targets"].as_string();
    c.lora.rank = j["rank"].as_int();
    c.lora.alpha = j["alpha"].as_number();
    c.lora.dropout = j["dropout"].as_number();
    if (c.method == "pissa" && j.contains("pissa_niter")) {
      c.pissa_niter = j["pissa_niter"].as_int();
      NEAT_CHECK(c.pissa_niter >= 0, "pissa_niter ", c.pissa_niter, " must be >= 0");
      const std::string seed = j["svd_seed"].as_string();
      NEAT_CHECK(!seed.empty() && seed.size() <= 20 &&
                     seed.find_first_not_of("0123456789") == std::string::npos,
                 "svd_seed '", seed, "' is not a decimal 64-bit seed");
      errno = 0;
      c.lora.seed = std::strtoull(seed.c_str(), nullptr, 10);
      NEAT_CHECK(errno == 0, "svd_seed '", seed, "' is out of the 64-bit range");
    }
  } else if (c.method == "vera") {
    c.targets = j["targets"].as_string();
    c.vera.rank = j["rank"].as_int();
    c.vera.d_initial = j["d_initial"].as_number();
    c.vera.projection_seed = uint64_t(j["projection_seed"].as_int());
    NEAT_CHECK(j.contains("projections") && j["projections"].as_string() == kVeraProjections,
               "a VeRA adapter whose shared projections were drawn by an older build's generator "
               "(not as peft draws them from projection_prng_key): they cannot be rebuilt; train "
               "it again");
  } else if (c.method == "fourierft") {
    c.targets = j["targets"].as_string();
    c.fourier.n_frequency = j["n_frequency"].as_int();
    c.fourier.scaling = j["scaling"].as_number();
    c.fourier.random_loc_seed = uint64_t(j["random_loc_seed"].as_int());
  } else if (c.method == "adapter") {
    c.adapter.bottleneck = j["bottleneck"].as_int();
  }
  if (j.contains("classifier")) c.classifier = j["classifier"].as_string();
  return c;
}

void save_adapter(const std::string& path, const Module& model, const PeftConfig& config) {
  check_peft_method(config.method);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, p] : model.named_parameters(/*trainable_only=*/true))
    tensors.emplace_back(name, p.data());
  NEAT_CHECK(!tensors.empty(), "save_adapter: the ", model.type_name(),
             " has no trainable parameters to write to ", path);
  write_safetensors(path, tensors,
                    {{"format", kFormat}, {"version", kVersion},
                     {"config", config_json(config).dump()}});
}

static PeftConfig config_of(const SafetensorsFile& file) {
  auto format = file.metadata.find("format");
  NEAT_CHECK(format != file.metadata.end() && format->second == kFormat, "adapter: ", file.path,
             " is not a neat.cpp adapter file (no \"format\": \"", kFormat, "\" in its metadata)");
  auto version = file.metadata.find("version");
  NEAT_CHECK(version != file.metadata.end() && version->second == kVersion, "adapter: ",
             file.path, " has version ",
             version == file.metadata.end() ? "(none)" : version->second, ", this build reads ",
             kVersion);
  auto config = file.metadata.find("config");
  NEAT_CHECK(config != file.metadata.end(), "adapter: ", file.path, " has no \"config\" metadata");
  try {
    return config_from_json(Json::parse(config->second));
  } catch (const std::runtime_error& e) {
    NEAT_CHECK(false, "adapter: ", file.path, ": bad config metadata: ", e.what());
  }
}

PeftConfig read_adapter_config(const std::string& path) {
  if (std::filesystem::is_directory(path)) return read_peft_adapter_config(path);
  return config_of(read_safetensors(path));
}

void load_adapter(const std::string& path, Module& model, const PeftConfig& config) {
  const std::string want = config_json(config, false).dump();
  const std::string got = config_json(read_adapter_config(path), false).dump();
  NEAT_CHECK(want == got, "adapter: ", path, " was saved with ", got,
             " but the model has ", want, " attached");
  if (std::filesystem::is_directory(path)) return load_peft_adapter(path, model, config);
  SafetensorsFile file = read_safetensors(path);
  std::set<std::string> trainable;
  for (auto& [name, p] : model.named_parameters(/*trainable_only=*/true)) {
    trainable.insert(name);
    NEAT_CHECK(file.contains(name), "adapter: ", path, " lacks '", name, "' ",
               shape_str(p.shape()), ", a trainable parameter of the model");
    const Tensor& t = file.get(name);
    NEAT_CHECK(t.shape() == p.shape(), "adapter: '", name, "' has shape ", shape_str(t.shape()),
               " in ", path, " but ", shape_str(p.shape()), " in the model");
  }
  for (auto& [name, t] : file.tensors)
    NEAT_CHECK(trainable.count(name), "adapter: ", path, " has '", name, "' ",
               shape_str(t.shape()), ", which is not a trainable parameter of the model");
  NoGradGuard no_grad;
  for (auto& [name, p] : model.named_parameters(/*trainable_only=*/true))
    p.data().copy_from(file.get(name));
}

PeftReport attach_adapter(const std::string& path, Module& model) {
  PeftConfig config = read_adapter_config(path);
  PeftReport report = attach_peft(model, config);
  load_adapter(path, model, config);
  return report;
}

bool has_adapter_config(const std::string& path) {
  NEAT_CHECK(std::filesystem::exists(path), "adapter: ", path, ": no such file or directory");
  if (std::filesystem::is_directory(path)) return true;
  const SafetensorsFile file = read_safetensors(path);
  const auto format = file.metadata.find("format");
  return format != file.metadata.end() && format->second == kFormat;
}

std::string adapter_tensors_path(const std::string& path) {
  if (!std::filesystem::is_directory(path)) return path;
  return (std::filesystem::path(path) / "adapter_model.safetensors").string();
}

}  // namespace neat
