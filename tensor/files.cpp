#include "tensor/files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tensor/check.h"

namespace neat {

std::string read_file(const std::string& path, const char* what) {
  const std::string file = what ? std::string("the ") + what + " file " + path : path;
  std::ifstream in(path, std::ios::binary);
  NEAT_CHECK(in.good(), "read ", file, ": cannot open: ", std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  NEAT_CHECK(!in.bad(), "read ", file, ": the read failed");
  return bytes.str();
}

bool file_exists(const std::string& path) {
  struct stat s;
  return ::stat(path.c_str(), &s) == 0;
}

}  // namespace neat
