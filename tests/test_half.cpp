// Tests for the 16-bit float dtypes (tensor/half.h, DType::BFloat16 / Float16): float32 -> bf16 /
// f16 rounding bit for bit against PyTorch's table (tests/parity/make_half_table.py), every
// 16-bit pattern widened and narrowed back unchanged, and the Tensor side: to(), fill, random
// factories, element access, printing, safetensors kept as stored, and ops without a 16-bit
// kernel naming themselves.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "tensor/elementwise.h"
#include "tensor/half.h"
#include "tensor/safetensors.h"
#include "tests/parity_reference.h"

using namespace neat;

namespace {

bool is_nan_bits(uint32_t f32) { return (f32 & 0x7FFFFFFFu) > 0x7F800000u; }

// The table's three columns as bits: input float32, PyTorch's bf16 and f16 of it.
struct HalfTable {
  std::vector<uint32_t> input;
  std::vector<uint16_t> bf16, f16;
};

HalfTable read_table() {
  const SafetensorsFile ref = test::open_parity_reference(
      "tests/parity/half_table.safetensors", "neat-half-table", "1",
      "regenerate it with .venv/bin/python tests/parity/make_half_table.py");
  const SafetensorsFile kept = read_safetensors(ref.path, HalfFloats::AsStored);
  const Tensor in = kept.get("input"), b = kept.get("bf16"), h = kept.get("f16");
  REQUIRE(b.dtype() == DType::BFloat16);
  REQUIRE(h.dtype() == DType::Float16);
  HalfTable t;
  for (int64_t i = 0; i < in.numel(); ++i) {
    t.input.push_back(float_bits(in.data<float>()[i]));
    t.bf16.push_back(b.data<bfloat16>()[i].bits);
    t.f16.push_back(h.data<float16>()[i].bits);
  }
  return t;
}

}  // namespace

TEST_CASE("half: float32 -> bfloat16 and float16 round as PyTorch does, bit for bit") {
  const HalfTable t = read_table();
  REQUIRE(t.input.size() > 200);
  int nans = 0;
  for (size_t i = 0; i < t.input.size(); ++i) {
    const float x = bits_float(t.input[i]);
    CAPTURE(i);
    CAPTURE(t.input[i]);
    // float16: PyTorch (F16C's vcvtps2ph) keeps a NaN's sign and top payload too: every row.
    CHECK(float_to_half_bits(x) == t.f16[i]);
    if (!is_nan_bits(t.input[i])) {
      CHECK(float_to_bf16_bits(x) == t.bf16[i]);
      continue;
    }
    // A NaN: PyTorch writes 0xFFFF; ours is a quiet NaN with the input's sign and top payload.
    ++nans;
    const uint16_t b = float_to_bf16_bits(x);
    CHECK(std::isnan(bf16_to_float(b)));
    CHECK((b & 0x0040) != 0);  // quiet
    CHECK((b & 0x8000) == ((t.input[i] >> 16) & 0x8000));
    CHECK(b == uint16_t((t.input[i] >> 16) | 0x40));
    CHECK(std::isnan(bf16_to_float(t.bf16[i])));
  }
  CHECK(nans == 9);
}

TEST_CASE("half: the Tensor conversion is the scalar one, and widening is exact") {
  const HalfTable t = read_table();
  std::vector<float> values;
  for (uint32_t bits : t.input) values.push_back(bits_float(bits));
  const Tensor x = from_vector(values);
  const Tensor b = x.to(DType::BFloat16), h = x.to(DType::Float16);
  CHECK(b.nbytes() == 2 * values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    CHECK(b.data<bfloat16>()[i].bits == float_to_bf16_bits(values[i]));
    CHECK(h.data<float16>()[i].bits == float_to_half_bits(values[i]));
  }
  // Every 16-bit pattern: widened to float32 (and float64) and back is the same bits, NaNs
  // aside (they come back quiet).
  for (uint32_t v = 0; v < 65536; ++v) {
    const uint16_t bits = uint16_t(v);
    const bool b_nan = (bits & 0x7FFF) > 0x7F80, h_nan = (bits & 0x7FFF) > 0x7C00;
    if (!b_nan) REQUIRE(float_to_bf16_bits(bf16_to_float(bits)) == bits);
    else REQUIRE(float_to_bf16_bits(bf16_to_float(bits)) == (bits | 0x40));
    if (!h_nan) REQUIRE(float_to_half_bits(half_to_float(bits)) == bits);
    else REQUIRE(float_to_half_bits(half_to_float(bits)) == (bits | 0x200));
  }
  // float64 -> bf16 goes through float32, as PyTorch's .to() does; to() between the two 16-bit
  // types goes through float32 too.
  const Tensor d = from_vector(std::vector<double>{1.0 + 0x1p-8 + 0x1p-30, -2.5, 1e300});
  CHECK(d.to(DType::BFloat16).to_vector<float>() ==
        std::vector<float>{1.0f, -2.5f, INFINITY});  // 1 + 2^-8 + 2^-30 is 1 + 2^-8 in float32
  CHECK(from_vector(std::vector<float>{65504.0f, 1.0f / 3}).to(DType::Float16)
            .to(DType::BFloat16).to_vector<float>() == std::vector<float>{65536.0f, 0.333984375f});
  CHECK(from_vector(std::vector<int64_t>{257, -3}).to(DType::BFloat16).to_vector<int64_t>() ==
        std::vector<int64_t>{256, -3});
}

TEST_CASE("half: bfloat16 and float16 tensors: fill, random, access, printing") {
  const Tensor f = full({2, 3}, 1.0 / 3, DType::BFloat16);
  CHECK(f.nbytes() == 12);
  CHECK(f.at({1, 2}) == 0.333984375);
  f.set({0, 1}, 2.5);
  CHECK(f.at({0, 1}) == 2.5);
  CHECK(f.str() == "tensor([[0.333984, 2.5, 0.333984], [0.333984, 0.333984, 0.333984]], "
                   "shape=[2, 3], dtype=bfloat16)");
  CHECK(zeros({4}, DType::Float16).to_vector<float>() == std::vector<float>(4, 0.0f));
  CHECK(full({1}, 70000.0, DType::Float16).item() == INFINITY);
  Generator g1(5), g2(5);
  const Tensor r = randn({64}, g1, DType::BFloat16);
  const Tensor r32 = randn({64}, g2, DType::Float32);
  CHECK(r.dtype() == DType::BFloat16);
  for (int64_t i = 0; i < 64; ++i) CHECK(r.data<bfloat16>()[i].bits == float_to_bf16_bits(r32.data<float>()[i]));
  CHECK(f.clone().to(DType::Float32).to_vector<float>() == f.to_vector<float>());
  CHECK_THROWS_WITH(f.data<float>(), doctest::Contains("tensor of dtype bfloat16 accessed as float32"));
}

TEST_CASE("half: an op without a 16-bit kernel says so, naming itself and the dtype") {
  // float16 is a storage type: no op computes in it (bfloat16's ops: tests/test_ops.cpp).
  const Tensor h = ones({2, 3}, DType::Float16);
  CHECK_THROWS_WITH(add(h, h), doctest::Contains("add: no float16 kernel (float16 [2, 3])"));
  CHECK_THROWS_WITH(exp(ones({4}, DType::Float16)), doctest::Contains("no float16 kernel"));
}
