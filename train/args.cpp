#include "train/args.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tensor/check.h"

namespace neat {

namespace {

std::string format_number(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", x);
  return buffer;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

// Help text starts at this column and wraps at kHelpWidth.
const size_t kHelpColumn = 30, kHelpWidth = 100;

// Breaks text into lines of at most kHelpWidth - kHelpColumn characters at spaces, indenting
// the continuation lines to kHelpColumn.
std::string wrap(const std::string& text) {
  const size_t width = kHelpWidth - kHelpColumn;
  std::string out, line;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(kHelpColumn, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

}  // namespace

ArgParser::ArgParser(std::string program, std::string synopsis, std::string summary)
    : program_(std::move(program)), synopsis_(std::move(synopsis)), summary_(std::move(summary)) {}

void ArgParser::section(const std::string& title) { sections_.emplace_back(flags_.size(), title); }

ArgParser::Flag& ArgParser::add_flag(const std::string& flag, const std::string& meta,
                                     const std::string& help) {
  for (const Flag& f : flags_) {
    NEAT_CHECK(f.name != flag, "ArgParser: flag ", flag, " declared twice");
  }
  flags_.push_back(Flag{flag, meta, help, "", false, false, false, nullptr, nullptr, nullptr});
  return flags_.back();
}

void ArgParser::add(const std::string& flag, int64_t* target, const std::string& meta,
                    const std::string& help) {
  Flag& f = add_flag(flag, meta, help);
  f.default_text = std::to_string(*target);
  f.assign = [flag, target](const std::string& text) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0)
      throw UsageError(flag + ": '" + text + "' is not an integer");
    *target = v;
  };
  f.value = [target] { return Json(*target); };
  f.load = [target](const Json& j) { *target = j.as_int(); };
}

void ArgParser::add(const std::string& flag, double* target, const std::string& meta,
                    const std::string& help) {
  Flag& f = add_flag(flag, meta, help);
  f.default_text = format_number(*target);
  f.assign = [flag, target](const std::string& text) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(v))
      throw UsageError(flag + ": '" + text + "' is not a finite number");
    *target = v;
  };
  f.value = [target] { return Json(*target); };
  f.load = [target](const Json& j) { *target = j.as_number(); };
}

void ArgParser::add(const std::string& flag, std::string* target, const std::string& meta,
                    const std::string& help, std::vector<std::string> choices) {
  Flag& f = add_flag(flag, meta, help);
  f.default_text = target->empty() ? "none" : *target;
  f.assign = [flag, target, choices](const std::string& text) {
    bool ok = choices.empty();
    for (const std::string& c : choices) ok = ok || c == text;
    if (!ok) throw UsageError(flag + ": '" + text + "' is not one of " + join(choices, ", "));
    *target = text;
  };
  f.value = [target] { return Json(*target); };
  f.load = [target](const Json& j) { *target = j.as_string(); };
}

void ArgParser::add_switch(const std::string& flag, bool* target, const std::string& help) {
  Flag& f = add_flag(flag, "", help);
  f.is_switch = true;
  f.default_text = *target ? "on" : "off";
  f.assign = [target](const std::string&) { *target = true; };
  f.value = [target] { return Json(*target); };
  f.load = [target](const Json& j) { *target = j.as_bool(); };
}

void ArgParser::add_list(const std::string& flag, std::vector<std::string>* target,
                         const std::string& meta, const std::string& help) {
  Flag& f = add_flag(flag, meta, help);
  f.is_list = true;
  f.default_text = "none";
  f.assign = [target](const std::string& text) { target->push_back(text); };
  f.value = [target] {
    Json items = Json::array();
    for (const std::string& item : *target) items.push_back(item);
    return items;
  };
  f.load = [target](const Json& j) {
    target->clear();
    for (const Json& item : j.as_array()) target->push_back(item.as_string());
  };
}

void ArgParser::parse(const std::vector<std::string>& arguments) {
  const size_t argc = arguments.size();
  for (size_t i = 0; i < argc; ++i) {
    const std::string& arg = arguments[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return;
    }
    std::string name = arg, text;
    const size_t eq = arg.find('=');
    const bool inline_value = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) name = arg.substr(0, eq), text = arg.substr(eq + 1);
    Flag* flag = nullptr;
    for (Flag& f : flags_)
      if (f.name == name) flag = &f;
    if (!flag) {
      throw UsageError(arg.rfind("-", 0) == 0 ? "unknown flag " + name
                                              : "unexpected argument '" + arg + "'");
    }
    if (flag->is_list) {
      const size_t at = i;
      if (inline_value) flag->assign(text);
      while (i + 1 < argc && arguments[i + 1].rfind("--", 0) != 0) flag->assign(arguments[++i]);
      if (!inline_value && i == at)
        throw UsageError(name + " needs at least one value (" + flag->meta + ")");
      flag->set = true;
      continue;
    }
    if (flag->is_switch) {
      if (inline_value) throw UsageError(name + " takes no value");
    } else if (!inline_value) {
      if (i + 1 >= argc) throw UsageError(name + " needs a value (" + flag->meta + ")");
      text = arguments[++i];
    }
    flag->assign(text);
    flag->set = true;
  }
}

bool ArgParser::was_set(const std::string& flag) const {
  for (const Flag& f : flags_)
    if (f.name == flag) return f.set;
  NEAT_CHECK(false, "ArgParser::was_set: no flag ", flag);
  return false;
}

std::string ArgParser::usage() const {
  return "usage: " + program_ + " " + synopsis_ + "  (" + program_ + " --help lists every flag)";
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << summary_ << "\n\n" << usage() << "\n";
  size_t next_section = 0;
  for (size_t i = 0; i < flags_.size(); ++i) {
    while (next_section < sections_.size() && sections_[next_section].first == i)
      out << "\n" << sections_[next_section++].second << ":\n";
    const Flag& f = flags_[i];
    std::string left = "  " + f.name + (f.is_switch ? "" : " " + f.meta);
    if (left.size() < kHelpColumn) left.resize(kHelpColumn, ' ');
    else left += "\n" + std::string(kHelpColumn, ' ');
    out << left << wrap(f.help + " (default: " + f.default_text + ")") << "\n";
  }
  return out.str();
}

Json ArgParser::values() const {
  Json out = Json::object();
  for (const Flag& f : flags_) out.set(f.name.substr(2), f.value());
  return out;
}

void ArgParser::restore(const Json& saved, const std::vector<std::string>& free) {
  for (Flag& f : flags_) {
    const std::string key = f.name.substr(2);
    bool is_free = false;
    for (const std::string& name : free) is_free = is_free || name == f.name;
    if (!saved.contains(key) || (is_free && f.set)) continue;
    if (f.set && f.value().dump() != saved[key].dump()) {
      throw UsageError(f.name + " " + f.value().dump() + " differs from the resumed run's " +
                       saved[key].dump() + " (leave it out to continue the run as it was)");
    }
    f.load(saved[key]);
  }
}

}  // namespace neat
