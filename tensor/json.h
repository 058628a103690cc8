// A small JSON value with a strict parser and a writer: safetensors headers, adapter metadata,
// results.json, configs. Parse errors name what is wrong and the byte offset.
//
//   Json j = Json::parse(R"({"a": [1, 2.5, "x"], "b": true})");
//   j["a"][1].as_number() == 2.5;   j.contains("b");   j["b"].as_bool();
//   Json out = Json::object();  out.set("acc", 0.93);  out.set("name", "neat");
//   out.dump(2);                    // pretty-printed text
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace neat {

class Json {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Json() = default;  // null
  Json(bool b);
  Json(double x);
  Json(int x);
  Json(int64_t x);
  Json(const char* s);
  Json(std::string s);
  static Json array(std::vector<Json> items = {});
  static Json object();
  // Throws std::runtime_error("json: <what> at byte <offset>") on malformed text.
  static Json parse(const std::string& text);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }
  // Typed access; throws naming the expected and actual kind.
  bool as_bool() const;
  double as_number() const;
  int64_t as_int() const;   // number that must be integral
  const std::string& as_string() const;
  const std::vector<Json>& as_array() const;
  // Object members in key order.
  const std::map<std::string, Json>& as_object() const;

  bool contains(const std::string& key) const;         // object only
  const Json& operator[](const std::string& key) const;  // throws naming the missing key
  const Json& operator[](size_t index) const;
  size_t size() const;                                  // array or object
  void set(const std::string& key, Json value);         // object only
  void push_back(Json value);                           // array only

  // Compact with indent < 0, else pretty with that many spaces. Numbers print with full
  // double precision (17 significant digits), integers without a decimal point; NaN and
  // infinities, which JSON cannot hold, as null (a diverged run's results stay readable).
  std::string dump(int indent = -1) const;

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::map<std::string, Json> object_;
};

// Bytes read from a file, made safe to show on a terminal: printable ASCII and well-formed
// UTF-8 are kept, every other byte (controls, 0xff, a broken sequence) becomes \xHH.
//   printable("caf\xc3\xa9 \xff\n") == "caf\xc3\xa9 \\xff\\x0a"   (the é is kept)
// The parser's errors and the safetensors reader's pass through it.
std::string printable(const std::string& bytes);

}  // namespace neat
