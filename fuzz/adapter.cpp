// Fuzzes adapter files as train_vit --adapter reads them: the file's config against the
// command line's, then its tensors into the model (names, shapes, dtypes). The first byte picks
// Neat or LoRA.
#include <cstdint>
#include <exception>

#include "fuzz/fuzz_input.h"
#include "fuzz/tiny_model.h"
#include "nn/peft/adapter_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string path = neat_fuzz::input_file(data + 1, size - 1, "adapter");
  // One model per method, built once (loading only overwrites tensors of the same shapes).
  static const neat::PeftConfig configs[2] = {neat_fuzz::tiny_peft_config(false),
                                              neat_fuzz::tiny_peft_config(true)};
  static neat::ViTForImageClassification* models[2] = {nullptr, nullptr};
  const int which = data[0] % 2;
  if (models[which] == nullptr) {
    models[which] = new neat::ViTForImageClassification(neat_fuzz::tiny_vit_config());
    neat::attach_peft(*models[which], configs[which]);
  }
  try {
    neat::read_adapter_config(path);
    neat::load_adapter(path, *models[which], configs[which]);
  } catch (const std::exception&) {
  }
  return 0;
}
