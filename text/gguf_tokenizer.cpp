#include "text/gguf_tokenizer.h"

#include "tensor/check.h"

namespace neat {

namespace {

bool flag(const GgufFile& f, const std::string& key, bool fallback) {
  return f.has(key) ? f.get_bool(key) : fallback;
}

// "left right" split at the first space after the first byte (llama.cpp's rule).
std::vector<std::pair<std::string, std::string>> merges_of(const GgufFile& f) {
  std::vector<std::pair<std::string, std::string>> merges;
  const std::string key = "tokenizer.ggml.merges";
  if (!f.has(key)) return merges;
  const std::vector<std::string> lines = f.get_strings(key);
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t space = lines[i].find(' ', 1);
    NEAT_CHECK(space != std::string::npos && space + 1 < lines[i].size(), f.path, ": ", key, "[",
               i, "] is not \"left right\": '", lines[i], "'");
    merges.emplace_back(lines[i].substr(0, space), lines[i].substr(space + 1));
  }
  return merges;
}

}  // namespace

BPEVocab gguf_tokenizer_vocab(const GgufFile& f) {
  BPEVocab v;
  const std::string model = f.get_string("tokenizer.ggml.model");
  NEAT_CHECK(model == "gpt2" || model == "llama", f.path, ": tokenizer.ggml.model is '", model,
             "': only gpt2 (byte-level BPE) and llama (SentencePiece BPE) are supported");
  v.kind = model == "gpt2" ? BPEKind::kByteLevel : BPEKind::kSentencePiece;
  v.tokens = f.get_strings("tokenizer.ggml.tokens");
  if (f.has("tokenizer.ggml.token_type"))
    for (int64_t t : f.get_ints("tokenizer.ggml.token_type")) v.types.push_back(TokenType(t));
  v.merges = merges_of(f);
  if (f.has("tokenizer.ggml.scores"))
    for (double s : f.get_floats("tokenizer.ggml.scores")) v.scores.push_back(float(s));
  v.bos = f.get_int("tokenizer.ggml.bos_token_id", -1);
  v.eos = f.get_int("tokenizer.ggml.eos_token_id", -1);
  v.pad = f.get_int("tokenizer.ggml.padding_token_id", -1);
  v.unk = f.get_int("tokenizer.ggml.unknown_token_id", -1);
  if (v.kind == BPEKind::kByteLevel) {
    v.unk = -1;  // llama.cpp's BPE drops a byte that is no token (SmolLM2 lacks 0x04) for unk
    v.pre_tokenizer = f.get_string("tokenizer.ggml.pre", "default");
    const bool llama3 = v.pre_tokenizer == "llama-bpe" || v.pre_tokenizer == "llama3";
    v.ignore_merges = llama3;
    v.add_bos = flag(f, "tokenizer.ggml.add_bos_token", llama3);
  } else {
    v.space_prefix = flag(f, "tokenizer.ggml.add_space_prefix", true) ? SpacePrefix::kEverySegment
                                                                       : SpacePrefix::kNone;
    v.add_bos = flag(f, "tokenizer.ggml.add_bos_token", true);
    v.byte_fallback = true;
  }
  return v;
}

BPETokenizer gguf_tokenizer(const GgufFile& f) {
  BPEVocab v = gguf_tokenizer_vocab(f);
  try {
    return BPETokenizer(std::move(v));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, f.path, ": ", e.what());
  }
}

ChatTemplate gguf_chat_template(const GgufFile& f) {
  try {
    return ChatTemplate::recognise(f.get_string("tokenizer.chat_template"));
  } catch (const std::exception& e) {
    NEAT_CHECK(false, f.path, ": ", e.what());
  }
}

}  // namespace neat
