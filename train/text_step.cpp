// text_step: one forward and backward of a BERT / RoBERTa classifier, written to a file (the
// twin of vit_step, for checking the engine against any framework). ./text_step --help
// The program lives in train/text_step_app.cpp (so the tests can run it in-process).
#include <iostream>

#include "train/system.h"
#include "train/text_step_app.h"

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // 2 threads stay ahead of 1 when a core is busy
  return neat::text_step_main(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
