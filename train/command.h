// A command-line program's main, shared by every program in train/ (train_vit, train_text,
// vit_step, text_step): parse the flags, --help, run, and turn errors into exit codes.
//
//   ArgParser args("vit_step", "--batch FILE --out FILE", "One forward and backward.");
//   return run_command(args, out, err, [&] { check(); return run(); });
//
// Exit codes: what body returns; 2 for a bad command line (UsageError: the reason, then the
// usage line); 1 for any other error (one line, "program: error: ...", with explain's text
// added to an out-of-memory error). --help prints args.help() and help_note, then exits 0.
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "train/args.h"

namespace neat {

int run_command(ArgParser& args, const std::vector<std::string>& arguments, std::ostream& out,
                std::ostream& err, const std::function<int()>& body,
                const std::string& help_note = "",
                const std::function<std::string()>& memory_hint = nullptr);

}  // namespace neat
