#include "train/command.h"

#include <new>

#include "train/run_support.h"

namespace neat {

int run_command(ArgParser& args, const std::vector<std::string>& arguments, std::ostream& out,
                std::ostream& err, const std::function<int()>& body, const std::string& help_note,
                const std::function<std::string()>& memory_hint) {
  const std::string program = args.program();
  auto hint = [&] { return memory_hint ? memory_hint() : std::string(); };
  try {
    try {
      args.parse(arguments);
      if (args.help_requested()) {
        out << args.help() << help_note;
        return 0;
      }
      return body();
    } catch (const UsageError& e) {
      err << program << ": " << e.what() << "\n" << args.usage() << "\n";
      return 2;
    }
  } catch (const std::bad_alloc&) {
    err << program << ": error: out of memory" << (hint().empty() ? "" : ": " + hint()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    // An allocation refused by the tensor storage: add what the model needs.
    const bool memory = std::string(e.what()).find("out of memory") != std::string::npos;
    err << program << ": error: " << one_line(e.what())
        << (memory && !hint().empty() ? "; " + hint() : "") << "\n";
    return 1;
  }
}

}  // namespace neat
