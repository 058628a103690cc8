// Tests for tensor/gguf_quants.h and tensor/half.h: every type neat reads dequantizes to the
// float32 values gguf-py's dequantizer gives (tests/parity/gguf/, made by
// tests/parity/make_gguf_fixtures.py), blocks written by hand follow the documented layouts, and
// the real SmolLM2-135M-Instruct GGUF (when `make deps` has put it in data/smollm2/, or
// $NEAT_SMOLLM2_GGUF names it) has the architecture the issue describes and dequantizes as
// gguf-py does (tests/parity/smollm2_reference.json); skipped with the reason when absent.
//
// Tolerance: none. Each formula is float32 arithmetic in the order of gguf-py's numpy code (and
// ggml's C): fp16 -> float32 is exact, then one product (or two, each rounded) and one sum, with
// no fused multiply-add, so every value is the same float32, bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/gguf.h"
#include "tensor/half.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/op_test_util.h"
#include "tests/skip.h"
#include "train/system.h"

using namespace neat;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

// The float32 values of `t` as bit patterns (so -0 differs from 0 and NaNs compare).
std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  std::vector<uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * 4);
  return out;
}

// The checksum of make_gguf_fixtures.py: sum of bits[i] * (2 i + 1) mod 2^64 over the float32
// bit patterns (read in place: the token embedding is 113 MB).
uint64_t checksum(const Tensor& t) {
  const float* x = t.data<float>();
  uint64_t sum = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint32_t b;
    std::memcpy(&b, x + i, 4);
    sum += uint64_t(b) * (2 * uint64_t(i) + 1);
  }
  return sum;
}

std::string hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string smollm2_path() {
  const char* env = std::getenv("NEAT_SMOLLM2_GGUF");
  return env != nullptr ? env : "data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

}  // namespace

TEST_CASE("half floats: the header example, subnormals, infinities") {
  CHECK(half_to_float(0x3C00) == 1.0f);
  CHECK(bf16_to_float(0x3F80) == 1.0f);
  CHECK(half_to_float(0x0001) == 0x1p-24f);   // the smallest subnormal
  CHECK(half_to_float(0x03FF) == 1023 * 0x1p-24f);
  CHECK(half_to_float(0x7BFF) == 65504.0f);   // the largest half
  CHECK(half_to_float(0xFC00) == -std::numeric_limits<float>::infinity());
  CHECK(std::signbit(half_to_float(0x8000)));
  CHECK(bf16_to_float(0xC0A0) == -5.0f);
}

TEST_CASE("gguf quants: the header example (two Q4_1 blocks)") {
  // Block: fp16 d = 0.5 (0x3800), fp16 m = -1 (0xBC00), 16 bytes: byte j = j | (15 - j) << 4.
  std::vector<unsigned char> bytes;
  for (int block = 0; block < 2; ++block) {
    for (unsigned char c : {0x00, 0x38, 0x00, 0xBC}) bytes.push_back(c);
    for (int j = 0; j < 16; ++j) bytes.push_back(uint8_t(j | (15 - j) << 4));
  }
  const GgmlTypeSize& ts = ggml_type_size(GgmlType::Q4_1);
  CHECK((ts.block == 32 && ts.bytes == 20));
  std::vector<float> w(64);
  dequantize(GgmlType::Q4_1, bytes.data(), 64, w.data());
  for (int j = 0; j < 16; ++j) {
    CHECK(w[size_t(j)] == 0.5f * float(j) - 1);             // low nibbles: elements 0-15
    CHECK(w[size_t(16 + j)] == 0.5f * float(15 - j) - 1);   // high nibbles: elements 16-31
  }
  CHECK(std::vector<float>(w.begin() + 32, w.end()) ==
        std::vector<float>(w.begin(), w.begin() + 32));
}

TEST_CASE("gguf quants: Q8_0 and Q4_0 blocks written by hand") {
  std::vector<unsigned char> q8 = {0x00, 0x40};   // d = 2
  for (int j = 0; j < 32; ++j) q8.push_back(uint8_t(int8_t(j - 16)));
  std::vector<float> y(32);
  dequantize(GgmlType::Q8_0, q8.data(), 32, y.data());
  for (int j = 0; j < 32; ++j) CHECK(y[size_t(j)] == 2.0f * float(j - 16));

  std::vector<unsigned char> q4 = {0x00, 0xB4};   // d = -0.25
  for (int j = 0; j < 16; ++j) q4.push_back(uint8_t(j | (j << 4)));
  dequantize(GgmlType::Q4_0, q4.data(), 32, y.data());
  for (int j = 0; j < 16; ++j) {
    CHECK(y[size_t(j)] == -0.25f * float(j - 8));
    CHECK(y[size_t(j + 16)] == -0.25f * float(j - 8));
  }
  CHECK(mentions(thrown_message([&] { dequantize(GgmlType::Q8_0, q8.data(), 31, y.data()); }),
                 {"Q8_0", "31 elements", "32-element blocks"}));
  CHECK(mentions(thrown_message([&] { ggml_type_size(GgmlType(13)); }), {"13 (Q5_K)"}));
}

TEST_CASE("gguf quants: every type equals gguf-py's dequantization, bit for bit") {
  GgufFile f = read_gguf("tests/parity/gguf/types.gguf");
  SafetensorsFile want = read_safetensors("tests/parity/gguf/types_expected.safetensors");
  REQUIRE(want.tensors.size() == f.tensors.size());
  for (const auto& [name, expected] : want.tensors) {
    CAPTURE(name);
    Tensor got = f.tensor(name);
    CHECK(got.shape() == expected.shape());
    CHECK(bits(got) == bits(expected));
    Tensor wide = f.tensor(name, DType::Float64);
    CHECK(wide.dtype() == DType::Float64);
    CHECK(bits(wide.to(DType::Float32)) == bits(expected));   // float32 values, widened exactly
  }
  // The K-quant fixtures are random bytes: every 6-bit scale and nibble pattern occurs, so the
  // tensors must hold many distinct values, not a degenerate few.
  CHECK(f.tensor("q4_k").to_vector<float>() != std::vector<float>(512, 0.0f));
}

TEST_CASE("gguf: the real SmolLM2-135M-Instruct file") {
  const std::string path = smollm2_path();
  if (!file_exists(path)) return test::skip(path + " not found (make deps fetches it)");
  GgufFile f = read_gguf(path);
  // The header example of tensor/gguf.h.
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.get_int("llama.block_count") == 30);
  CHECK(f.info("blk.0.attn_q.weight").shape == std::vector<int64_t>{576, 576});

  CHECK(f.version == 3);
  CHECK(f.get_int("llama.embedding_length") == 576);
  CHECK(f.get_int("llama.feed_forward_length") == 1536);
  CHECK(f.get_int("llama.attention.head_count") == 9);
  CHECK(f.get_int("llama.attention.head_count_kv") == 3);
  CHECK(f.get_int("llama.vocab_size") == 49152);
  CHECK(f.get_int("llama.rope.dimension_count") == 64);
  CHECK(f.get_float("llama.rope.freq_base") == 1e5);
  CHECK(f.get_float("llama.attention.layer_norm_rms_epsilon") == double(1e-5f));
  CHECK(f.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(f.get_strings("tokenizer.ggml.tokens").size() == 49152);
  CHECK(f.get_strings("tokenizer.ggml.merges").size() == 48900);
  CHECK(f.get_ints("tokenizer.ggml.token_type").size() == 49152);
  CHECK(f.get_int("tokenizer.ggml.bos_token_id") == 1);
  CHECK(f.get_int("tokenizer.ggml.eos_token_id") == 2);

  REQUIRE(f.tensors.size() == 272);
  int q4_1 = 0, q8_0 = 0, f32 = 0;
  for (const GgufTensorInfo& t : f.tensors) {
    q4_1 += t.type == GgmlType::Q4_1;
    q8_0 += t.type == GgmlType::Q8_0;
    f32 += t.type == GgmlType::F32 && t.shape.size() == 1;   // the norms
  }
  CHECK((q4_1 == 210 && q8_0 == 1 && f32 == 61));
  CHECK(f.info("token_embd.weight").shape == std::vector<int64_t>{49152, 576});
  CHECK(f.info("blk.0.attn_k.weight").shape == std::vector<int64_t>{192, 576});
  CHECK(f.info("blk.0.ffn_down.weight").shape == std::vector<int64_t>{576, 1536});
  CHECK_FALSE(f.has_tensor("output.weight"));   // tied embeddings

  const Json ref = Json::parse(read_file("tests/parity/smollm2_reference.json"));
  for (const auto& [name, r] : ref["tensors"].as_object()) {
    CAPTURE(name);
    CHECK(ggml_type_name(f.info(name).type) == r["type"].as_string());
    Tensor w = f.tensor(name);
    CHECK(w.shape() == Shape{r["shape"][0].as_int(), r["shape"][1].as_int()});
    CHECK(hex(checksum(w)) == r["checksum"].as_string());
    const float* x = w.data<float>();
    double sum = 0;
    for (int64_t i = 0; i < w.numel(); ++i) sum += x[i];
    // Summation order differs from numpy's pairwise sum: float64 rounding only.
    CHECK(std::abs(sum - r["sum"].as_number()) <= 1e-9 * std::abs(r["sum"].as_number()) + 1e-9);
    for (const auto& [row, values] : r["rows"].as_object()) {
      const int64_t i = std::stoll(row), cols = w.shape()[1];
      for (size_t j = 0; j < values.size(); ++j)
        CHECK(x[i * cols + int64_t(j)] == float(values[j].as_number()));
    }
  }
}
