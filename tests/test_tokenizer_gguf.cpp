// Tests for text/gguf_tokenizer.h: tokenizers built from GGUF metadata. A hand-made metadata
// map checks the keys, defaults and errors; llama.cpp's own vocabulary files and test vectors
// (data/llama-vocab/, `scripts/get_data.sh llama-vocab`) check LLaMA-2's and Phi-3's
// SentencePiece BPE, LLaMA-3's, GPT-2's and StarCoder's byte-level BPE; SmolLM2's file (data/smollm2/, `make deps`) is checked
// against Hugging Face tokenizers' ids for its own metadata
// (tests/parity/make_smollm2_tokenizer_reference.py). Absent files: the tests skip.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "tensor/json.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "text/byte_level.h"
#include "text/gguf_tokenizer.h"
#include "tensor/files.h"

using namespace neat;
using neat::test::mentions;
using neat::test::skip;
using neat::test::thrown_message;

namespace {

GgufValue string_value(const std::string& s) {
  GgufValue v;
  v.kind = GgufValue::Kind::String;
  v.gguf_type = 8;
  v.s = s;
  return v;
}

GgufValue int_value(int64_t x) {
  GgufValue v;
  v.kind = GgufValue::Kind::Int;
  v.gguf_type = 5;  // int32
  v.i = x;
  return v;
}

template <typename T, typename Make>
GgufValue array_value(const std::vector<T>& items, Make make) {
  GgufValue v;
  v.kind = GgufValue::Kind::Array;
  v.gguf_type = 9;
  for (const T& x : items) v.array.push_back(make(x));
  v.array_type = v.array.empty() ? 8 : v.array[0].gguf_type;
  return v;
}

// A byte-level vocabulary: the 256 byte symbols, "ab" from the merge "a b", and <|end|>.
GgufFile tiny_gguf() {
  GgufFile f;
  f.path = "tiny.gguf";
  f.version = 3;
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_symbol(static_cast<unsigned char>(b)));
  tokens.push_back("ab");
  tokens.push_back("<|end|>");
  std::vector<int64_t> types(tokens.size(), 1);
  types.back() = 3;
  f.metadata["tokenizer.ggml.model"] = string_value("gpt2");
  f.metadata["tokenizer.ggml.pre"] = string_value("smollm");
  f.metadata["tokenizer.ggml.tokens"] = array_value(tokens, string_value);
  f.metadata["tokenizer.ggml.token_type"] = array_value(types, int_value);
  f.metadata["tokenizer.ggml.merges"] =
      array_value(std::vector<std::string>{"a b"}, string_value);
  f.metadata["tokenizer.ggml.eos_token_id"] = int_value(257);
  return f;
}

// llama.cpp's test vectors: texts separated by "\n__ggml_vocab_test__\n" in X.gguf.inp, the ids
// of each (encoded without bos and without parsing special tokens) a line of X.gguf.out.
std::vector<std::pair<std::string, std::vector<int64_t>>> vocab_tests(const std::string& gguf) {
  const std::string raw = read_file(gguf + ".inp", "test input");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    texts.push_back(raw.substr(pos, next == std::string::npos ? next : next - pos));
    if (next == std::string::npos) break;
    pos = next + sep.size();
  }
  std::istringstream lines(read_file(gguf + ".out", "test output"));
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  std::string line;
  for (size_t i = 0; std::getline(lines, line); ++i) {
    REQUIRE(i < texts.size());
    std::istringstream numbers(line);
    std::vector<int64_t> ids;
    for (int64_t id; numbers >> id;) ids.push_back(id);
    out.emplace_back(texts[i], ids);
  }
  REQUIRE(out.size() == texts.size());
  return out;
}

}  // namespace

TEST_CASE("gguf tokenizer: from metadata, llama.cpp's defaults, errors naming file and key") {
  const BPEVocab v = gguf_tokenizer_vocab(tiny_gguf());
  CHECK((v.kind == BPEKind::kByteLevel && v.pre_tokenizer == "smollm" && v.eos == 257));
  CHECK((v.bos == -1 && !v.add_bos && !v.ignore_merges));
  const BPETokenizer tok = gguf_tokenizer(tiny_gguf());
  // token b is byte b's symbol: "ab" merged, " a" as two bytes, the digit alone, <|end|>
  CHECK(tok.encode("ab a1<|end|>") == std::vector<int64_t>{256, ' ', 'a', '1', 257});
  CHECK(tok.decode(tok.encode("ab a1<|end|>"), true) == "ab a1");
  GgufFile bad = tiny_gguf();
  bad.metadata["tokenizer.ggml.model"] = string_value("t5");
  CHECK(mentions(thrown_message([&] { gguf_tokenizer_vocab(bad); }),
                 {"tiny.gguf", "tokenizer.ggml.model is 't5'"}));
  bad = tiny_gguf();
  bad.metadata["tokenizer.ggml.merges"] = array_value(std::vector<std::string>{"ab"}, string_value);
  CHECK(mentions(thrown_message([&] { gguf_tokenizer_vocab(bad); }),
                 {"tiny.gguf", "tokenizer.ggml.merges[0]", "'ab'"}));
  bad = tiny_gguf();
  bad.metadata["tokenizer.ggml.pre"] = string_value("qwen2");
  CHECK(mentions(thrown_message([&] { gguf_tokenizer(bad); }), {"tiny.gguf", "'qwen2'"}));
  bad = tiny_gguf();
  bad.metadata.erase("tokenizer.ggml.tokens");
  CHECK(mentions(thrown_message([&] { gguf_tokenizer_vocab(bad); }),
                 {"tiny.gguf", "tokenizer.ggml.tokens"}));
  bad = tiny_gguf();
  bad.metadata["tokenizer.ggml.eos_token_id"] = int_value(999);
  CHECK(mentions(thrown_message([&] { gguf_tokenizer(bad); }), {"tiny.gguf", "eos id 999"}));
  CHECK(mentions(thrown_message([] { gguf_chat_template(tiny_gguf()); }),
                 {"tiny.gguf", "tokenizer.chat_template"}));
}

TEST_CASE("gguf tokenizer: llama.cpp's test vectors (LLaMA-2, Phi-3, LLaMA-3, GPT-2, StarCoder)") {
  const std::string dir = "data/llama-vocab/";
  if (!std::filesystem::exists(dir + "ggml-vocab-llama-spm.gguf"))
    return skip(dir + " not found (scripts/get_data.sh llama-vocab)");
  // SentencePiece by score: llama-spm, phi-3; byte-level: llama-bpe (LLaMA-3), gpt-2,
  // starcoder (SmolLM2's pre-tokenizer)
  for (const char* name : {"llama-spm", "phi-3", "llama-bpe", "gpt-2", "starcoder"}) {
    const std::string path = dir + "ggml-vocab-" + name + ".gguf";
    const BPETokenizer tok = gguf_tokenizer(read_gguf(path));
    int exact = 0, round_trips = 0;
    const auto tests = vocab_tests(path);
    for (const auto& [text, ids] : tests) {
      const std::vector<int64_t> got = tok.encode(text, {false, false, false});
      CHECK_MESSAGE(got == ids, name, ": '", text, "'");
      exact += got == ids;
      round_trips += tok.decode(got) == text;
    }
    MESSAGE(std::string(name), ": ", exact, " / ", tests.size(), " ids as llama.cpp's vectors, ", round_trips,
            " decode back to the text");
    CHECK(tests.size() > 40);
    CHECK(round_trips == int(tests.size()));
  }
}

TEST_CASE("gguf tokenizer: SmolLM2's own tokenizer and chat template") {
  const std::string path = "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) return skip(path + " not found (make deps)");
  const GgufFile file = read_gguf(path);
  const BPEVocab v = gguf_tokenizer_vocab(file);
  CHECK((v.pre_tokenizer == "smollm" && v.bos == 1 && v.eos == 2 && !v.add_bos));
  const BPETokenizer tok(v);
  const Json ref = Json::parse(read_file(
      "tests/parity/decoder_tokenizer/smollm2_reference.json", "reference"));
  for (const Json& item : ref["cases"].as_array()) {
    std::vector<int64_t> expected;
    for (const Json& id : item["ids"].as_array()) expected.push_back(id.as_int());
    const std::string& text = item["text"].as_string();
    CHECK_MESSAGE(tok.encode(text) == expected, "'", text, "'");
    CHECK(tok.decode(expected) == item["decoded"].as_string());
  }
  const ChatTemplate chat = gguf_chat_template(file);
  CHECK(file.get_string("tokenizer.chat_template") == ref["chat_template"].as_string());
  CHECK(chat.default_system() ==
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  const std::vector<int64_t> prompt = tok.encode(chat.apply({{"user", "Hi"}}, true));
  CHECK(prompt.front() == 1);  // <|im_start|>system ...
  CHECK(tok.decode(prompt) == chat.apply({{"user", "Hi"}}, true));
}
