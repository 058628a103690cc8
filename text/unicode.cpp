#include "text/unicode.h"

#include <algorithm>
#include <cstdio>

#include "tensor/check.h"

namespace neat {

namespace {

struct CategoryRange {
  char32_t first, last;
  CharClass value;
};
struct CombiningRange {
  char32_t first, last;
  int value;
};
struct Mapping {
  char32_t code_point;
  int offset, length;
};
constexpr CharClass kLetter = CharClass::kLetter, kNonspacingMark = CharClass::kNonspacingMark,
                    kOtherMark = CharClass::kOtherMark, kNumber = CharClass::kNumber,
                    kPunctuation = CharClass::kPunctuation, kSymbol = CharClass::kSymbol,
                    kSpaceSeparator = CharClass::kSpaceSeparator,
                    kOtherSeparator = CharClass::kOtherSeparator, kOther = CharClass::kOther;

#include "text/unicode_tables.inc"

// The run holding c, or null (runs are sorted and disjoint).
template <typename Range, size_t N>
const Range* find_range(const Range (&ranges)[N], char32_t c) {
  const Range* it = std::upper_bound(std::begin(ranges), std::end(ranges), c,
                                     [](char32_t x, const Range& r) { return x < r.first; });
  if (it == std::begin(ranges)) return nullptr;
  --it;
  return c <= it->last ? it : nullptr;
}

template <size_t N>
const Mapping* find_mapping(const Mapping (&table)[N], char32_t c) {
  const Mapping* it = std::lower_bound(std::begin(table), std::end(table), c,
                                       [](const Mapping& m, char32_t x) { return m.code_point < x; });
  return it != std::end(table) && it->code_point == c ? it : nullptr;
}

// Hangul syllables decompose by arithmetic (Unicode 3.12): S = SBase + (L * VCount + V) * TCount + T.
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kVCount = 21, kTCount = 28, kSCount = 19 * kVCount * kTCount;

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%X", value);
  return text;
}

}  // namespace

CharClass char_class(char32_t c) {
  const CategoryRange* r = find_range(kCategoryRanges, c);
  return r ? r->value : CharClass::kUnassigned;
}

int combining_class(char32_t c) {
  const CombiningRange* r = find_range(kCombiningRanges, c);
  return r ? r->value : 0;
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

namespace {

// Decodes the character at byte i of s[0, n): its code point and length, or a message saying
// what is wrong there (the byte, or the code point) and length 0.
std::string decode_at(const unsigned char* s, size_t n, size_t i, char32_t& c, int& length) {
  const unsigned char b = s[i];
  length = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > n) {
    length = 0;
    return "invalid byte " + hex(b);
  }
  c = length == 1 ? b : b & (0x7F >> length);
  for (int k = 1; k < length; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) {
      length = 0;
      return "invalid continuation byte " + hex(s[i + k]) + " after " + hex(b);
    }
    c = (c << 6) | (s[i + k] & 0x3F);
  }
  const char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < smallest[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    length = 0;
    return "invalid code point " + hex(c);
  }
  return "";
}

}  // namespace

std::u32string utf8_decode(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  char32_t c = 0;
  int length = 0;
  for (size_t i = 0; i < text.size(); i += size_t(length)) {
    const std::string wrong = decode_at(s, text.size(), i, c, length);
    NEAT_CHECK(wrong.empty(), "utf8: ", wrong, " at offset ", i);
    out.push_back(c);
  }
  return out;
}

Utf8Error find_invalid_utf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  char32_t c = 0;
  int length = 0;
  for (size_t i = 0; i < text.size(); i += size_t(length)) {
    std::string wrong = decode_at(s, text.size(), i, c, length);
    if (!wrong.empty()) return {i, std::move(wrong)};
  }
  return {};
}

std::string utf8_encode(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6));
    out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3F));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
  return out;
}

std::string utf8_encode(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) out += utf8_encode(c);
  return out;
}

std::u32string nfd(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c >= kSBase && c < kSBase + kSCount) {
      const int s = int(c - kSBase);
      out.push_back(kLBase + s / (kVCount * kTCount));
      out.push_back(kVBase + (s % (kVCount * kTCount)) / kTCount);
      if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    } else if (const Mapping* m = find_mapping(kDecompositions, c)) {
      out.append(kDecompositionData + m->offset, m->length);
    } else {
      out.push_back(c);
    }
  }
  // Canonical ordering: each run of non-starters sorted stably by combining class.
  for (size_t i = 0; i < out.size();) {
    if (combining_class(out[i]) == 0) { ++i; continue; }
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    std::stable_sort(out.begin() + i, out.begin() + j, [](char32_t a, char32_t b) {
      return combining_class(a) < combining_class(b);
    });
    i = j;
  }
  return out;
}

std::u32string lowercase(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (const Mapping* m = find_mapping(kLowercase, c)) out.append(kLowercaseData + m->offset, m->length);
    else out.push_back(c);
  }
  return out;
}

}  // namespace neat
