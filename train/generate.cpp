// generate: text from a LLaMA-family model (a GGUF file or a Hugging Face directory), printed
// as it comes. ./generate --help
// The program lives in train/generate_app.cpp (so the tests can run it in-process).
#include <iostream>

#include "train/generate_app.h"
#include "train/system.h"

int main(int argc, char** argv) {
  neat::use_passive_openmp_wait(argv);   // 2 threads stay ahead of 1 when a core is busy
  return neat::generate_main(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
