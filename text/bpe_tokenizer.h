// The tokenizers of decoder language models, built from plain vectors so that a Hugging Face
// tokenizer.json (text/tokenizer_json.h) and a GGUF file's metadata construct them alike:
//
//  * byte-level BPE (GPT-2, LLaMA-3, SmolLM): the text is cut by a named pre-tokenizer
//    (text/pretokenize.h), each piece's bytes become printable symbols (text/byte_level.h) and
//    are merged by the merges list (text/bpe_merge.h). Every byte is a token, so nothing is
//    unknown.
//  * SentencePiece-style BPE with byte fallback (LLaMA-2): spaces become "▁" (U+2581) and one
//    "▁" goes in front of the text, no pre-tokenizer; the characters are merged by the merges
//    list (HF's BPE) or, without merges, by the joined token's score, highest first (llama.cpp's
//    SPM tokenizer, GGUF tokenizer.ggml.model = "llama"); a character left over that is no
//    token becomes its UTF-8 bytes as <0xXX> tokens.
//
// Added tokens (control and user-defined types) are cut out of the text first
// (text/added_tokens.h): user-defined ones always, control ones (<|im_start|>, <s>) when
// EncodeOptions::parse_special is set.
//
//   BPEVocab v;  v.kind = BPEKind::kByteLevel;  v.pre_tokenizer = "gpt2";
//   v.tokens = {...every byte's symbol..., "<s>", ...};  v.merges = {{"Ġ", "t"}, ...};
//   v.types[id_of_<s>] = TokenType::kControl;  v.bos = id_of_<s>;
//   BPETokenizer tok(std::move(v));
//   std::vector<int64_t> ids = tok.encode("Hello world", {/*add_bos=*/true});
//   tok.decode(ids) == "<s>Hello world";   // SentencePiece: "<s> Hello world"   tok.decode(ids, /*skip_special=*/true) == "Hello world"
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "text/added_tokens.h"
#include "text/bpe_merge.h"
#include "text/pretokenize.h"

namespace neat {

// GGUF's tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6
};
const char* token_type_name(TokenType t);

enum class BPEKind { kByteLevel, kSentencePiece };
// Where a SentencePiece tokenizer puts its "▁" prefix: never, before the text's first segment
// only (HF Metaspace "first"), or before every text segment (HF's Prepend normalizer, llama.cpp).
enum class SpacePrefix { kNone, kFirst, kEverySegment };

struct BPEVocab {
  BPEKind kind = BPEKind::kByteLevel;
  std::vector<std::string> tokens;      // by id
  std::vector<TokenType> types;         // by id; empty: all normal
  std::vector<std::pair<std::string, std::string>> merges;  // in priority order
  std::vector<float> scores;            // by id (SentencePiece without merges)
  int64_t bos = -1, eos = -1, pad = -1, unk = -1;  // -1: none
  bool add_bos = false;                 // what the model's own configuration adds by default
  // Byte-level only:
  std::string pre_tokenizer = "gpt2";   // a pre_tokenizer_by_name name
  bool add_prefix_space = false;        // HF ByteLevel: a space before each text segment
  bool ignore_merges = false;           // a piece that is a token whole is taken as it is
  // SentencePiece only:
  SpacePrefix space_prefix = SpacePrefix::kEverySegment;
  bool byte_fallback = true;            // unknown characters as <0xXX> (else unk)
};

struct EncodeOptions {
  bool add_bos = false;
  bool add_eos = false;
  bool parse_special = true;  // control tokens' texts become the tokens (else plain text)
};

class BPETokenizer {
 public:
  // Checks the vocabulary: lengths of types / scores, special ids in range, merges of tokens,
  // every byte a token (byte-level), byte fallback tokens present; errors name what is wrong.
  explicit BPETokenizer(BPEVocab vocab);

  std::vector<int64_t> encode(const std::string& text, const EncodeOptions& options = {}) const;
  // The text of ids (byte-level: its bytes, as they are, even when they are not valid UTF-8 on
  // their own). Control tokens are shown as their text unless skip_special.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;

  int64_t vocab_size() const { return int64_t(vocab_.tokens.size()); }
  int64_t id_of(const std::string& token) const;  // -1 when absent
  const std::string& token(int64_t id) const;     // error naming an id out of range
  TokenType type(int64_t id) const;
  const BPEVocab& vocab() const { return vocab_; }

 private:
  void check_vocab() const;
  void encode_text(std::string text, bool first, bool after_special,
                   std::vector<int64_t>& out) const;
  void push_symbol(const std::string& symbol, std::vector<int64_t>& out) const;
  void encode_piece(const std::string& piece, std::vector<int64_t>& out) const;

  // Byte-level pieces already encoded (words repeat: ~4x faster on English text), shared by
  // copies of the tokenizer, safe across threads; emptied when it reaches kCacheSize pieces.
  struct PieceCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int64_t>> ids;
  };
  static constexpr size_t kCacheSize = 100000;

  BPEVocab vocab_;
  PreTokenizer pre_;
  MergeRanks ranks_;
  std::unordered_map<std::string, int64_t> ids_;
  std::array<int64_t, 256> byte_ids_;   // <0xXX> tokens (SentencePiece), -1 when absent
  std::unordered_map<int64_t, unsigned char> byte_values_;  // their inverse
  AddedTokens all_added_, user_added_;  // control + user-defined, user-defined only
  std::shared_ptr<PieceCache> cache_ = std::make_shared<PieceCache>();
};

}  // namespace neat
