// The train_vit program as a function, so tests can run it in-process:
//
//   std::ostringstream out, err;
//   int code = train_vit_main({"--data", "synthetic", "--model", "custom", "--epochs", "1"}, out, err);
//
// Exit codes: 0 done; 1 an error (missing data, bad weights file, non-finite loss; one line on
// err); 2 a bad command line (the reason and the usage line on err); 128 + signal when
// interrupted by SIGINT / SIGTERM after writing a checkpoint.
//
// Files in the output directory (each written atomically):
//   results.json             accuracies (fractions), parameter counts, timings, every flag's value
//   log.csv                  step, epoch, lr, loss, acc per optimizer step
//   curves.svg               loss and accuracy curves
//   adapter.safetensors      the trainable tensors (nn/peft/adapter_file.h)
//   peft/                    the same in peft's layout, for lora, dora, vera, fourierft, neat
//                            (nn/peft/peft_format.h; PeftModel.from_pretrained loads it)
//   config.json              the model's Hugging Face config with id2label: --predict builds
//                            the model and names its classes from it, never from the data
//   model.safetensors        with --merge: the whole model, adapters folded in, HF names
//   checkpoint.safetensors   what --resume continues from (train/checkpoint.h)
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace neat {

int train_vit_main(const std::vector<std::string>& arguments, std::ostream& out,
                   std::ostream& err);

}  // namespace neat
