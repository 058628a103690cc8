// The adapter config of a parity case as the reference scripts in tests/parity/ describe it:
// {"method", "targets", "rank", "depth", "activation", "scale" (neat), "alpha" (lora)}.
#pragma once
#include "nn/peft/attach.h"
#include "tensor/json.h"

namespace neat::test {

inline PeftConfig peft_config_from_case(const Json& j) {
  PeftConfig p;
  p.method = j["method"].as_string();
  if (j.contains("targets")) p.targets = j["targets"].as_string();
  if (p.method == "neat") {
    p.neat.rank = j["rank"].as_int();
    p.neat.depth = j["depth"].as_int();
    p.neat.activation = parse_neat_activation(j["activation"].as_string());
    p.neat.scale = j["scale"].as_number();
  } else if (p.method == "lora") {
    p.lora.rank = j["rank"].as_int();
    p.lora.alpha = j["alpha"].as_number();
  }
  return p;
}

}  // namespace neat::test
