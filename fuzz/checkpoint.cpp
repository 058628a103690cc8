// Fuzzes checkpoints as train_vit --resume reads them: the state metadata (counters, history,
// config), then the parameters and the AdamW state into a model with Neat attached.
#include <cstdint>
#include <exception>

#include "fuzz/fuzz_input.h"
#include "fuzz/tiny_model.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = neat_fuzz::input_file(data, size, "checkpoint");
  // Built once: loading only overwrites tensors and optimizer state of the same shapes.
  static neat::ViTForImageClassification* model = nullptr;
  static neat::AdamW* optimizer = nullptr;
  if (model == nullptr) {
    model = new neat::ViTForImageClassification(neat_fuzz::tiny_vit_config());
    neat::attach_peft(*model, neat_fuzz::tiny_peft_config(/*lora=*/false));
    optimizer = new neat::AdamW({neat::ParamGroup{"all", model->named_parameters(/*trainable_only=*/true)}});
  }
  try {
    neat::read_checkpoint_state(path);
    const neat::TrainState state = neat::load_checkpoint(path, *model, *optimizer);
    (void)state.history.log_csv();
  } catch (const std::exception&) {
  }
  return 0;
}
