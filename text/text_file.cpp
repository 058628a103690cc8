#include "text/text_file.h"

#include <fstream>
#include <sstream>

#include "tensor/check.h"

namespace neat {

std::string read_text_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  NEAT_CHECK(in.good(), "cannot open the ", what, " file ", path);
  std::ostringstream s;
  s << in.rdbuf();
  NEAT_CHECK(!in.bad(), "reading the ", what, " file ", path, " failed");
  return s.str();
}

}  // namespace neat
