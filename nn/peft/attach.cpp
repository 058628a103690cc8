#include "nn/peft/attach.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "nn/peft/dora.h"
#include "nn/peft/pissa.h"

namespace neat {

static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.push_back("");
  return parts;
}

std::vector<std::string> resolve_targets(const std::string& targets) {
  // ViT: attention.attention.query; BERT / RoBERTa: attention.self.query.
  const std::vector<std::string> qv{"attention.*.query", "attention.*.value"};
  if (targets == "qv") return qv;
  if (targets == "qvmlp") {
    std::vector<std::string> all = qv;
    all.push_back("intermediate.dense");      // D -> MLP
    all.push_back("layer.*.output.dense");    // MLP -> D (not attention.output.dense)
    return all;
  }
  std::vector<std::string> list;
  for (const std::string& t : split(targets, ',')) {
    NEAT_CHECK(!t.empty(), "peft: empty name in the target list '", targets, "'");
    list.push_back(t);
  }
  NEAT_CHECK(!list.empty(), "peft: no targets given (use qv, qvmlp or a list of names)");
  return list;
}

bool target_matches(const std::string& module_name, const std::string& target) {
  const std::vector<std::string> name = split(module_name, '.'), want = split(target, '.');
  if (want.size() > name.size()) return false;
  const size_t offset = name.size() - want.size();
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i] != "*" && want[i] != name[offset + i]) return false;
  return true;
}

const std::vector<std::string>& peft_methods() {
  static const std::vector<std::string> methods{"neat",   "lora",      "dora",    "pissa",
                                                "milora", "vera",      "fourierft", "adapter",
                                                "bitfit", "head",      "full"};
  return methods;
}

void check_peft_method(const std::string& method) {
  const auto& all = peft_methods();
  if (std::find(all.begin(), all.end(), method) != all.end()) return;
  std::string list;
  for (const std::string& m : all) list += (list.empty() ? "" : ", ") + m;
  NEAT_CHECK(false, "peft: unknown method '", method, "' (choose ", list, ")");
}

// The methods that wrap target Linears in an adapter layer.
static bool wraps_targets(const std::string& method) {
  return method != "bitfit" && method != "head" && method != "full";
}

std::vector<std::string> method_targets(const PeftConfig& config) {
  if (config.method == "adapter") return config.adapter_targets;
  return resolve_targets(config.targets);
}

static std::string settings_of(const PeftConfig& c) {
  std::ostringstream s;
  if (c.method == "neat")
    s << "rank " << c.neat.rank << ", depth " << c.neat.depth << ", "
      << neat_activation_name(c.neat.activation) << ", scale " << c.neat.scale << ", targets "
      << c.targets;
  else if (c.method == "lora" || c.method == "dora" || c.method == "pissa" ||
           c.method == "milora")
    s << "rank " << c.lora.rank << ", alpha " << c.lora.alpha << ", dropout " << c.lora.dropout
      << (c.method == "pissa" && c.pissa_niter >= 0
              ? ", randomized SVD niter " + std::to_string(c.pissa_niter)
              : "")
      << ", targets " << c.targets;
  else if (c.method == "vera")
    s << "rank " << c.vera.rank << ", d_initial " << c.vera.d_initial << ", projection seed "
      << c.vera.projection_seed << ", targets " << c.targets;
  else if (c.method == "fourierft")
    s << "n_frequency " << c.fourier.n_frequency << ", scaling " << c.fourier.scaling
      << ", random_loc_seed " << c.fourier.random_loc_seed
      << (c.fourier.zero_init ? ", zero init" : "") << ", targets " << c.targets;
  else if (c.method == "adapter")
    s << "bottleneck " << c.adapter.bottleneck << ", after attention and MLP outputs";
  else if (c.method == "bitfit")
    s << "every bias trains";
  else if (c.method == "head")
    s << "linear probe: only '" << c.classifier << "' trains";
  else
    s << "every parameter trains";
  return s.str();
}

static std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string PeftReport::str() const {
  char percent[32];
  std::snprintf(percent, sizeof percent, "%.4f%%", 100.0 * ratio());
  std::ostringstream s;
  s << method << " (" << settings << ")";
  if (!adapted.empty()) s << " on " << adapted.size() << " layers";
  s << ": trainable " << with_commas(trainable) << " / " << with_commas(total)
    << " parameters (" << percent << ")";
  return s.str();
}

PeftReport peft_report(const Module& model, const PeftConfig& config,
                       std::vector<std::string> adapted) {
  PeftReport r;
  r.method = config.method;
  r.settings = settings_of(config);
  r.adapted = std::move(adapted);
  r.trainable = model.num_parameters(/*trainable_only=*/true);
  r.total = model.num_parameters();
  return r;
}

// The type_name()s of the layers wrap_targets puts in place of a Linear.
static const std::vector<std::string>& adapter_types() {
  static const std::vector<std::string> types{"Neat", "Lora", "Dora", "Vera", "FourierFT",
                                              "HoulsbyAdapter"};
  return types;
}

// The Linear layers a target list selects, in module order, with errors for targets that
// select nothing or an already adapted layer.
static std::vector<std::pair<std::string, std::shared_ptr<Linear>>> find_targets(
    const Module& model, const std::vector<std::string>& targets) {
  std::vector<std::pair<std::string, std::shared_ptr<Linear>>> found;
  std::vector<bool> used(targets.size(), false);
  for (auto& [name, module] : model.named_modules()) {
    for (size_t t = 0; t < targets.size(); ++t) {
      if (!target_matches(name, targets[t])) continue;
      used[t] = true;
      const std::string type = module->type_name();
      const auto& kinds = adapter_types();
      NEAT_CHECK(std::find(kinds.begin(), kinds.end(), type) == kinds.end(), "peft: '", name,
                 "' already has a ", type, " adapter");
      auto linear = std::dynamic_pointer_cast<Linear>(module);
      NEAT_CHECK(linear != nullptr, "peft: target '", targets[t], "' matches '", name,
                 "', a ", type, ", not a Linear");
      found.emplace_back(name, linear);
      break;
    }
  }
  for (size_t t = 0; t < targets.size(); ++t)
    NEAT_CHECK(used[t], "peft: target '", targets[t], "' matches no module of the ",
               model.type_name());
  return found;
}

// The largest IN and OUT among the targets: VeRA's shared projections are sized for them.
static std::pair<int64_t, int64_t> largest_in_out(
    const std::vector<std::pair<std::string, std::shared_ptr<Linear>>>& found) {
  int64_t in = 0, out = 0;
  for (auto& [name, linear] : found) {
    in = std::max(in, linear->weight.size(1));
    out = std::max(out, linear->weight.size(0));
  }
  return {in, out};
}

// Replaces each target Linear by the method's adapter layer; returns the adapted names.
static std::vector<std::string> wrap_targets(Module& model, const PeftConfig& config) {
  const auto found = find_targets(model, method_targets(config));
  std::shared_ptr<VeraProjections> projections;
  if (config.method == "vera" && !found.empty()) {
    auto [in, out] = largest_in_out(found);
    projections = make_vera_projections(config.vera, in, out, found.front().second->weight.dtype());
  }
  // One seed per target, drawn from the method's seed: different layers, different inits.
  const uint64_t seed = config.method == "neat"        ? config.neat.seed
                        : config.method == "fourierft" ? config.fourier.seed
                        : config.method == "adapter"   ? config.adapter.seed
                                                       : config.lora.seed;
  Generator seeds(seed);
  std::vector<std::string> adapted;
  std::vector<Lora*> svd_layers;   // pissa, milora: started from the SVD once all are in place
  for (auto& [name, linear] : found) {
    const uint64_t layer_seed = seeds.next_u64();
    std::shared_ptr<Layer> adapter;
    if (config.method == "neat") {
      NeatOptions o = config.neat;
      o.seed = layer_seed;
      adapter = std::make_shared<Neat>(*linear, o);
    } else if (config.method == "dora") {
      LoraOptions o = config.lora;
      o.seed = layer_seed;
      adapter = std::make_shared<Dora>(*linear, o);
    } else if (config.method == "vera") {
      adapter = std::make_shared<Vera>(*linear, config.vera, projections);
    } else if (config.method == "fourierft") {
      FourierOptions o = config.fourier;
      o.seed = layer_seed;
      adapter = std::make_shared<FourierFT>(*linear, o);
    } else if (config.method == "adapter") {
      HoulsbyOptions o = config.adapter;
      o.seed = layer_seed;
      adapter = std::make_shared<HoulsbyAdapter>(*linear, o);
    } else {   // lora, pissa, milora
      LoraOptions o = config.lora;
      o.seed = layer_seed;
      auto lora = std::make_shared<Lora>(*linear, o);
      if (config.method == "pissa" || config.method == "milora") svd_layers.push_back(lora.get());
      adapter = lora;
    }
    adapter->train(model.is_training());
    model.replace_module(name, adapter);
    adapted.push_back(name);
  }
  if (!svd_layers.empty())
    init_loras_from_svd(svd_layers, config.method == "pissa" ? SvdInit::Principal : SvdInit::Minor,
                        config.method == "pissa" ? config.pissa_niter : -1, config.progress);
  return adapted;
}

void merge_peft_layers(Module& model) {
  for (const auto& [name, module] : model.named_modules()) {
    if (auto m = std::dynamic_pointer_cast<Neat>(module)) m->merge();
    if (auto m = std::dynamic_pointer_cast<Lora>(module)) m->merge();
    if (auto m = std::dynamic_pointer_cast<Dora>(module)) m->merge();
    if (auto m = std::dynamic_pointer_cast<Vera>(module)) m->merge();
    if (auto m = std::dynamic_pointer_cast<FourierFT>(module)) m->merge();
    NEAT_CHECK(!std::dynamic_pointer_cast<HoulsbyAdapter>(module), "peft: '", name,
               "' is a Houlsby adapter, a nonlinear bottleneck with no merged form");
  }
}

PeftReport attach_peft(Module& model, const PeftConfig& config) {
  check_peft_method(config.method);
  std::vector<std::string> adapted;
  if (config.method == "full") {
    model.unfreeze();
  } else {
    model.freeze();
    if (wraps_targets(config.method)) adapted = wrap_targets(model, config);
    if (config.method == "bitfit")
      for (auto& [name, p] : model.named_parameters())
        if (name == "bias" || (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0))
          p.set_requires_grad(true);
    if (!config.classifier.empty()) {
      bool found = false;
      for (auto& [name, p] : model.named_parameters()) {
        if (name.rfind(config.classifier + ".", 0) != 0) continue;
        p.set_requires_grad(true);
        found = true;
      }
      NEAT_CHECK(found, "peft: no parameters under '", config.classifier, "' (the classifier) in the ",
                 model.type_name());
    }
  }
  return peft_report(model, config, std::move(adapted));
}

}  // namespace neat
