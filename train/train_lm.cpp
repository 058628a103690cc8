// train_lm: fine-tune a LLaMA-family language model with Neat, LoRA, DoRA or any other method of
// the project on one of the Neat paper's commonsense or math tasks.
//   make deps && scripts/get_data.sh lm-tasks && ./train_lm --task arc_easy --train-items 300
//   ./train_lm --help
// The program lives in train/train_lm_app.cpp (so the tests can run it in-process).
#include <iostream>

#include "train/system.h"
#include "train/train_lm_app.h"

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // 2 threads stay ahead of 1 when a core is busy
  return neat::train_lm_main(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
