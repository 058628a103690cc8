// Reading whole files, for every reader above tensor/ (configs, tokenizers, JSON, text data):
//
//   std::string json = read_file("tokenizer.json", "tokenizer");
//   // missing: "read the tokenizer file tokenizer.json: cannot open: No such file or directory"
//   if (file_exists("model.safetensors.index.json")) ...
#pragma once
#include <string>

namespace neat {

// The file's bytes. `what` (optional) names the file's role in the error.
std::string read_file(const std::string& path, const char* what = nullptr);
// Whether the path exists (a file, a directory or anything else stat can see).
bool file_exists(const std::string& path);

}  // namespace neat
