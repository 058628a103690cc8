#include "text/byte_level.h"

#include <array>

#include "text/unicode.h"

namespace neat {

namespace {

bool printable(int x) {
  return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
}

// code point of each byte's symbol
const std::array<char32_t, 256>& byte_code_points() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    int shifted = 0;
    for (int b = 0; b < 256; ++b) t[b] = printable(b) ? char32_t(b) : char32_t(256 + shifted++);
    return t;
  }();
  return table;
}

}  // namespace

std::string byte_symbol(unsigned char b) { return utf8_encode(byte_code_points()[b]); }

std::string byte_level_encode(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += utf8_encode(byte_code_points()[b]);
  return out;
}

// The symbols are U+0021..U+00FF (themselves, less the 68 shifted) and U+0100..U+0143.
std::string byte_level_decode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : utf8_decode(text)) {
    if (c < 256 && printable(int(c))) {
      out += char(c);
    } else if (c >= 256 && c < 256 + 68) {
      int shifted = int(c) - 256;
      int b = 0;
      for (;; ++b) if (!printable(b) && shifted-- == 0) break;
      out += char(b);
    } else {
      out += utf8_encode(c);
    }
  }
  return out;
}

}  // namespace neat
