#include "text/encoding.h"

#include <algorithm>

#include "tensor/check.h"

namespace neat {

int64_t special_token_count(const SpecialTokens& special, bool pair) {
  if (!pair) return 2;
  return special.double_sep ? 4 : 3;
}

Encoding build_inputs(std::vector<int64_t> a, const std::vector<int64_t>* b,
                      const SpecialTokens& special, int64_t max_len) {
  std::vector<int64_t> second = b ? *b : std::vector<int64_t>();
  if (max_len > 0) {
    const int64_t target = max_len - special_token_count(special, b != nullptr);
    NEAT_CHECK(target > 0, "build_inputs: max_len ", max_len, " leaves no room beside the ",
               special_token_count(special, b != nullptr), " special tokens");
    int64_t n1 = int64_t(a.size()), n2 = int64_t(second.size());
    if (!b) {
      n1 = std::min(n1, target);
    } else if (n1 + n2 > target) {
      const bool swapped = n1 > n2;
      if (swapped) std::swap(n1, n2);  // n1: the shorter
      n2 = n1 > target ? n1 : std::max(n1, target - n1);
      if (n1 + n2 > target) {
        n1 = target / 2;
        n2 = n1 + target % 2;
      }
      if (swapped) std::swap(n1, n2);
    }
    a.resize(std::min<int64_t>(n1, int64_t(a.size())));
    second.resize(std::min<int64_t>(n2, int64_t(second.size())));
  }
  Encoding e;
  auto push = [&](int64_t id, int64_t type) {
    e.ids.push_back(id);
    e.type_ids.push_back(special.double_sep ? 0 : type);
    e.attention_mask.push_back(1);
  };
  push(special.cls, 0);
  for (int64_t id : a) push(id, 0);
  push(special.sep, 0);
  if (b) {
    if (special.double_sep) push(special.sep, 1);
    for (int64_t id : second) push(id, 1);
    push(special.sep, 1);
  }
  return e;
}

void pad_to(Encoding& encoding, int64_t length, int64_t pad_id) {
  while (encoding.size() < length) {
    encoding.ids.push_back(pad_id);
    encoding.type_ids.push_back(0);
    encoding.attention_mask.push_back(0);
  }
}

}  // namespace neat
