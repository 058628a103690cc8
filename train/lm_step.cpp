// lm_step: one forward and backward of a LLaMA-family causal LM with a method attached, written
// to a file (the twin of vit_step and text_step, for checking train_lm's adapters against
// transformers + peft). ./lm_step --help
// The program lives in train/lm_step_app.cpp (so the tests can run it in-process).
#include <iostream>

#include "train/lm_step_app.h"
#include "train/system.h"

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // 2 threads stay ahead of 1 when a core is busy
  return neat::lm_step_main(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
