// The Unicode pieces the tokenizers need: UTF-8 decoding and encoding, a coarse general
// category, canonical decomposition (NFD) and per-character lowercasing. The data comes from
// text/unicode_tables.inc, generated from Python's unicodedata by
// scripts/gen_unicode_tables.py (NEAT_UNICODE_VERSION names the Unicode version).
//
//   std::u32string s = utf8_decode("Héllo");     // invalid UTF-8: error naming the byte
//   nfd(s);                                        // U"He\u0301llo"
//   char_class(U'\u0301') == CharClass::kNonspacingMark;
//   utf8_encode(lowercase(s)) == "he\u0301llo";
#pragma once
#include <string>

namespace neat {

// Coarse general categories: letters L*, marks Mn / (Mc, Me), numbers N*, punctuation P*,
// symbols S*, Zs, (Zl, Zp), other C* (Cc, Cf, Co, Cs) and unassigned Cn.
enum class CharClass : unsigned char {
  kLetter, kNonspacingMark, kOtherMark, kNumber, kPunctuation, kSymbol, kSpaceSeparator,
  kOtherSeparator, kOther, kUnassigned
};

CharClass char_class(char32_t c);
// Canonical combining class (0 for starters).
int combining_class(char32_t c);
// Unicode's White_Space property (what Rust's char::is_whitespace and regex \s test):
// U+0009-000D, space, U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F,
// U+3000.
bool is_white_space(char32_t c);

// Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF): error naming the byte offset.
std::u32string utf8_decode(const std::string& text);
// The first invalid sequence of text without throwing (for readers that name the file, line
// and column): its byte offset and what is wrong ("invalid byte 0xFF"); offset npos when the
// whole text is valid UTF-8.
struct Utf8Error {
  size_t offset = std::string::npos;
  std::string what;
};
Utf8Error find_invalid_utf8(const std::string& text);
std::string utf8_encode(const std::u32string& text);
std::string utf8_encode(char32_t c);

// Canonical decomposition then canonical ordering of combining marks (Unicode NFD).
std::u32string nfd(const std::u32string& text);
// Each character's full lowercase mapping, without context (as Rust's char::to_lowercase:
// U+03A3 always becomes U+03C3).
std::u32string lowercase(const std::u32string& text);

}  // namespace neat
