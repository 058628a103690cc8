// A whole file read into a string, for the tokenizer loaders.
//
//   std::string json = read_text_file("tokenizer.json", "tokenizer");
//   // missing: "cannot open the tokenizer file tokenizer.json"
#pragma once
#include <string>

namespace neat {

std::string read_text_file(const std::string& path, const char* what);

}  // namespace neat
