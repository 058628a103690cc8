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
  try {
    neat::ViTForImageClassification model(neat_fuzz::tiny_vit_config());
    const neat::PeftConfig config = neat_fuzz::tiny_peft_config(data[0] % 2 == 1);
    neat::attach_peft(model, config);
    neat::read_adapter_config(path);
    neat::load_adapter(path, model, config);
  } catch (const std::exception&) {
  }
  return 0;
}
