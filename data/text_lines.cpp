#include "data/text_lines.h"

#include "tensor/check.h"
#include "text/unicode.h"

namespace neat {

TextLines::TextLines(const std::string& path, const std::string& reader, const std::string& hint)
    : in_(path, std::ios::binary), path_(path), reader_(reader) {
  NEAT_CHECK(in_.good(), reader, ": cannot open ", path, hint.empty() ? "" : " (" + hint + ")");
}

bool TextLines::next(std::string& line) {
  if (!std::getline(in_, line)) return false;
  ++number_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (number_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) {  // a byte order mark
    line.erase(0, 3);
    bom_ = 3;
  }
  const Utf8Error bad = find_invalid_utf8(line);
  NEAT_CHECK(bad.offset == std::string::npos, where(bad.offset), ": ", bad.what,
             " (the file is not UTF-8)");
  return true;
}

std::string TextLines::where(size_t offset) const {
  std::string s = reader_ + ": " + path_ + ": line " + std::to_string(number_);
  const size_t shift = number_ == 1 ? bom_ : 0;  // columns count the file's bytes
  if (offset != std::string::npos) s += ", column " + std::to_string(offset + shift + 1);
  return s;
}

}  // namespace neat
