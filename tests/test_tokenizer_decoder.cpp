// Tests for the decoder-model tokenizers in text/: the byte-level alphabet, the GPT-2, LLaMA-3
// and SmolLM pre-tokenizers on hand-checked strings, the merge loop (ranks and scores), added
// tokens, SentencePiece byte fallback, the tokenizer.json loader's errors, ChatML, and agreement
// with Hugging Face `tokenizers` (ids, ids without parsing special tokens, decoding with and
// without them) for the four tiny tokenizers in tests/parity/decoder_tokenizer/, made by
// tests/parity/make_decoder_tokenizer_reference.py.
#include <doctest/doctest.h>

#include "tensor/json.h"
#include "tests/op_test_util.h"
#include "text/added_tokens.h"
#include "text/bpe_merge.h"
#include "text/bpe_tokenizer.h"
#include "text/byte_level.h"
#include "text/chat_template.h"
#include "text/pretokenize.h"
#include "tensor/files.h"
#include "text/tokenizer_json.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

const std::string kDir = "tests/parity/decoder_tokenizer/";

using Words = std::vector<std::string>;

std::vector<int64_t> int_list(const Json& array) {
  std::vector<int64_t> out;
  for (const Json& x : array.as_array()) out.push_back(x.as_int());
  return out;
}

// A SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens, then `pieces` with `scores`.
BPEVocab sentencepiece_vocab(const Words& pieces, const std::vector<float>& piece_scores) {
  BPEVocab v;
  v.kind = BPEKind::kSentencePiece;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.tokens.push_back(name);
    v.types.push_back(TokenType::kByte);
  }
  v.scores.assign(v.tokens.size(), 0.0f);
  for (size_t i = 0; i < pieces.size(); ++i) {
    v.tokens.push_back(pieces[i]);
    v.types.push_back(TokenType::kNormal);
    v.scores.push_back(piece_scores[i]);
  }
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  return v;
}

}  // namespace

TEST_CASE("byte level: GPT-2's alphabet and its inverse") {
  CHECK(byte_symbol('a') == "a");
  CHECK(byte_symbol(' ') == "\xC4\xA0");    // Ġ = U+0120
  CHECK(byte_symbol('\n') == "\xC4\x8A");   // Ċ = U+010A
  CHECK(byte_symbol(0) == "\xC4\x80");      // U+0100
  CHECK(byte_symbol(0xAD) == "\xC5\x83");   // soft hyphen: U+0143
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  CHECK(byte_level_decode(byte_level_encode(all)) == all);
  CHECK(byte_level_encode("a b") == "a\xC4\xA0" "b");
  CHECK(byte_level_decode("<|im_end|>\xE2\x96\x81") == "<|im_end|>\xE2\x96\x81");  // kept
}

TEST_CASE("pre-tokenizers: GPT-2, LLaMA-3 and SmolLM splits") {
  auto gpt2 = [](const std::string& s) { return pre_split(s, PreSplit::kGpt2); };
  CHECK(gpt2("Hello world's  end 42x!?\n") ==
        Words{"Hello", " world", "'s", " ", " end", " 42", "x", "!?", "\n"});
  CHECK(gpt2("a \n b") == Words{"a", " \n", " b"});
  CHECK(gpt2("I'M 'll") == Words{"I", "'", "M", " '", "ll"});
  const PreTokenizer llama3 = pre_tokenizer_by_name("llama-bpe");
  CHECK(pretokenize("I'LL pay 12345!\n\n", llama3) ==
        Words{"I", "'LL", " pay", " ", "123", "45", "!\n\n"});
  CHECK(pretokenize("a  \n\n  b", llama3) == Words{"a", "  \n\n", " ", " b"});
  CHECK(pretokenize("\tx ?y (z) .\r\n", llama3) == Words{"\tx", " ?", "y", " (", "z", ")", " .\r\n"});
  CHECK(pretokenize("end  ", llama3) == Words{"end", "  "});
  const PreTokenizer smollm = pre_tokenizer_by_name("smollm");
  CHECK(pretokenize("abc 123 x", smollm) == Words{"abc", " ", "1", "2", "3", " x"});
  CHECK(pretokenize("", smollm).empty());
  CHECK(mentions(thrown_message([] { pre_tokenizer_by_name("qwen2"); }),
                 {"unknown name 'qwen2'", "smollm"}));
}

TEST_CASE("bpe merge: lowest rank first, leftmost among equals; by score for SentencePiece") {
  MergeRanks ranks({{"a", "b"}, {"ab", "b"}});
  CHECK(merge_symbols({"a", "b", "b", "a", "b"}, ranks.priority()) == Words{"abb", "ab"});
  MergeRanks aa(std::vector<std::pair<std::string, std::string>>{{"a", "a"}});
  CHECK(merge_symbols({"a", "a", "a"}, aa.priority()) == Words{"aa", "a"});
  CHECK(merge_symbols({}, aa.priority()).empty());
  // scores: "bc" (-1) beats "ab" (-2) although "ab" is further left
  auto score = [](const std::string& l, const std::string& r) {
    const std::string joined = l + r;
    return joined == "bc" ? 1.0 : joined == "ab" ? 2.0 : kNoMerge;
  };
  CHECK(merge_symbols({"a", "b", "c"}, score) == Words{"a", "bc"});
}

TEST_CASE("added tokens: longest match first, leftmost first, raw text between") {
  AddedTokens added({{"<|im_start|>", 1}, {"<|im_end|>", 2}, {"<a>", 3}, {"<a><b>", 4}});
  auto segments = added.split("<|im_start|>user\nhi<|im_end|>");
  REQUIRE(segments.size() == 3);
  CHECK(segments[0].id == 1);
  CHECK((segments[1].text == "user\nhi" && segments[1].id == -1));
  CHECK(segments[2].id == 2);
  auto nested = added.split("x<a><b><a>y<|im_end");
  REQUIRE(nested.size() == 4);
  CHECK(nested[1].id == 4);
  CHECK(nested[2].id == 3);
  CHECK(nested[3].text == "y<|im_end");
  CHECK(mentions(thrown_message([] { AddedTokens({{"", 5}}); }), {"token 5 has an empty text"}));
}

TEST_CASE("sentencepiece: merges by score, the ▁ prefix, byte fallback, decode") {
  BPETokenizer tok(sentencepiece_vocab({"\xE2\x96\x81", "a", "b", "c", "\xE2\x96\x81" "a", "ab",
                                        "bc"},
                                       {-10, -10, -10, -10, -1, -3, -2}));
  const int64_t space = 259, b = 261, c = 262, space_a = 263, bc = 265;
  CHECK(tok.encode("abc") == std::vector<int64_t>{space_a, bc});
  // é is no token: its two UTF-8 bytes
  CHECK(tok.encode("abc \xC3\xA9", {true}) ==
        std::vector<int64_t>{1, space_a, bc, space, 3 + 0xC3, 3 + 0xA9});
  CHECK(tok.decode({1, space_a, bc, space, 3 + 0xC3, 3 + 0xA9}) == "<s> abc \xC3\xA9");
  CHECK(tok.decode({1, space_a, bc, space, 3 + 0xC3, 3 + 0xA9}, true) == "abc \xC3\xA9");
  // a control token's text is parsed, and the text after it gets its own ▁ (llama.cpp)
  CHECK(tok.encode("a</s>b") == std::vector<int64_t>{space_a, 2, space, b});
  CHECK(tok.encode("a</s>b", {false, false, false}) ==  // "</s>" as plain text: bytes
        std::vector<int64_t>{space_a, 3 + '<', 3 + '/', 3 + 's', 3 + '>', b});
  CHECK(tok.encode("c a") == std::vector<int64_t>{space, c, space_a});
  BPEVocab bad = sentencepiece_vocab({"x"}, {0});
  bad.bos = 999;
  CHECK(mentions(thrown_message([&] { BPETokenizer{bad}; }), {"bos id 999", "outside"}));
  bad = sentencepiece_vocab({"x"}, {0});
  bad.merges = {{"x", "y"}};
  CHECK(mentions(thrown_message([&] { BPETokenizer{bad}; }), {"'x y' makes 'xy'", "not a token"}));
  bad = sentencepiece_vocab({"x"}, {0});
  bad.types.pop_back();
  CHECK(mentions(thrown_message([&] { BPETokenizer{bad}; }), {"token types for"}));
  CHECK(mentions(thrown_message([&] { tok.decode({5000}); }), {"token id 5000", "outside"}));
}

TEST_CASE("byte-level bpe: the header's example, bos, control tokens shown or skipped") {
  BPEVocab v;  // every byte's symbol (id = the byte), then "<s>" (control, bos) and 4 merges
  v.pre_tokenizer = "gpt2";
  for (int b = 0; b < 256; ++b) v.tokens.push_back(byte_symbol(static_cast<unsigned char>(b)));
  v.tokens.insert(v.tokens.end(), {"<s>", "\xC4\xA0w", "or", "orl", "orld"});
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  v.types[256] = TokenType::kControl;
  v.merges = {{"\xC4\xA0", "w"}, {"o", "r"}, {"or", "l"}, {"orl", "d"}};  // Ġw or orl orld
  v.bos = 256;
  const BPETokenizer tok(std::move(v));
  const std::vector<int64_t> ids = tok.encode("Hello world", {/*add_bos=*/true});
  CHECK(ids == std::vector<int64_t>{256, 'H', 'e', 'l', 'l', 'o', 257, 260});  // <s> Hello Ġw orld
  CHECK(tok.decode(ids) == "<s>Hello world");
  CHECK(tok.decode(ids, /*skip_special=*/true) == "Hello world");
  CHECK(tok.encode("<s>a") == std::vector<int64_t>{256, 'a'});
  CHECK(tok.encode("<s>a", {false, false, /*parse_special=*/false}).size() == 4);
  CHECK(mentions(thrown_message([&] { tok.encode("x", {false, true}); }),
                 {"add_eos", "no eos"}));
}

TEST_CASE("byte-level bpe: a byte that is no token becomes unk, or is dropped without one") {
  BPEVocab v;
  for (int b = 0; b < 256; ++b)
    if (b != 4) v.tokens.push_back(byte_symbol(static_cast<unsigned char>(b)));
  const BPETokenizer drop(v);
  CHECK(drop.encode("a\x04" "b") == std::vector<int64_t>{'a' - 1, 'b' - 1});
  v.tokens.push_back("<unk>");
  v.unk = 255;
  const BPETokenizer unk(v);
  CHECK(unk.encode("a\x04" "b") == std::vector<int64_t>{'a' - 1, 255, 'b' - 1});
}

TEST_CASE("decoder tokenizers agree with Hugging Face tokenizers on the tricky strings") {
  const Json ref = Json::parse(read_file(kDir + "reference.json", "reference"));
  int checked = 0, exact = 0;
  for (const char* name : {"gpt2", "llama3", "smollm", "spm"}) {
    const BPETokenizer tok = load_tokenizer_json(kDir + name + ".json");
    for (const Json& item : ref[name].as_array()) {
      const std::string& text = item["text"].as_string();
      const std::vector<int64_t> ids = tok.encode(text, {tok.vocab().add_bos});
      const std::vector<int64_t> plain = tok.encode(text, {false, false, false});
      const bool same = ids == int_list(item["ids"]) && plain == int_list(item["plain_ids"]) &&
                        tok.decode(ids) == item["decoded"].as_string() &&
                        tok.decode(ids, true) == item["decoded_skip"].as_string();
      CHECK_MESSAGE(same, name, ": '", text, "'");
      ++checked;
      exact += same;
    }
  }
  MESSAGE("decoder tokenizers vs HF tokenizers ", ref["tokenizers_version"].as_string(), ": ",
          exact, " / ", checked, " exact");
  CHECK(checked == 4 * 24);
}

TEST_CASE("tokenizer.json: what each file configures, errors naming the file and the field") {
  auto vocab = [](const char* name) {
    return parse_tokenizer_json(read_file(kDir + name, "tokenizer"), name);
  };
  const BPEVocab llama3 = vocab("llama3.json");
  CHECK(llama3.pre_tokenizer == "llama3");
  CHECK((llama3.ignore_merges && llama3.add_bos && llama3.bos >= 0));
  const BPEVocab smollm = vocab("smollm.json");
  CHECK((smollm.pre_tokenizer == "smollm" && !smollm.add_bos));
  const BPEVocab spm = vocab("spm.json");
  CHECK((spm.kind == BPEKind::kSentencePiece && spm.byte_fallback && spm.unk == 0 && spm.bos == 1));
  const std::string text = read_file(kDir + "gpt2.json", "tokenizer");
  auto damaged = [&](const std::string& from, const std::string& to) {
    std::string s = text;
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
    return thrown_message([&] { BPETokenizer(parse_tokenizer_json(s, "bad.json")); });
  };
  CHECK(mentions(damaged("\"type\":\"BPE\"", "\"type\":\"Unigram\""),
                 {"bad.json", "'model.type'", "Unigram"}));
  CHECK(mentions(damaged("\"type\":\"ByteLevel\",\"add_prefix_space\"",
                         "\"type\":\"Whitespace\",\"add_prefix_space\""),
                 {"bad.json", "'pre_tokenizer'", "Whitespace pre-tokenizer"}));
  CHECK(mentions(damaged("\"merges\":[", "\"merges\":[\"abc\","),
                 {"bad.json", "'model.merges[0]'", "'abc'"}));
  CHECK(mentions(damaged("\"lstrip\":false", "\"lstrip\":true"),
                 {"bad.json", "'added_tokens[0].lstrip' is set"}));
  CHECK(mentions(damaged("\"merges\":[", "\"merges\":[[\"a\"],"),
                 {"bad.json", "'model.merges[0]'", "pair"}));
  CHECK(mentions(damaged("\"vocab\":{", "\"vocab\":{\"zz\":9999,"),
                 {"bad.json", "'model.vocab'", "no token with id"}));
  CHECK(mentions(damaged("\"merges\":[", "\"merges\":[\"Ġ Ġ\","),
                 {"makes 'ĠĠ', which is not a token"}));
  CHECK(mentions(thrown_message([&] { parse_tokenizer_json("{\"model\": 3", "cut.json"); }),
                 {"cut.json", "not JSON"}));
  const std::string llama3_text = read_file(kDir + "llama3.json", "tokenizer");
  std::string other_regex = llama3_text;
  other_regex.replace(other_regex.find("\\\\p{N}{1,3}"), 11, "\\\\p{N}{1,4}");
  CHECK(mentions(thrown_message([&] { parse_tokenizer_json(other_regex, "r.json"); }),
                 {"r.json", "'pre_tokenizer.pretokenizers[0].pattern.Regex'", "{1,4}",
                  "none of GPT-2's and LLaMA-3's"}));
  CHECK(mentions(thrown_message([] { load_tokenizer_json("/nonexistent/tokenizer.json"); }),
                 {"cannot open", "/nonexistent/tokenizer.json"}));
}

TEST_CASE("chat template: ChatML with SmolLM2's default system message; others refused") {
  const std::string smollm2 =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
      "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
      "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
      "{{ '<|im_start|>assistant\n' }}{% endif %}";
  const ChatTemplate chat = ChatTemplate::recognise(smollm2);
  CHECK(chat.default_system() ==
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  CHECK(chat.apply({{"user", "Hi"}}, true) ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(chat.apply({{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}}, false) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello<|im_end|>\n");
  CHECK(chat.apply({}, false).empty());
  const std::string plain =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
      "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
  CHECK(ChatTemplate::recognise(plain).default_system().empty());
  CHECK(ChatTemplate::recognise(plain).apply({{"user", "x"}}, false) ==
        "<|im_start|>user\nx<|im_end|>\n");
  CHECK(mentions(thrown_message([] { ChatTemplate::recognise("{{ bos_token }}[INST] x [/INST]"); }),
                 {"not ChatML", "[INST]"}));
}
