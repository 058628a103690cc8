#include "tensor/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tensor/check.h"

namespace neat {

Json::Json(bool b) : kind_(Kind::Bool), bool_(b) {}
Json::Json(double x) : kind_(Kind::Number), number_(x) {}
Json::Json(int x) : kind_(Kind::Number), number_(x) {}
Json::Json(int64_t x) : kind_(Kind::Number), number_(double(x)) {}
Json::Json(const char* s) : kind_(Kind::String), string_(s) {}
Json::Json(std::string s) : kind_(Kind::String), string_(std::move(s)) {}

Json Json::array(std::vector<Json> items) {
  Json j;
  j.kind_ = Kind::Array;
  j.array_ = std::move(items);
  return j;
}

Json Json::object() {
  Json j;
  j.kind_ = Kind::Object;
  return j;
}

// ---- typed access --------------------------------------------------------------------------

static const char* kind_name(Json::Kind k) {
  switch (k) {
    case Json::Kind::Null: return "null";
    case Json::Kind::Bool: return "bool";
    case Json::Kind::Number: return "number";
    case Json::Kind::String: return "string";
    case Json::Kind::Array: return "array";
    case Json::Kind::Object: return "object";
  }
  return "?";
}

static void expect_kind(Json::Kind want, Json::Kind got) {
  NEAT_CHECK(want == got, "json: expected a ", kind_name(want), ", got a ", kind_name(got));
}

bool Json::as_bool() const { expect_kind(Kind::Bool, kind_); return bool_; }
double Json::as_number() const { expect_kind(Kind::Number, kind_); return number_; }
const std::string& Json::as_string() const { expect_kind(Kind::String, kind_); return string_; }
const std::vector<Json>& Json::as_array() const { expect_kind(Kind::Array, kind_); return array_; }
const std::map<std::string, Json>& Json::as_object() const {
  expect_kind(Kind::Object, kind_);
  return object_;
}

int64_t Json::as_int() const {
  double x = as_number();
  // 2^63 is the first double past int64's range.
  NEAT_CHECK(std::floor(x) == x && x >= -9223372036854775808.0 && x < 9223372036854775808.0,
             "json: expected an integer, got ", dump());
  return int64_t(x);
}

bool Json::contains(const std::string& key) const { return as_object().count(key) > 0; }

const Json& Json::operator[](const std::string& key) const {
  auto it = as_object().find(key);
  NEAT_CHECK(it != object_.end(), "json: no key \"", printable(key), "\"");
  return it->second;
}

const Json& Json::operator[](size_t index) const {
  const auto& items = as_array();
  NEAT_CHECK(index < items.size(), "json: index ", index, " out of range for an array of ",
             items.size());
  return items[index];
}

size_t Json::size() const {
  if (kind_ == Kind::Array) return array_.size();
  return as_object().size();
}

void Json::set(const std::string& key, Json value) {
  expect_kind(Kind::Object, kind_);
  object_[key] = std::move(value);
}

void Json::push_back(Json value) {
  expect_kind(Kind::Array, kind_);
  array_.push_back(std::move(value));
}

// ---- parser: recursive descent over RFC 8259, nothing lenient -------------------------------

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Json parse_document() {
    Json value = parse_value(0);
    skip_whitespace();
    if (pos_ != s_.size()) fail("unexpected trailing characters");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 512;  // bounds the recursion on hostile input

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("json: " + printable(what) + " at byte " + std::to_string(pos_));
  }

  void skip_whitespace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  void expect_literal(const char* word) {
    for (const char* c = word; *c; ++c, ++pos_)
      if (pos_ >= s_.size() || s_[pos_] != *c) fail(std::string("invalid literal, expected ") + word);
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    skip_whitespace();
    if (pos_ >= s_.size()) fail("unexpected end of input");
    char c = s_[pos_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Json(parse_string());
    if (c == 't') { expect_literal("true"); return Json(true); }
    if (c == 'f') { expect_literal("false"); return Json(false); }
    if (c == 'n') { expect_literal("null"); return Json(); }
    if (c == '-' || (c >= '0' && c <= '9')) return Json(parse_number());
    fail(std::string("unexpected character '") + c + "'");
  }

  Json parse_object(int depth) {
    Json obj = Json::object();
    ++pos_;  // '{'
    skip_whitespace();
    if (peek() == '}') { ++pos_; return obj; }
    while (true) {
      skip_whitespace();
      if (peek() != '"') fail("expected a string key");
      size_t key_pos = pos_;
      std::string key = parse_string();
      if (obj.contains(key)) {
        pos_ = key_pos;
        fail("duplicate key \"" + key + "\"");
      }
      skip_whitespace();
      if (peek() != ':') fail("expected ':'");
      ++pos_;
      obj.set(key, parse_value(depth + 1));
      skip_whitespace();
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == '}') { ++pos_; return obj; }
      fail("expected ',' or '}'");
    }
  }

  Json parse_array(int depth) {
    Json arr = Json::array();
    ++pos_;  // '['
    skip_whitespace();
    if (peek() == ']') { ++pos_; return arr; }
    while (true) {
      arr.push_back(parse_value(depth + 1));
      skip_whitespace();
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == ']') { ++pos_; return arr; }
      fail("expected ',' or ']'");
    }
  }

  // Grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  double parse_number() {
    size_t start = pos_;
    auto digits = [&] {
      size_t first = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == first) fail("expected a digit");
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') ++pos_;
    else digits();
    if (peek() == '.') { ++pos_; digits(); }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      digits();
    }
    double x = std::strtod(s_.substr(start, pos_ - start).c_str(), nullptr);
    if (!std::isfinite(x)) {
      pos_ = start;
      fail("number out of range");
    }
    return x;
  }

  uint32_t parse_hex4() {
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      char c = peek();
      code <<= 4;
      if (c >= '0' && c <= '9') code |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') code |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') code |= uint32_t(c - 'A' + 10);
      else fail("invalid \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_];
      if (c == '"') { ++pos_; return out; }
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') { out += c; ++pos_; continue; }
      ++pos_;
      char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
            if (peek() != '\\' || pos_ + 1 >= s_.size() || s_[pos_ + 1] != 'u')
              fail("unpaired surrogate in \\u escape");
            pos_ += 2;
            uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --pos_;
          fail("invalid escape");
      }
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

Json Json::parse(const std::string& text) { return Parser(text).parse_document(); }

// ---- writer ----------------------------------------------------------------------------------

static void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
          out += buf;
        } else {
          out += c;  // UTF-8 bytes pass through unchanged
        }
    }
  }
  out += '"';
}

static void dump_number(std::string& out, double x) {
  if (!std::isfinite(x)) {   // JSON has no NaN or infinity: null, as Python's json does not
    out += "null";
    return;
  }
  char buf[32];
  if (std::floor(x) == x && std::fabs(x) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", x);
  } else {
    // The shortest of 15, 16, 17 significant digits that reads back as the same double
    // (17 always does): 0.1 prints as 0.1, not 0.10000000000000001.
    for (int digits = 15; digits <= 17; ++digits) {
      std::snprintf(buf, sizeof buf, "%.*g", digits, x);
      if (std::strtod(buf, nullptr) == x) break;
    }
  }
  out += buf;
}

static void dump_value(std::string& out, const Json& j, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent * lvl), ' ');
  };
  switch (j.kind()) {
    case Json::Kind::Null: out += "null"; return;
    case Json::Kind::Bool: out += j.as_bool() ? "true" : "false"; return;
    case Json::Kind::Number: dump_number(out, j.as_number()); return;
    case Json::Kind::String: dump_string(out, j.as_string()); return;
    case Json::Kind::Array: {
      const auto& items = j.as_array();
      if (items.empty()) { out += "[]"; return; }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        dump_value(out, items[i], indent, level + 1);
      }
      newline(level);
      out += ']';
      return;
    }
    case Json::Kind::Object: {
      const auto& members = j.as_object();
      if (members.empty()) { out += "{}"; return; }
      out += '{';
      bool first = true;
      for (const auto& [key, value] : members) {
        if (!first) out += ',';
        first = false;
        newline(level + 1);
        dump_string(out, key);
        out += indent < 0 ? ":" : ": ";
        dump_value(out, value, indent, level + 1);
      }
      newline(level);
      out += '}';
      return;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_value(out, *this, indent, 0);
  return out;
}

// The length of the well-formed UTF-8 sequence at s[i] (2-4 bytes, no overlong forms, no
// surrogates, at most U+10FFFF, no C1 controls), or 0.
static size_t utf8_sequence(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  const size_t n = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t code = b & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = code << 6 | (byte(i + k) & 0x3F);
  }
  const uint32_t smallest = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
  const bool ok = code >= smallest && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF) &&
                  !(code >= 0x80 && code <= 0x9F);
  return ok ? n : 0;
}

std::string printable(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += char(c);
      ++i;
    } else if (const size_t n = c >= 0x80 ? utf8_sequence(bytes, i) : 0) {
      out.append(bytes, i, n);
      i += n;
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

}  // namespace neat
