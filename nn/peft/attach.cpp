#include "nn/peft/attach.h"

#include <cstdio>
#include <sstream>

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

void check_peft_method(const std::string& method) {
  NEAT_CHECK(method == "neat" || method == "lora" || method == "head" || method == "full",
             "peft: unknown method '", method, "' (choose neat, lora, head or full)");
}

static std::string settings_of(const PeftConfig& c) {
  std::ostringstream s;
  if (c.method == "neat")
    s << "rank " << c.neat.rank << ", depth " << c.neat.depth << ", "
      << neat_activation_name(c.neat.activation) << ", scale " << c.neat.scale << ", targets "
      << c.targets;
  else if (c.method == "lora")
    s << "rank " << c.lora.rank << ", alpha " << c.lora.alpha << ", dropout " << c.lora.dropout
      << ", targets " << c.targets;
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
      NEAT_CHECK(type != "Neat" && type != "Lora", "peft: '", name, "' already has a ", type,
                 " adapter");
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

PeftReport attach_peft(Module& model, const PeftConfig& config) {
  check_peft_method(config.method);
  std::vector<std::string> adapted;
  if (config.method == "full") {
    model.unfreeze();
  } else {
    model.freeze();
    if (config.method == "neat" || config.method == "lora") {
      // One seed per target, drawn from the method's seed: different layers, different inits.
      Generator seeds(config.method == "neat" ? config.neat.seed : config.lora.seed);
      for (auto& [name, linear] : find_targets(model, resolve_targets(config.targets))) {
        std::shared_ptr<Layer> adapter;
        if (config.method == "neat") {
          NeatOptions o = config.neat;
          o.seed = seeds.next_u64();
          adapter = std::make_shared<Neat>(*linear, o);
        } else {
          LoraOptions o = config.lora;
          o.seed = seeds.next_u64();
          adapter = std::make_shared<Lora>(*linear, o);
        }
        adapter->train(model.is_training());
        model.replace_module(name, adapter);
        adapted.push_back(name);
      }
    }
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
