// The BPE merge loop shared by every BPE tokenizer here: a word starts as a list of symbols
// (one per byte, or per character); while some adjacent pair may merge, the pair with the best
// (lowest) priority is joined into one symbol, the leftmost among equals. Hugging Face's BPE
// and llama.cpp's byte-level BPE rank pairs by their line in the merges list; llama.cpp's
// SentencePiece tokenizer (GGUF "llama" models) by the score of the joined token, highest
// first (priority = -score).
//
//   MergeRanks ranks({{"a", "b"}, {"ab", "b"}});
//   merge_symbols({"a", "b", "b", "a", "b"}, ranks.priority())   // {"abb", "ab"}
//
// A heap of candidate pairs and a linked list of symbols (as both libraries do), so a word of n
// symbols costs O(n log n) lookups.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace neat {

// The priority of joining left and right (lower first); kNoMerge when they may not join.
using MergePriority = std::function<double(const std::string& left, const std::string& right)>;
inline constexpr double kNoMerge = 1e300;

std::vector<std::string> merge_symbols(std::vector<std::string> symbols,
                                       const MergePriority& priority);

// Pairs ranked by their position in a merges list.
class MergeRanks {
 public:
  explicit MergeRanks(const std::vector<std::pair<std::string, std::string>>& merges);
  // The rank of (left, right), or kNoMerge.
  double rank(const std::string& left, const std::string& right) const;
  MergePriority priority() const;
  size_t size() const { return ranks_.size(); }

 private:
  std::unordered_map<std::string, int64_t> ranks_;  // left + '\0' + right -> rank
};

}  // namespace neat
