// train_vit: fine-tune a Vision Transformer with Neat, LoRA, a linear probe or fully.
//   ./train_vit --method neat --data cifar10 --weights vit-base-patch16-224-in21k.safetensors
//   ./train_vit --help
// The program lives in train/train_vit_app.cpp (so the tests can run it in-process).
#include <iostream>

#include "train/system.h"
#include "train/train_vit_app.h"

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // 2 threads stay ahead of 1 when a core is busy
  return neat::train_vit_main(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
