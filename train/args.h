// ArgParser: the command-line flags of train_vit and vit_step, declared once as a table, so
// that --help, the usage line, parsing, value checks and the `config` block of results.json
// all come from the same entries.
//
//   ArgParser args("train_vit", "[--method M] [--data D] [options]", "Fine-tune a Vision Transformer.");
//   int64_t epochs = 10;  std::string method = "neat";
//   args.section("Training");
//   args.add("--epochs", &epochs, "N", "passes over the training set");
//   args.add("--method", &method, "neat|lora|head|full", "what trains", {"neat", "lora", "head", "full"});
//   args.parse({"--epochs", "3"});     // throws UsageError("--epochs: 'x' is not an integer")
//   args.was_set("--epochs");          // true when given on the command line
//   args.help();                       // every flag with its default
//
// Flags take their value as the next argument or after '=' (--epochs=3). Switches take none.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/json.h"

namespace neat {

// A bad command line: the program prints the message and the usage line, then exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ArgParser {
 public:
  // synopsis: the short form shown after the program name in the usage line.
  ArgParser(std::string program, std::string synopsis, std::string summary);

  // Starts a titled group of flags in --help.
  void section(const std::string& title);
  // Each flag's default is the target's value when it is added. `choices`, when given, are the
  // only accepted values.
  void add(const std::string& flag, int64_t* target, const std::string& meta,
           const std::string& help);
  void add(const std::string& flag, double* target, const std::string& meta,
           const std::string& help);
  void add(const std::string& flag, std::string* target, const std::string& meta,
           const std::string& help, std::vector<std::string> choices = {});
  void add_switch(const std::string& flag, bool* target, const std::string& help);
  // A flag followed by one or more values, up to the next argument that starts with "--"
  // (--predict a.png b.jpg); given again, its values are appended.
  void add_list(const std::string& flag, std::vector<std::string>* target, const std::string& meta,
                const std::string& help);

  // Parses the arguments after the program name; "--help" / "-h" set help_requested() and
  // stop. Throws UsageError.
  void parse(const std::vector<std::string>& arguments);
  bool help_requested() const { return help_requested_; }
  bool was_set(const std::string& flag) const;

  const std::string& program() const { return program_; }
  std::string usage() const;   // "usage: train_vit <synopsis>  (train_vit --help lists every flag)"
  std::string help() const;    // summary, usage, and every flag with help and default
  // {"method": "neat", "epochs": 10, ...}: every flag's current value, keyed without "--".
  Json values() const;
  // For --resume: every flag takes its value from `saved` (an earlier values()). A flag in
  // `free` given on this command line keeps this command line's value (e.g. --threads); any
  // other flag given here with a value other than the saved one is a UsageError naming both.
  // A flag missing from `saved` keeps its value.
  void restore(const Json& saved, const std::vector<std::string>& free);

 private:
  struct Flag {
    std::string name, meta, help, default_text;
    bool is_switch = false;
    bool is_list = false;
    bool set = false;
    std::function<void(const std::string&)> assign;   // parse and store, or throw UsageError
    std::function<Json()> value;
    std::function<void(const Json&)> load;
  };
  Flag& add_flag(const std::string& flag, const std::string& meta, const std::string& help);
  std::string program_, synopsis_, summary_;
  std::vector<Flag> flags_;
  std::vector<std::pair<size_t, std::string>> sections_;   // (first flag index, title)
  bool help_requested_ = false;
};

}  // namespace neat
