// Fuzzes train_vit's command line: the input is the arguments separated by NUL bytes. They go
// through the same parse and checks train_vit runs before it loads any data, then the parsed
// values are saved and restored as --resume does.
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "train/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> arguments(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) arguments.emplace_back();
    else arguments.back() += char(data[i]);
  }
  try {
    neat::TrainVitOptions options;
    neat::ArgParser args = neat::train_vit_arguments(options);
    args.parse(arguments);
    if (args.help_requested()) return 0;
    neat::check_train_vit_options(options, args);
    neat::vit_config_from(options.model, args, 3, 32, 10);
    const neat::Json saved = neat::Json::parse(args.values().dump());
    neat::TrainVitOptions again;
    neat::ArgParser restored = neat::train_vit_arguments(again);
    restored.restore(saved, {});
  } catch (const std::exception&) {
  }
  return 0;
}
