// The tokenizer and chat template stored in a GGUF file's metadata (llama.cpp's keys):
//
//   tokenizer.ggml.model        "gpt2": byte-level BPE; "llama": SentencePiece BPE by score
//   tokenizer.ggml.tokens       the tokens by id; token_type: their types (text/bpe_tokenizer.h)
//   tokenizer.ggml.merges       "left right" strings (gpt2); scores: float per token (llama)
//   tokenizer.ggml.pre          the pre-tokenizer's name (gpt2): "gpt-2", "llama-bpe", "smollm"
//   tokenizer.ggml.{bos,eos,padding,unknown}_token_id, add_bos_token, add_space_prefix
//   tokenizer.chat_template     Jinja text (text/chat_template.h recognises it)
//
// Defaults follow llama.cpp: "llama" adds bos and a space prefix unless told otherwise;
// "llama-bpe" (LLaMA-3) takes a piece that is a token whole (ignore_merges) and adds bos.
//
//   GgufFile f = read_gguf("data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
//   BPETokenizer tok = gguf_tokenizer(f);            // pre "smollm", bos 1, eos 2
//   ChatTemplate chat = gguf_chat_template(f);       // ChatML, SmolLM2's system message
#pragma once
#include "tensor/gguf.h"
#include "text/bpe_tokenizer.h"
#include "text/chat_template.h"

namespace neat {

// The vocabulary as stored; errors name the file and the key (a missing or mistyped key, an
// unknown model).
BPEVocab gguf_tokenizer_vocab(const GgufFile& file);
// The tokenizer; the vocabulary's own checks (text/bpe_tokenizer.h) also name the file.
BPETokenizer gguf_tokenizer(const GgufFile& file);
ChatTemplate gguf_chat_template(const GgufFile& file);

}  // namespace neat
