#include "text/pretokenize.h"

#include "tensor/check.h"
#include "text/unicode.h"

namespace neat {

namespace {

bool is_letter(char32_t c) { return char_class(c) == CharClass::kLetter; }
bool is_number(char32_t c) { return char_class(c) == CharClass::kNumber; }
bool is_other(char32_t c) { return !is_white_space(c) && !is_letter(c) && !is_number(c); }
bool is_newline(char32_t c) { return c == '\r' || c == '\n'; }
char32_t ascii_lower(char32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// The end of the run of characters of a class starting at `from`.
size_t run(const std::u32string& s, size_t from, bool (*in_class)(char32_t)) {
  while (from < s.size() && in_class(s[from])) ++from;
  return from;
}

// 's 't 're 've 'm 'll 'd at i (case-insensitively when `any_case`): its end, or i.
size_t contraction(const std::u32string& s, size_t i, bool any_case) {
  if (s[i] != '\'' || i + 1 >= s.size()) return i;
  auto low = [&](size_t k) { return k < s.size() ? (any_case ? ascii_lower(s[k]) : s[k]) : 0; };
  const char32_t c1 = low(i + 1), c2 = low(i + 2);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
    return i + 3;
  return i;
}

// \s+(?!\S) then \s+ at the whitespace s[i]: a run of n before a non-space yields n - 1 (the
// last one joins what follows), a run at the end of the text all of it, a single one itself.
size_t whitespace(const std::u32string& s, size_t i) {
  const size_t stop = run(s, i, is_white_space);
  return stop == s.size() || stop - i == 1 ? stop : stop - 1;
}

// GPT-2: the alternatives tried in order at i, as the regex engine does:
//   contractions | ' '? letters+ | ' '? numbers+ | ' '? others+ | whitespace (above)
size_t gpt2_piece(const std::u32string& s, size_t i) {
  size_t end = contraction(s, i, false);
  if (end > i) return end;
  const size_t body = s[i] == ' ' && i + 1 < s.size() ? i + 1 : i;
  for (bool (*in_class)(char32_t) : {is_letter, is_number, is_other})
    if (in_class(s[body])) return run(s, body, in_class);
  return whitespace(s, i);
}

// LLaMA-3, in the pattern's order at i:
//   (?i:contractions) | [^\r\n\p{L}\p{N}]? letters+ | numbers{1,3} |
//   ' '? others+ [\r\n]* | \s*[\r\n]+ (up to the run's last newline) | whitespace (above)
size_t llama3_piece(const std::u32string& s, size_t i) {
  const size_t n = s.size();
  size_t end = contraction(s, i, true);
  if (end > i) return end;
  if (is_letter(s[i])) return run(s, i, is_letter);
  if (!is_newline(s[i]) && !is_number(s[i]) && i + 1 < n && is_letter(s[i + 1]))
    return run(s, i + 1, is_letter);
  if (is_number(s[i])) {
    end = i;
    while (end < n && end < i + 3 && is_number(s[end])) ++end;
    return end;
  }
  const size_t body = s[i] == ' ' && i + 1 < n ? i + 1 : i;
  if (is_other(s[body])) return run(s, run(s, body, is_other), is_newline);
  const size_t stop = run(s, i, is_white_space);
  for (size_t k = stop; k > i; --k)
    if (is_newline(s[k - 1])) return k;
  return whitespace(s, i);
}

void split_into(const std::u32string& s, PreSplit step, std::vector<std::string>& out) {
  for (size_t i = 0; i < s.size();) {
    size_t end = i + 1;  // kDigits: a digit alone, or the run up to the next digit
    if (step == PreSplit::kGpt2) end = gpt2_piece(s, i);
    else if (step == PreSplit::kLlama3) end = llama3_piece(s, i);
    else if (!is_number(s[i])) end = run(s, i, [](char32_t c) { return !is_number(c); });
    out.push_back(utf8_encode(s.substr(i, end - i)));
    i = end;
  }
}

}  // namespace

PreTokenizer pre_tokenizer_by_name(const std::string& name) {
  if (name == "gpt2" || name == "gpt-2" || name == "default") return {name, {PreSplit::kGpt2}};
  if (name == "llama3" || name == "llama-bpe") return {name, {PreSplit::kLlama3}};
  if (name == "smollm" || name == "starcoder" || name == "refact")
    return {name, {PreSplit::kDigits, PreSplit::kGpt2}};
  NEAT_CHECK(false, "pre-tokenizer: unknown name '", name,
             "' (known: gpt2, gpt-2, default, llama3, llama-bpe, smollm, starcoder, refact)");
}

std::vector<std::string> pre_split(const std::string& text, PreSplit step) {
  std::vector<std::string> out;
  split_into(utf8_decode(text), step, out);
  return out;
}

std::vector<std::string> pretokenize(const std::string& text, const PreTokenizer& pre) {
  std::vector<std::string> pieces{text};
  for (PreSplit step : pre.steps) {
    std::vector<std::string> next;
    for (const std::string& piece : pieces) split_into(utf8_decode(piece), step, next);
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace neat
