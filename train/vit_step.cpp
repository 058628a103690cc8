// vit_step: one forward and backward of a ViT with a method attached, written to a file, to
// compare this engine with another framework (train/vit_step_app.h describes the files).
//   ./vit_step --help
#include <iostream>

#include "train/system.h"
#include "train/vit_step_app.h"

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // 2 threads stay ahead of 1 when a core is busy
  return neat::vit_step_main(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
