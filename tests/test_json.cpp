// Tests for tensor/json.h: the header's example, every value kind, strict rejection of
// malformed text with the byte offset, escapes (\u plus four hex digits, surrogate pairs), and that numbers
// round-trip bit-exactly through dump() and parse().
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "tensor/json.h"
#include "tensor/random.h"

using neat::Json;
using neat::printable;

namespace {

std::string parse_error(const std::string& text) {
  try {
    Json::parse(text);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("json: the header example") {
  Json j = Json::parse(R"({"a": [1, 2.5, "x"], "b": true})");
  CHECK(j["a"][1].as_number() == 2.5);
  CHECK(j.contains("b"));
  CHECK(j["b"].as_bool());
  Json out = Json::object();
  out.set("acc", 0.93);
  out.set("name", "neat");
  CHECK(out.dump() == R"({"acc":0.93,"name":"neat"})");
  CHECK(out.dump(2) == "{\n  \"acc\": 0.93,\n  \"name\": \"neat\"\n}");
}

TEST_CASE("json: value kinds and typed access") {
  Json j = Json::parse(R"( {"n": null, "t": true, "f": false, "i": -42, "x": 1.5e-3,
                            "s": "hi", "arr": [], "obj": {}} )");
  CHECK(j["n"].is_null());
  CHECK(j["t"].as_bool() == true);
  CHECK(j["f"].as_bool() == false);
  CHECK(j["i"].as_int() == -42);
  CHECK(j["x"].as_number() == 1.5e-3);
  CHECK(j["s"].as_string() == "hi");
  CHECK(j["arr"].size() == 0);
  CHECK(j["obj"].size() == 0);
  CHECK(j.size() == 8);
  CHECK_THROWS_WITH_AS(j["s"].as_number(), doctest::Contains("json: expected a number, got a string"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(j["x"].as_int(), doctest::Contains("expected an integer"), std::runtime_error);
  CHECK_THROWS_WITH_AS(j["missing"], doctest::Contains("no key \"missing\""), std::runtime_error);
  CHECK_THROWS_WITH_AS(j["arr"][0], doctest::Contains("index 0 out of range"), std::runtime_error);
  CHECK(Json::parse("12345678901234").as_int() == 12345678901234);
}

TEST_CASE("json: malformed text names the problem and the byte offset") {
  CHECK(parse_error("") == "json: unexpected end of input at byte 0");
  CHECK(parse_error("{\"a\": 1,}") == "json: expected a string key at byte 8");
  CHECK(parse_error("[1, 2") == "json: expected ',' or ']' at byte 5");
  CHECK(parse_error("[1 2]") == "json: expected ',' or ']' at byte 3");
  CHECK(parse_error("{\"a\" 1}") == "json: expected ':' at byte 5");
  CHECK(parse_error("{\"a\": 1, \"a\": 2}") == "json: duplicate key \"a\" at byte 9");
  CHECK(parse_error("\"abc") == "json: unterminated string at byte 4");
  CHECK(parse_error("\"a\\qb\"") == "json: invalid escape at byte 3");
  CHECK(parse_error("\"\\u12G4\"") == "json: invalid \\u escape at byte 5");
  CHECK(parse_error("\"\\ud800\"") == "json: unpaired surrogate in \\u escape at byte 7");
  CHECK(parse_error("\"a\nb\"") == "json: control character in string at byte 2");
  CHECK(parse_error("tru") == "json: invalid literal, expected true at byte 3");
  CHECK(parse_error("01") == "json: unexpected trailing characters at byte 1");
  CHECK(parse_error("1.") == "json: expected a digit at byte 2");
  CHECK(parse_error("-") == "json: expected a digit at byte 1");
  CHECK(parse_error("1e999") == "json: number out of range at byte 0");
  CHECK(parse_error("{} x") == "json: unexpected trailing characters at byte 3");
  CHECK(parse_error("'a'") == "json: unexpected character ''' at byte 0");
  CHECK(parse_error(std::string(1000, '[')) == "json: nesting too deep at byte 513");
}

TEST_CASE("json: escapes round-trip, \\u escapes decode to UTF-8") {
  Json j = Json::parse(R"("q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20ac\ud83d\ude00")");
  CHECK(j.as_string() == "q\" b\\ s/ \b\f\n\r\t A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  std::string raw = std::string("ctl \x01 tab\t quote\" uni \xC3\xA9");
  std::string text = Json(raw).dump();
  CHECK(text == "\"ctl \\u0001 tab\\t quote\\\" uni \xC3\xA9\"");
  CHECK(Json::parse(text).as_string() == raw);
}

TEST_CASE("json: numbers round-trip bit-exactly; integers print without a point") {
  CHECK(Json(int64_t(3)).dump() == "3");
  CHECK(Json(-0.5).dump() == "-0.5");
  CHECK(Json(0.1).dump() == "0.1");
  CHECK(Json(1e300).dump() == "1e+300");
  CHECK(Json(0.1 + 0.2).dump() == "0.30000000000000004");   // needs all 17 digits
  neat::Generator gen(7);
  for (int i = 0; i < 1000; ++i) {
    double x = gen.normal() * std::pow(10.0, double(int(gen.below(40)) - 20));
    CHECK(Json::parse(Json(x).dump()).as_number() == x);
  }
  // Non-finite numbers are null (issue 25: a diverged run still writes results.json).
  CHECK(Json(std::nan("")).dump() == "null");
  CHECK(Json::array({Json(-HUGE_VAL), Json(1.5)}).dump() == "[null,1.5]");
}

TEST_CASE("json: nested structures survive dump and parse, compact and pretty") {
  Json inner = Json::array({Json(1), Json("two"), Json(), Json(false)});
  Json j = Json::object();
  j.set("list", inner);
  j.set("obj", Json::object());
  j.set("n", 2.25);
  for (int indent : {-1, 0, 4}) {
    Json back = Json::parse(j.dump(indent));
    CHECK(back.dump() == j.dump());
    CHECK(back["list"][1].as_string() == "two");
  }
}

TEST_CASE("json: printable keeps text and UTF-8, escapes every other byte") {
  CHECK(printable("plain text, 0-9 {}") == "plain text, 0-9 {}");
  CHECK(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(printable("\xff\n\t\x7f") == "\\xff\\x0a\\x09\\x7f");
  CHECK(printable("\xc3") == "\\xc3");                    // a sequence cut short
  CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");            // overlong '/'
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");   // a UTF-16 surrogate
  CHECK(printable("\xc2\x9b") == "\\xc2\\x9b");            // C1 control (CSI)
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK_THROWS_WITH_AS(Json::parse("\xff"), "json: unexpected character '\\xff' at byte 0",
                       std::runtime_error);
}
