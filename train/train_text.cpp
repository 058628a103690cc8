// train_text: fine-tune a pretrained BERT / RoBERTa encoder with Neat, LoRA, a linear probe or
// fully on a text classification task.
//   make deps && ./train_text --method neat --task wordnet-nouns --weights data/all-MiniLM-L6-v2
//   ./train_text --help
// The program lives in train/train_text_app.cpp (so the tests can run it in-process).
#include <iostream>

#include "train/system.h"
#include "train/train_text_app.h"

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // 2 threads stay ahead of 1 when a core is busy
  return neat::train_text_main(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
