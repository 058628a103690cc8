// Tests for models/llama_gguf: the RoPE row orders on a hand example, a tiny random LLaMA written
// to a GGUF file as llama.cpp's converter writes it (metadata, GGUF names, Q and K rows permuted)
// loads back to the same logits, tied and untied, and each refusal names the file and the key or
// tensor.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "models/llama_gguf.h"
#include "tests/gguf_builder.h"
#include "tests/op_test_util.h"
#include "tests/tiny_llama.h"

using namespace neat;
using neat::test::GgufBuilder;
using neat::test::max_abs_diff;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

// tests/tiny_llama.h's odd sizes as a SmolLM2-like GGUF file carries them: no biases,
// eps as a float32 metadata value holds it, a context length.
LlamaConfig tiny_gguf_config(bool tied) {
  LlamaConfig c = neat::test::tiny_llama_config(tied);
  c.qkv_bias = c.o_bias = c.mlp_bias = false;
  c.rms_norm_eps = double(1e-5f);
  c.max_positions = 64;
  c.seed = 9;
  return c;
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The GGUF names of a LLaMA's tensors, with their HF names.
std::vector<std::pair<std::string, std::string>> gguf_names(const LlamaConfig& c) {
  std::vector<std::string> gguf = {"token_embd.weight", "output_norm.weight"};
  if (!c.tie_word_embeddings) gguf.push_back("output.weight");
  for (int64_t i = 0; i < c.layers; ++i)
    for (const char* part : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                             "ffn_down", "attn_norm", "ffn_norm"})
      gguf.push_back("blk." + std::to_string(i) + "." + part + ".weight");
  std::vector<std::pair<std::string, std::string>> names;
  for (const std::string& g : gguf) names.push_back({g, llama_hf_name(g)});
  return names;
}

// The model as a GGUF file's bytes; `extra` adds metadata, `extra_tensor` a float32 [2] tensor.
std::string to_gguf(LlamaForCausalLM& model, const std::function<void(GgufBuilder&)>& extra = {},
                    const std::string& extra_tensor = "") {
  const LlamaConfig& c = model.config();
  GgufBuilder b;
  b.key("general.architecture", 8).str("llama");
  const std::pair<const char*, int64_t> ints[] = {
      {"llama.block_count", c.layers}, {"llama.embedding_length", c.hidden},
      {"llama.feed_forward_length", c.intermediate}, {"llama.attention.head_count", c.heads},
      {"llama.attention.head_count_kv", c.kv_heads}, {"llama.attention.key_length", c.head_dim},
      {"llama.context_length", c.max_positions}};
  for (const auto& [key, value] : ints) b.key(key, 4).u(uint64_t(value), 4);
  b.key("llama.rope.freq_base", 6).u(float_bits(float(c.rope_theta)), 4);
  b.key("llama.attention.layer_norm_rms_epsilon", 6).u(float_bits(float(c.rms_norm_eps)), 4);
  b.key("tokenizer.ggml.tokens", 9).u(8, 4).u(uint64_t(c.vocab_size), 8);
  for (int64_t i = 0; i < c.vocab_size; ++i) b.str("t" + std::to_string(i));
  if (extra) extra(b);
  for (const auto& [gguf, hf] : gguf_names(c)) {
    Tensor w = model.parameter(hf).data().to(DType::Float32);
    if (hf.find("q_proj") != std::string::npos) w = permute_rope_rows(w, c.heads);
    if (hf.find("k_proj") != std::string::npos) w = permute_rope_rows(w, c.kv_heads);
    std::vector<uint64_t> dims(w.shape().rbegin(), w.shape().rend());
    b.data.append((32 - b.data.size() % 32) % 32, '\0');
    b.tensor(gguf, dims, GgmlType::F32, b.data.size());
    b.data.append(static_cast<const char*>(w.raw_data()), w.nbytes());
  }
  if (!extra_tensor.empty()) {
    b.data.append((32 - b.data.size() % 32) % 32, '\0');
    b.tensor(extra_tensor, {2}, GgmlType::F32, b.data.size());
    b.data.append(8, '\0');
  }
  return b.bytes();
}

}  // namespace

TEST_CASE("llama gguf: RoPE rows, GGML's adjacent pairs <-> HF's halves") {
  // One head of 4 rows: GGML's order (x0, x1, x2, x3) pairs (0, 1), (2, 3); HF's pairs (0, 2),
  // (1, 3): HF row order 0, 2, 1, 3 of GGML's. Two heads: each on its own.
  const Tensor ggml = from_vector(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}, {8});
  CHECK(unpermute_rope_rows(ggml, 2).to_vector<float>() ==
        std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7});
  const Tensor w =
      from_vector(std::vector<float>{0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51}, {6, 2});
  CHECK(unpermute_rope_rows(w, 1).to_vector<float>() ==
        std::vector<float>{0, 1, 20, 21, 40, 41, 10, 11, 30, 31, 50, 51});
  CHECK(max_abs_diff(permute_rope_rows(unpermute_rope_rows(w, 1), 1), w) == 0);
  CHECK(mentions(thrown_message([&] { unpermute_rope_rows(w, 2); }), {"[6, 2]", "2 heads"}));
  CHECK(llama_hf_name("blk.12.ffn_down.weight") == "model.layers.12.mlp.down_proj.weight");
  CHECK(llama_hf_name("blk.x.ffn_down.weight").empty());
  CHECK(llama_hf_name("blk.0.attn_qkv.weight").empty());
}

TEST_CASE("llama gguf: a converted tiny model loads back to the same logits, tied and untied") {
  for (bool tied : {false, true}) {
    CAPTURE(tied);
    LlamaForCausalLM model(tiny_gguf_config(tied));
    const GgufFile file = parse_gguf(to_gguf(model), "tiny.gguf");
    const LlamaConfig c = llama_config_from_gguf(file);
    CHECK(c.str() == model.config().str());
    std::shared_ptr<LlamaForCausalLM> loaded = load_llama_gguf(file);
    CHECK((loaded->lm_head == nullptr) == tied);
    const Tensor ids = from_vector(std::vector<int64_t>{3, 1, 4, 1, 5, 9, 2, 6}, {2, 4});
    const Tensor want = model.forward(ids).data(), got = loaded->forward(ids).data();
    CHECK(max_abs_diff(want, got) == 0);
  }
}

TEST_CASE("llama gguf: what is not computed, or not a LLaMA tensor, is refused by name") {
  LlamaForCausalLM model(tiny_gguf_config(true));
  auto error = [&](const std::function<void(GgufBuilder&)>& extra, const std::string& tensor = "") {
    return thrown_message(
        [&] { load_llama_gguf(parse_gguf(to_gguf(model, extra, tensor), "bad.gguf")); });
  };
  CHECK(mentions(error([](GgufBuilder& b) { b.key("llama.rope.scaling.type", 8).str("yarn"); }),
                 {"bad.gguf", "llama.rope.scaling.type", "yarn", "not computed"}));
  CHECK(mentions(error([](GgufBuilder& b) { b.key("llama.rope.dimension_count", 4).u(2, 4); }),
                 {"bad.gguf", "llama.rope.dimension_count 2"}));
  CHECK(mentions(error([](GgufBuilder& b) { b.key("llama.attention.value_length", 4).u(8, 4); }),
                 {"bad.gguf", "llama.attention.value_length 8"}));
  CHECK(mentions(error({}, "rope_freqs.weight"), {"bad.gguf", "rope_freqs.weight"}));
  CHECK(mentions(error({}, "blk.0.attn_qkv.weight"),
                 {"bad.gguf", "blk.0.attn_qkv.weight", "not a tensor of a LLaMA model"}));
  GgufBuilder gpt2;
  gpt2.key("general.architecture", 8).str("gpt2");
  auto config_error = [](const GgufBuilder& b) {
    return thrown_message([&] { llama_config_from_gguf(parse_gguf(b.bytes(), "g.gguf")); });
  };
  CHECK(mentions(config_error(gpt2), {"g.gguf", "general.architecture", "gpt2"}));
  GgufBuilder no_layers;
  no_layers.key("general.architecture", 8).str("llama");
  CHECK(mentions(config_error(no_layers), {"g.gguf", "llama.block_count"}));
}
