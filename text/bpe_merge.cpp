#include "text/bpe_merge.h"

#include <queue>

namespace neat {

namespace {

struct Candidate {
  double priority;
  size_t left;                   // index of the left symbol
  size_t left_size, right_size;  // the two symbols' lengths when the pair was queued
  bool operator>(const Candidate& o) const {
    return priority > o.priority || (priority == o.priority && left > o.left);
  }
};

}  // namespace

// Merged symbols live at their left index: text[i] grows, the right one is emptied and
// unlinked. A queued pair is stale once either side changed (its lengths no longer match).
std::vector<std::string> merge_symbols(std::vector<std::string> text,
                                       const MergePriority& priority) {
  const size_t n = text.size();
  std::vector<size_t> next(n), prev(n);
  for (size_t i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;  // prev[0]: wraps, unused
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](size_t left) {
    if (left >= n || next[left] >= n) return;
    const size_t right = next[left];
    const double p = priority(text[left], text[right]);
    if (p < kNoMerge) queue.push({p, left, text[left].size(), text[right].size()});
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const size_t right = next[c.left];
    if (text[c.left].empty() || right >= n || text[c.left].size() != c.left_size ||
        text[right].size() != c.right_size)
      continue;
    text[c.left] += text[right];
    text[right].clear();
    next[c.left] = next[right];
    if (next[right] < n) prev[next[right]] = c.left;
    if (c.left > 0) consider(prev[c.left]);
    consider(c.left);
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < n; i = next[i]) out.push_back(std::move(text[i]));
  return out;
}

MergeRanks::MergeRanks(const std::vector<std::pair<std::string, std::string>>& merges) {
  for (size_t i = 0; i < merges.size(); ++i)
    ranks_.emplace(merges[i].first + '\0' + merges[i].second, int64_t(i));  // first wins
}

double MergeRanks::rank(const std::string& left, const std::string& right) const {
  auto it = ranks_.find(left + '\0' + right);
  return it == ranks_.end() ? kNoMerge : double(it->second);
}

MergePriority MergeRanks::priority() const {
  return [this](const std::string& l, const std::string& r) { return rank(l, r); };
}

}  // namespace neat
