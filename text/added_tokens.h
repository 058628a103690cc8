// Added tokens (Hugging Face's added_tokens, GGUF's control and user-defined tokens) are found
// in the raw text before anything else: the text is cut around them, they become their ids
// whole, and only the stretches between them are pre-tokenized and merged. At each position
// the longest added token starting there wins; the leftmost occurrence first.
//
//   AddedTokens added({{"<|im_start|>", 1}, {"<|im_end|>", 2}});
//   added.split("<|im_start|>user\nhi<|im_end|>")
//       // {{"", 1}, {"user\nhi", -1}, {"", 2}}: text segments have id -1
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace neat {

struct TextSegment {
  std::string text;   // the raw text (empty for an added token)
  int64_t id = -1;    // the added token's id, or -1 for raw text
};

class AddedTokens {
 public:
  AddedTokens() = default;
  // (content, id) pairs; empty contents are refused, a repeated content keeps the last id.
  explicit AddedTokens(const std::vector<std::pair<std::string, int64_t>>& tokens);
  std::vector<TextSegment> split(const std::string& text) const;
  bool empty() const { return by_first_byte_.empty(); }

 private:
  // first byte -> the tokens starting with it, longest first
  std::map<unsigned char, std::vector<std::pair<std::string, int64_t>>> by_first_byte_;
};

}  // namespace neat
