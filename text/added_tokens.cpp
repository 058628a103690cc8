#include "text/added_tokens.h"

#include <algorithm>

#include "tensor/check.h"

namespace neat {

AddedTokens::AddedTokens(const std::vector<std::pair<std::string, int64_t>>& tokens) {
  std::map<std::string, int64_t> unique;
  for (const auto& [content, id] : tokens) {
    NEAT_CHECK(!content.empty(), "added tokens: token ", id, " has an empty text");
    unique[content] = id;
  }
  for (const auto& [content, id] : unique)
    by_first_byte_[static_cast<unsigned char>(content[0])].emplace_back(content, id);
  for (auto& [byte, list] : by_first_byte_)
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return a.first.size() > b.first.size();
    });
}

std::vector<TextSegment> AddedTokens::split(const std::string& text) const {
  std::vector<TextSegment> out;
  size_t start = 0;  // of the raw text not yet emitted
  for (size_t i = 0; i < text.size();) {
    const int64_t* found = nullptr;
    size_t length = 0;
    auto it = by_first_byte_.find(static_cast<unsigned char>(text[i]));
    if (it != by_first_byte_.end()) {
      for (const auto& [content, id] : it->second) {
        if (text.compare(i, content.size(), content) == 0) {
          found = &id;
          length = content.size();
          break;
        }
      }
    }
    if (!found) {
      ++i;
      continue;
    }
    if (i > start) out.push_back({text.substr(start, i - start), -1});
    out.push_back({"", *found});
    i += length;
    start = i;
  }
  if (start < text.size()) out.push_back({text.substr(start), -1});
  return out;
}

}  // namespace neat
