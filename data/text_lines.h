// The lines of a text file for the dataset readers (GLUE's .tsv, WordNet's data files, class
// name lists): numbered from 1, a trailing '\r' (CRLF files) and a leading UTF-8 byte order mark
// dropped, and every line checked to be UTF-8, so that a bad byte is an error naming the file,
// the line and the column, where the tokenizer would only know an offset into one text.
//
//   TextLines lines("data/glue/RTE/train.tsv", "glue");
//   std::string line;
//   while (lines.next(line)) {
//     if (bad) NEAT_CHECK(false, lines.where(column), ": ...");   // "glue: PATH: line 7, column 12"
//   }
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

namespace neat {

class TextLines {
 public:
  // `reader` prefixes every message ("glue"); a file that cannot be opened is an error naming
  // it, with `hint` (e.g. how to fetch it) when given.
  TextLines(const std::string& path, const std::string& reader, const std::string& hint = "");
  // The next line, or false at the end. Invalid UTF-8 is an error: "<reader>: PATH: line N,
  // column C: invalid byte 0xFF (the file is not UTF-8)"; columns count bytes from 1.
  bool next(std::string& line);
  int64_t number() const { return number_; }  // the line last read (0 before the first)
  const std::string& path() const { return path_; }
  // "<reader>: PATH: line N" and, given a 0-based byte offset into the line, ", column C".
  std::string where(size_t offset = std::string::npos) const;

 private:
  std::ifstream in_;
  std::string path_, reader_;
  int64_t number_ = 0;
  size_t bom_ = 0;  // bytes of a byte order mark dropped from line 1
};

}  // namespace neat
