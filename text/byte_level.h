// GPT-2's byte-level alphabet (bytes_to_unicode): every byte stands for one printable
// character, so a byte-level BPE vocabulary spells any byte string with printable tokens. The
// 188 printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves,
// the other 68 bytes, in order, for U+0100, U+0101, ... (space -> 'Ġ' U+0120, '\n' -> 'Ċ').
//
//   byte_symbol(' ') == "Ġ";   byte_level_encode("a b") == "aĠb";
//   byte_level_decode("aĠb") == "a b";   // characters outside the alphabet stay as they are
#pragma once
#include <string>

namespace neat {

// The printable character standing for byte b, as UTF-8.
std::string byte_symbol(unsigned char b);
// Each byte of `bytes` replaced by its symbol.
std::string byte_level_encode(const std::string& bytes);
// The inverse: each symbol back to its byte; a character that stands for no byte (a special
// token's text) is copied as its UTF-8. `text` must be valid UTF-8 (error naming the offset).
std::string byte_level_decode(const std::string& text);

}  // namespace neat
