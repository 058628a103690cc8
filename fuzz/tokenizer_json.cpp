// Fuzzes the tokenizer.json reader (text/tokenizer_json.h): whatever it accepts must make a
// tokenizer that encodes and decodes a tricky string (special tokens, digits, CJK, emoji,
// whitespace runs) without a crash; every id it returns must be in the vocabulary.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "text/bpe_tokenizer.h"
#include "text/tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  neat::BPEVocab vocab;
  try {
    vocab = neat::parse_tokenizer_json(std::string(reinterpret_cast<const char*>(data), size),
                                       "fuzz.json");
  } catch (const std::exception&) {
    return 0;
  }
  try {
    const neat::BPETokenizer tok(vocab);
    const std::string text = "<|im_start|>Hi  there\n\n it's 12345 \xE4\xB8\xAD\xF0\x9F\x98\x80 <s>x";
    for (bool special : {false, true}) {
      const std::vector<int64_t> ids = tok.encode(text, {vocab.bos >= 0, vocab.eos >= 0, special});
      for (int64_t id : ids)
        if (id < 0 || id >= tok.vocab_size()) std::abort();
      tok.decode(ids, special);
    }
  } catch (const std::exception&) {
  }
  return 0;
}
