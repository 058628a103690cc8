// NEAT_CHECK(cond, parts...): throw std::runtime_error("op: parts... (file:line)") when cond is false.
// The one macro in the project: it only exists to capture __FILE__ and __LINE__.
//
//   NEAT_CHECK(a.shape() == b.shape(), "add: shapes ", shape_str(a.shape()), " and ",
//              shape_str(b.shape()), " do not match");
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace neat {

template <typename... Parts>
[[noreturn]] void throw_error(const char* file, int line, const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  message << " (" << file << ":" << line << ")";
  throw std::runtime_error(message.str());
}

}  // namespace neat

#define NEAT_CHECK(cond, ...)                                     \
  do {                                                            \
    if (!(cond)) ::neat::throw_error(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
