// LLaMA models from llama.cpp's GGUF files (tensor/gguf.h): the configuration from the llama.*
// metadata and the weights by Hugging Face's names, dequantized to float32, with the Q and K
// rows put back in Hugging Face's RoPE order (docs/gguf.md, "traps"):
//
//   GgufFile f = read_gguf("data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
//   LlamaConfig c = llama_config_from_gguf(f);         // hidden 576, layers 30, heads 9 / kv 3
//   std::shared_ptr<LlamaForCausalLM> model = load_llama_gguf(f);
//
// GGUF names -> HF names (absent output.weight = tied embeddings):
//   token_embd -> model.embed_tokens        output_norm -> model.norm     output -> lm_head
//   blk.N.attn_{q,k,v,output} -> model.layers.N.self_attn.{q,k,v,o}_proj
//   blk.N.ffn_{gate,up,down}  -> model.layers.N.mlp.{gate,up,down}_proj
//   blk.N.attn_norm -> input_layernorm      blk.N.ffn_norm -> post_attention_layernorm
#pragma once
#include <map>
#include <memory>
#include <string>

#include "models/llama.h"
#include "tensor/gguf.h"

namespace neat {

// general.architecture must be "llama". llama.block_count, embedding_length,
// feed_forward_length, attention.head_count, attention.head_count_kv (default head_count),
// attention.key_length (default embedding_length / head_count; value_length must equal it),
// rope.freq_base (default 10000), attention.layer_norm_rms_epsilon, context_length; the vocabulary
// size is the length of tokenizer.ggml.tokens (else token_embd's rows). What this model does not
// compute is an error naming the key: rope.scaling.type other than "none", a partial
// rope.dimension_count, a rope_freqs tensor (LLaMA 3.1's frequency factors). Biases are read
// from blk.0's tensors (attn_q.bias, attn_output.bias, ffn_up.bias). Errors name the file.
LlamaConfig llama_config_from_gguf(const GgufFile& file);

// The HF name of a GGUF tensor name, or "" when it is none of the names above.
std::string llama_hf_name(const std::string& gguf_name);

// GGML's RoPE row order -> HF's, for a [heads * hd, in] Q or K weight (or a [heads * hd] bias):
// w.reshape(heads, hd / 2, 2, in).swapaxes(1, 2).reshape(heads * hd, in).
Tensor unpermute_rope_rows(const Tensor& w, int64_t heads);
// Its inverse (what llama.cpp's converter does): reshape(heads, 2, hd / 2, in).swapaxes(1, 2).
Tensor permute_rope_rows(const Tensor& w, int64_t heads);

// Every tensor of the file by its HF name, float32, Q and K un-permuted. An unknown tensor name
// or a failed read is an error naming the file and the tensor.
std::map<std::string, Tensor> llama_tensors_from_gguf(const GgufFile& file,
                                                      const LlamaConfig& config);

// The model with the file's weights (errors name the file, and the tensor when one is wrong).
std::shared_ptr<LlamaForCausalLM> load_llama_gguf(const GgufFile& file);

}  // namespace neat
