// Tests for text/: UTF-8, the Unicode tables (categories, NFD, lowercase), WordPiece and
// byte-level BPE pieces on hand-checked examples, pairs / truncation / padding, clear errors,
// and agreement with Hugging Face `tokenizers` on the committed tricky strings
// (tests/parity/tokenizer/reference.json, made by tests/parity/make_tokenizer_reference.py).
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tensor/json.h"
#include "tests/op_test_util.h"
#include "text/bpe.h"
#include "text/unicode.h"
#include "text/wordpiece.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

const char* kDir = "tests/parity/tokenizer/";

Json reference() {
  std::ifstream in(std::string(kDir) + "reference.json", std::ios::binary);
  REQUIRE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  return Json::parse(s.str());
}

std::vector<int64_t> int_list(const Json& array) {
  std::vector<int64_t> out;
  for (const Json& x : array.as_array()) out.push_back(x.as_int());
  return out;
}

const WordPieceTokenizer& uncased() {
  static const WordPieceTokenizer tok =
      WordPieceTokenizer::from_file(std::string(kDir) + "bert_uncased_vocab.txt");
  return tok;
}

const ByteLevelBPE& bpe() {
  static const ByteLevelBPE tok = ByteLevelBPE::from_files(
      std::string(kDir) + "bpe_vocab.json", std::string(kDir) + "bpe_merges.txt");
  return tok;
}

std::vector<std::string> words(std::initializer_list<const char*> w) { return {w.begin(), w.end()}; }

}  // namespace

TEST_CASE("unicode: UTF-8 round trip and errors") {
  const std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a é 中 😀
  std::u32string s = utf8_decode(text);
  CHECK(s == std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600});
  CHECK(utf8_encode(s) == text);
  CHECK(mentions(thrown_message([] { utf8_decode("ab\xFF"); }), {"invalid byte 0xFF at offset 2"}));
  CHECK(mentions(thrown_message([] { utf8_decode("\xC0\xAF"); }), {"invalid code point 0x2F"}));
  CHECK(mentions(thrown_message([] { utf8_decode("\xED\xA0\x80"); }), {"0xD800"}));
  CHECK(mentions(thrown_message([] { utf8_decode("\xE4\xB8"); }), {"offset 0"}));
}

TEST_CASE("unicode: categories, NFD with canonical order, lowercase") {
  CHECK(char_class(U'a') == CharClass::kLetter);
  CHECK(char_class(0x0301) == CharClass::kNonspacingMark);
  CHECK(char_class(U'7') == CharClass::kNumber);
  CHECK(char_class(0x00BD) == CharClass::kNumber);  // ½
  CHECK(char_class(U'!') == CharClass::kPunctuation);
  CHECK(char_class(U'$') == CharClass::kSymbol);
  CHECK(char_class(0x3000) == CharClass::kSpaceSeparator);
  CHECK(char_class(0x200B) == CharClass::kOther);     // zero width space: Cf
  CHECK(char_class(0x0378) == CharClass::kUnassigned);
  CHECK(nfd(U"\u00E9") == U"e\u0301");
  CHECK(nfd(U"\u1E69") == U"s\u0323\u0307");          // ṩ: dot below (220) before dot above (230)
  CHECK(nfd(U"x\u0307\u0323") == U"x\u0323\u0307");   // reordered by combining class
  CHECK(nfd(U"\uD55C") == U"\u1112\u1161\u11AB");     // 한: Hangul by arithmetic
  CHECK(nfd(U"\uAC00") == U"\u1100\u1161");           // 가: no trailing consonant
  CHECK(lowercase(U"ÀB\u0130\u03A3") == U"àbi\u0307\u03C3");
}

TEST_CASE("wordpiece: basic tokenisation and greedy longest match") {
  const WordPieceTokenizer& tok = uncased();
  CHECK(tok.vocab_size() == 30522);
  CHECK(tok.basic_tokenize("Héllo, WORLD!") == words({"hello", ",", "world", "!"}));
  CHECK(tok.basic_tokenize("中文and\tx\u200By") == words({"中", "文", "and", "xy"}));
  CHECK(tok.basic_tokenize("$5+3") == words({"$", "5", "+", "3"}));
  CHECK(tok.tokenize("unaffable") == words({"una", "##ffa", "##ble"}));
  CHECK(tok.tokenize(std::string(101, 'b')) == words({"[UNK]"}));
  CHECK(tok.tokenize(std::string(100, 'a')).size() > 1);  // 100 characters still split
  WordPieceOptions cased;
  cased.lowercase = false;
  WordPieceTokenizer keep = WordPieceTokenizer::from_file(std::string(kDir) + "bert_uncased_vocab.txt", cased);
  CHECK(keep.basic_tokenize("Héllo") == words({"Héllo"}));
  CHECK(mentions(thrown_message([] { WordPieceTokenizer::from_file("/nonexistent/vocab.txt"); }),
                 {"cannot open", "/nonexistent/vocab.txt"}));
  CHECK(mentions(thrown_message([] { WordPieceTokenizer({"a", "[UNK]", "a"}); }),
                 {"'a' appears twice"}));
  CHECK(mentions(thrown_message([] { WordPieceTokenizer({"a", "[UNK]"}); }),
                 {"no special token '[CLS]'"}));
}

TEST_CASE("bpe: merges, unknown symbols, a bad merges file") {
  ByteLevelBPE tiny({{"<s>", 0}, {"</s>", 1}, {"<pad>", 2}, {"a", 3}, {"b", 4}, {"ab", 5},
                     {"abb", 6}},
                    {{"a", "b"}, {"ab", "b"}});
  CHECK(tiny.tokenize("abbab") == words({"abb", "ab"}));
  CHECK(mentions(thrown_message([&] { tiny.ids("c"); }), {"'c' is not in the vocabulary"}));
  const std::string bad = "/tmp/neat_test_bad_merges.txt";
  std::ofstream(bad) << "#version: 0.2\na b\nnot-a-pair\n";
  CHECK(mentions(thrown_message([&] {
                   ByteLevelBPE::from_files(std::string(kDir) + "bpe_vocab.json", bad);
                 }),
                 {bad, "line 3", "not-a-pair"}));
  std::remove(bad.c_str());
}

TEST_CASE("encoding: pairs, token types, longest-first truncation, padding") {
  SpecialTokens bert{101, 102, 0, false}, roberta{0, 2, 1, true};
  std::vector<int64_t> a{1, 2, 3, 4, 5, 6}, b{7, 8};
  Encoding e = build_inputs(a, &b, bert);
  CHECK(e.ids == std::vector<int64_t>{101, 1, 2, 3, 4, 5, 6, 102, 7, 8, 102});
  CHECK(e.type_ids == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1});
  Encoding r = build_inputs(a, &b, roberta, 9);  // 5 for the tokens: the longer gives way
  CHECK(r.ids == std::vector<int64_t>{0, 1, 2, 3, 2, 2, 7, 8, 2});
  CHECK(r.type_ids == std::vector<int64_t>(9, 0));
  Encoding even = build_inputs(a, &a, bert, 8);  // both long: 5 -> 2 and 3
  CHECK(even.ids == std::vector<int64_t>{101, 1, 2, 102, 1, 2, 3, 102});
  Encoding single = build_inputs(a, nullptr, bert, 4);
  CHECK(single.ids == std::vector<int64_t>{101, 1, 2, 102});
  pad_to(single, 6, 0);
  CHECK(single.ids == std::vector<int64_t>{101, 1, 2, 102, 0, 0});
  CHECK(single.attention_mask == std::vector<int64_t>{1, 1, 1, 1, 0, 0});
  CHECK(mentions(thrown_message([&] { build_inputs(a, &b, bert, 3); }),
                 {"max_len 3 leaves no room", "3 special tokens"}));
}

TEST_CASE("tokenizers agree with Hugging Face tokenizers on the tricky strings") {
  Json ref = reference();
  int checked = 0, exact = 0;
  auto compare = [&](const std::string& what, const Encoding& got, const Json& expected) {
    ++checked;
    const bool same = got.ids == int_list(expected["ids"]) &&
                      got.type_ids == int_list(expected["type_ids"]);
    exact += same;
    CHECK_MESSAGE(same, what);
  };
  const std::string vocab = std::string(kDir) + "bert_uncased_vocab.txt";
  const std::map<std::string, std::pair<bool, int>> configs = {
      {"uncased", {true, -1}}, {"cased", {false, 0}}, {"lower_keep_accents", {true, 0}}};
  for (const auto& [name, config] : configs) {
    WordPieceOptions options;
    options.lowercase = config.first;
    options.strip_accents = config.second;
    WordPieceTokenizer tok = WordPieceTokenizer::from_file(vocab, options);
    for (const Json& item : ref["wordpiece"][name].as_array()) {
      const std::string& text = item["text"].as_string();
      compare("wordpiece " + name + ": '" + text + "'", tok.encode(text), item);
    }
  }
  for (const Json& item : ref["wordpiece_pairs"].as_array()) {
    const std::string& b = item["b"].as_string();
    compare("wordpiece pair: '" + item["a"].as_string() + "'",
            uncased().encode(item["a"].as_string(), &b, item["max_len"].as_int()), item);
  }
  for (const Json& item : ref["bpe"].as_array())
    compare("bpe: '" + item["text"].as_string() + "'", bpe().encode(item["text"].as_string()), item);
  for (const Json& item : ref["bpe_pairs"].as_array()) {
    const std::string& b = item["b"].as_string();
    compare("bpe pair: '" + item["a"].as_string() + "'",
            bpe().encode(item["a"].as_string(), &b, item["max_len"].as_int()), item);
  }
  MESSAGE("tokenizer agreement with HF tokenizers ", ref["tokenizers_version"].as_string(), ": ",
          exact, " / ", checked, " exact");
  CHECK(checked == 3 * 60 + 7 + 60 + 7);
}
