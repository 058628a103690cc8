// Tests for tensor/gguf.h: files written by gguf-py (tests/parity/gguf/, made by
// tests/parity/make_gguf_fixtures.py) read back with every metadata value type and every tensor
// info; files assembled field by field (tests/gguf_builder.h); and damaged files: a table of
// single faults and every truncation each give an error naming the file and the field, never a
// crash. The dequantization and the real SmolLM2 file are in tests/test_gguf_quants.cpp.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tensor/gguf.h"
#include "tests/gguf_builder.h"
#include "tests/op_test_util.h"
#include "train/system.h"

using namespace neat;
using neat::test::GgufBuilder;
using neat::test::mentions;
using neat::test::thrown_message;

namespace {

const std::string kTypes = "tests/parity/gguf/types.gguf";
const std::string kTinyV2 = "tests/parity/gguf/tiny_v2.gguf";

// GGUF value type numbers (docs/gguf.md).
enum : uint32_t { U8 = 0, I8 = 1, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
                  U64 = 10 };

std::string parse_error(const std::string& bytes) {
  return thrown_message([&] { parse_gguf(bytes, "bad.gguf"); });
}

// A valid file of every part: two metadata entries (one an array), two tensors with data.
GgufBuilder good_file() {
  GgufBuilder b;
  b.key("general.architecture", STRING).str("llama");
  b.key("test.ids", ARRAY).u(I32, 4).u(2, 8).u(7, 4).u(uint32_t(-3), 4);
  b.tensor("a", {4, 2}, GgmlType::F32, 0);     // 2 rows of 4: 32 bytes
  b.tensor("q", {32}, GgmlType::Q8_0, 32);      // one block: 34 bytes
  b.data = std::string(32 + 34, '\x01');
  return b;
}

}  // namespace

TEST_CASE("gguf: the builder's example parses") {
  GgufBuilder b;
  b.key("general.architecture", 8).str("llama");
  b.tensor("w", {32, 2}, GgmlType::Q8_0, 0);
  b.data = std::string(68, '\0');
  GgufFile f = parse_gguf(b.bytes(), "built.gguf");
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.info("w").shape == std::vector<int64_t>{2, 32});
  CHECK(f.info("w").nbytes == 68);
  CHECK(f.tensor("w").to_vector<float>() == std::vector<float>(64, 0.0f));
}

TEST_CASE("gguf: an empty tensor and a 0-d one") {
  GgufBuilder b;
  b.tensor("empty", {0, 3}, GgmlType::Q4_K, 0);   // shape [3, 0]: rows of 0 blocks
  b.tensor("scalar", {}, GgmlType::F32, 0);
  b.data = std::string("\x00\x00\xc0\x3f", 4);   // 1.5f
  GgufFile f = parse_gguf(b.bytes(), "built.gguf");
  CHECK(f.info("empty").shape == std::vector<int64_t>{3, 0});
  CHECK(f.info("empty").nbytes == 0);
  CHECK(f.tensor("empty").numel() == 0);
  CHECK(f.info("scalar").shape.empty());
  CHECK(f.tensor("scalar").to_vector<float>() == std::vector<float>{1.5f});
}

TEST_CASE("gguf: metadata of every value type written by gguf-py") {
  GgufFile f = read_gguf(kTypes);
  CHECK(f.version == 3);
  CHECK(f.alignment == 64);
  CHECK(f.get_int("general.alignment") == 64);
  CHECK(f.get_string("general.architecture") == "test");
  CHECK(f.get_int("test.uint8") == 200);
  CHECK(f.get_int("test.int8") == -100);
  CHECK(f.get_int("test.uint16") == 60000);
  CHECK(f.get_int("test.int16") == -30000);
  CHECK(f.get_int("test.uint32") == 4000000000LL);
  CHECK(f.get_int("test.int32") == -2000000000LL);
  CHECK(f.get_float("test.float32") == double(0.1f));   // float32 on disk
  CHECK(f.get_bool("test.bool"));
  CHECK(f.get_string("test.string") == "caf\xc3\xa9 \xe4\xb8\xad\n");
  CHECK(f.at("test.uint64").u == (uint64_t(1) << 63) + 5);
  CHECK(f.get_int("test.int64") == -(int64_t(1) << 40));
  CHECK(f.get_float("test.float64") == 1e-300);
  CHECK(f.get_string("test.empty_string").empty());
  CHECK(f.get_float("test.uint32") == 4e9);   // an integer read as a number
  // The stored type of each.
  CHECK(f.at("test.uint8").gguf_type == U8);
  CHECK(f.at("test.int8").kind == GgufValue::Kind::Int);
  CHECK(gguf_value_type_name(f.at("test.float64").gguf_type) == "float64");

  CHECK(f.get_strings("test.strings") ==
        std::vector<std::string>{"a", "", "\xc4\xa0the", "tab\there"});
  CHECK(f.get_ints("test.uint8s") == std::vector<int64_t>{0, 7, 255});
  CHECK(f.get_ints("test.int16s") == std::vector<int64_t>{-1, 2, -32768});
  CHECK(f.get_ints("test.uint64s") == std::vector<int64_t>{1, int64_t(1) << 40});
  CHECK(f.get_ints("test.int32s") == std::vector<int64_t>{1, -2, 3});
  CHECK(f.get_floats("test.float32s") == std::vector<double>{0.5, -1.25, double(3e-5f)});
  CHECK(f.get_floats("test.float64s") == std::vector<double>{0.1, -2.5});
  CHECK(f.get_floats("test.int32s") == std::vector<double>{1, -2, 3});
  const GgufValue& bools = f.at("test.bools");
  REQUIRE(bools.array.size() == 3);
  CHECK((bools.array_type == BOOL && bools.array[0].b && !bools.array[1].b && bools.array[2].b));
  const GgufValue& nested = f.at("test.nested");
  CHECK(nested.array_type == ARRAY);
  REQUIRE(nested.array.size() == 2);
  CHECK(nested.array[0].array.size() == 2);
  CHECK(nested.array[1].array[0].i == 3);
  CHECK(f.at("test.nested_strings").array[1].array[1].s == "z");
}

TEST_CASE("gguf: typed getters name the file, the key and both types; fallbacks") {
  GgufFile f = read_gguf(kTypes);
  CHECK(mentions(thrown_message([&] { f.get_int("test.string"); }),
                 {kTypes, "'test.string'", "is string", "expected an integer"}));
  CHECK(mentions(thrown_message([&] { f.get_string("test.uint8"); }),
                 {"'test.uint8' is uint8, expected a string"}));
  CHECK(mentions(thrown_message([&] { f.get_bool("test.float32"); }), {"is float32"}));
  CHECK(mentions(thrown_message([&] { f.get_float("test.bool"); }), {"expected a number"}));
  CHECK(mentions(thrown_message([&] { f.get_strings("test.int32s"); }),
                 {"'test.int32s' is array of int32, expected an array of strings"}));
  CHECK(mentions(thrown_message([&] { f.get_ints("test.strings"); }), {"array of string"}));
  CHECK(mentions(thrown_message([&] { f.get_ints("test.nested"); }), {"array of array"}));
  CHECK(mentions(thrown_message([&] { f.get_int("test.uint64"); }),
                 {"'test.uint64' = 9223372036854775813 does not fit an int64"}));
  CHECK(mentions(thrown_message([&] { f.at("no.such.key"); }), {kTypes, "no metadata key"}));
  CHECK(mentions(thrown_message([&] { f.info("nope"); }), {kTypes, "no tensor named 'nope'"}));
  CHECK(f.get_int("no.such.key", 7) == 7);
  CHECK(f.get_float("no.such.key", 0.5) == 0.5);
  CHECK(f.get_string("no.such.key", "x") == "x");
  CHECK(f.get_int("test.int8", 7) == -100);
  CHECK_THROWS(f.get_int("test.string", 7));   // present with the wrong type: still an error
  CHECK(f.has("test.bool"));
  CHECK_FALSE(f.has("test.missing"));
}

TEST_CASE("gguf: tensor infos: row-major shapes, types, aligned offsets, sizes") {
  GgufFile f = read_gguf(kTypes);
  struct Want { const char* name; std::vector<int64_t> shape; GgmlType type; uint64_t nbytes; };
  const Want want[] = {
      {"f32", {2, 3, 4}, GgmlType::F32, 96},   {"f16", {4, 4}, GgmlType::F16, 32},
      {"bf16", {2, 8}, GgmlType::BF16, 32},    {"q8_0", {3, 64}, GgmlType::Q8_0, 6 * 34},
      {"q4_0", {3, 64}, GgmlType::Q4_0, 6 * 18}, {"q4_1", {2, 2, 32}, GgmlType::Q4_1, 4 * 20},
      {"q4_k", {2, 256}, GgmlType::Q4_K, 2 * 144}, {"q6_k", {2, 256}, GgmlType::Q6_K, 2 * 210},
  };
  REQUIRE(f.tensors.size() == 8);
  for (size_t i = 0; i < 8; ++i) {
    const GgufTensorInfo& t = f.tensors[i];
    CAPTURE(t.name);
    CHECK(t.name == want[i].name);   // file order
    CHECK(t.shape == want[i].shape);
    CHECK(t.type == want[i].type);
    CHECK(t.nbytes == want[i].nbytes);
    CHECK(t.offset % 64 == 0);
    CHECK(&f.info(want[i].name) == &t);
  }
  CHECK(f.data_offset % 64 == 0);
  CHECK(f.has_tensor("q6_k"));
  CHECK_FALSE(f.has_tensor("q5_k"));
  CHECK(std::string(ggml_type_name(GgmlType::Q6_K)) == "Q6_K");
  CHECK(std::string(ggml_type_name(GgmlType(13))) == "Q5_K");
}

TEST_CASE("gguf: a version 2 file with the default alignment") {
  GgufFile f = read_gguf(kTinyV2);
  CHECK(f.version == 2);
  CHECK(f.alignment == 32);
  CHECK(f.get_string("test.note") == "version 2");
  CHECK(f.info("w").shape == std::vector<int64_t>{2, 3});
  CHECK(f.tensor("w").to_vector<float>() == std::vector<float>{-2.5, -1.5, -0.5, 0.5, 1.5, 2.5});
  CHECK(f.tensor("w", DType::Float64).to_vector<double>() ==
        std::vector<double>{-2.5, -1.5, -0.5, 0.5, 1.5, 2.5});
  CHECK(mentions(thrown_message([&] { f.tensor("w", DType::Int64); }), {"float32 or float64"}));
}

TEST_CASE("gguf: tensor data is read when asked for, from the file as it is then") {
  const std::string path = "/tmp/neat_test_" + std::to_string(::getpid()) + "_lazy.gguf";
  const std::string bytes = read_file(kTinyV2);
  write_file_atomic(path, bytes);
  GgufFile f = read_gguf(path);
  write_file_atomic(path, bytes.substr(0, size_t(f.data_offset)));   // the data cut off
  CHECK(mentions(thrown_message([&] { f.tensor("w"); }), {path, "read of 24 bytes", "changed"}));
  std::remove(path.c_str());
  CHECK(mentions(thrown_message([&] { read_gguf(path); }), {"cannot open", path}));
}

TEST_CASE("gguf: damaged files: each fault gives an error naming the file and the field") {
  struct Fault {
    const char* what;
    std::function<void(GgufBuilder&)> damage;
    std::vector<std::string> says;
  };
  const uint64_t huge = uint64_t(1) << 60;
  const std::vector<Fault> faults = {
      {"wrong magic", [](GgufBuilder& b) { b.magic = "GGUG"; }, {"magic is 'GGUG'", "not a GGUF"}},
      {"version 1", [](GgufBuilder& b) { b.version = 1; }, {"version 1", "not supported"}},
      {"version 4", [](GgufBuilder& b) { b.version = 4; }, {"version 4 is not supported"}},
      {"big-endian", [](GgufBuilder& b) { b.version = 0x03000000; }, {"big-endian"}},
      {"huge tensor count", [&](GgufBuilder& b) { b.tensor_count = huge; },
       {"tensor count 1152921504606846976 at offset 8"}},
      {"huge metadata count", [&](GgufBuilder& b) { b.kv_count = huge; },
       {"metadata count 1152921504606846976 at offset 16"}},
      {"string length past the end",
       [](GgufBuilder& b) { b.key("", STRING); b.kv.resize(b.kv.size() - 12); b.u(1000, 8); },
       {"metadata 2 of 3", "metadata key at offset", "string length 1000 runs past the end"}},
      {"value string past the end", [](GgufBuilder& b) { b.key("k", STRING).u(999999, 8); },
       {"key 'k'", "string length 999999"}},
      {"unknown value type", [](GgufBuilder& b) { b.key("k", 13); },
       {"key 'k'", "value type 13", "is not a GGUF value type"}},
      {"unknown array type", [](GgufBuilder& b) { b.key("k", ARRAY).u(42, 4).u(0, 8); },
       {"array element type 42"}},
      {"huge array count", [&](GgufBuilder& b) { b.key("k", ARRAY).u(U64, 4).u(huge, 8); },
       {"key 'k'", "array count 1152921504606846976", "uint64", "runs past the end"}},
      {"array longer than the limit",
       [](GgufBuilder& b) {
         b.key("k", ARRAY).u(U8, 4).u((1 << 24) + 1, 8);
         b.data += std::string((1 << 24) + 1, '\0');
       },
       {"key 'k'", "array count 16777217", "limit of 16777216 elements"}},
      {"bad array element",
       [](GgufBuilder& b) { b.key("k", ARRAY).u(BOOL, 4).u(2, 8).u(1, 1).u(7, 1); },
       {"key 'k'", "element 1 of 2", "bool value 7"}},
      {"arrays nested too deep",
       [](GgufBuilder& b) { b.key("k", ARRAY); for (int i = 0; i < 9; ++i) b.u(ARRAY, 4).u(1, 8); },
       {"key 'k'", "nest deeper than 8"}},
      {"duplicate key", [](GgufBuilder& b) { b.key("test.ids", U8).u(1, 1); },
       {"key 'test.ids'", "appears twice"}},
      {"alignment not a power of two",
       [](GgufBuilder& b) { b.key("general.alignment", U32).u(48, 4); },
       {"general.alignment must be a power of two", "uint32 48"}},
      {"alignment of a signed type",
       [](GgufBuilder& b) { b.key("general.alignment", I32).u(32, 4); },
       {"general.alignment", "int32"}},
      {"unknown tensor type", [](GgufBuilder& b) { b.tensor("t", {32}, 99, 128); },
       {"tensor info 2 of 3", "tensor 't'", "ggml type 99 (unknown)", "not supported"}},
      {"unsupported tensor type", [](GgufBuilder& b) { b.tensor("t", {256}, 13, 128); },
       {"tensor 't'", "ggml type 13 (Q5_K)"}},
      {"too many dims", [](GgufBuilder& b) { b.tensor("t", {1, 1, 1, 1, 1}, 0, 128); },
       {"tensor 't'", "n_dims 5"}},
      {"dims product overflows", [&](GgufBuilder& b) { b.tensor("t", {huge, huge}, 0, 128); },
       {"tensor 't'", "dimension 1", "too large"}},
      {"empty but too large", [&](GgufBuilder& b) { b.tensor("t", {0, huge, huge}, 0, 128); },
       {"tensor 't'", "dimension 2", "too large"}},
      {"rows not whole blocks", [](GgufBuilder& b) { b.tensor("t", {33}, GgmlType::Q8_0, 128); },
       {"tensor 't'", "rows of 33 elements", "Q8_0 blocks of 32"}},
      {"tensor offset past the end", [](GgufBuilder& b) { b.tensor("t", {4}, 0, 1 << 20); },
       {"tensor 't'", "data [1048576, +16 bytes) runs past the end of the data section (66"}},
      {"tensor size past the end", [](GgufBuilder& b) { b.tensor("t", {1000}, 0, 64); },
       {"tensor 't'", "+4000 bytes"}},
      {"misaligned offset", [](GgufBuilder& b) { b.tensor("t", {1}, 0, 40); },
       {"tensor 't'", "data offset 40 is not a multiple of the alignment 32"}},
      {"overlapping tensors", [](GgufBuilder& b) { b.tensor("t", {4}, 0, 32); },
       {"tensor 't' at data offset 32 overlaps tensor 'q'"}},
      {"duplicate tensor name",
       [](GgufBuilder& b) {
         b.tensor("a", {1}, 0, 96);
         b.data += std::string(64, 0);
       },
       {"tensor info 2", "'a' appears twice"}},
      {"tensor name past the end",
       [](GgufBuilder& b) {
         b.infos += std::string("\xff\xff", 2);
         ++b.tensor_count;
       },
       {"tensor info 2 of 3", "tensor name at offset"}},
  };
  for (const Fault& fault : faults) {
    CAPTURE(fault.what);
    GgufBuilder b = good_file();
    fault.damage(b);
    const std::string message = parse_error(b.bytes());
    CHECK(mentions(message, fault.says));
    CHECK(message.rfind("gguf: bad.gguf: ", 0) == 0);   // every error names the file first
  }
  CHECK_NOTHROW(parse_gguf(good_file().bytes(), "good.gguf"));
}

TEST_CASE("gguf: every truncation of a file is an error naming the file, never a crash") {
  for (const std::string& bytes : {good_file().bytes(), read_file(kTypes), read_file(kTinyV2)}) {
    const GgufFile whole = parse_gguf(bytes, "whole.gguf");
    uint64_t used = 0;   // the file's end but the last tensor's padding
    for (const GgufTensorInfo& t : whole.tensors)
      used = std::max(used, whole.data_offset + t.offset + t.nbytes);
    int named = 0;
    for (size_t n = 0; n < used; ++n)
      named += parse_error(bytes.substr(0, n)).rfind("gguf: bad.gguf: ", 0) == 0;
    CHECK(named == int(used));
    for (size_t n = used; n < bytes.size(); ++n)   // only padding cut: still the same tensors
      CHECK(parse_gguf(bytes.substr(0, n), "cut.gguf").tensors.size() == whole.tensors.size());
  }
  // The field each cut lands in is named, with its offset.
  const GgufBuilder b = good_file();
  const std::string bytes = b.bytes();
  const size_t first_kv = 8 + 20 + 4 + 8 + 5, infos_end = 24 + b.kv.size() + b.infos.size();
  CHECK(mentions(parse_error(bytes.substr(0, 2)), {"magic at offset 0 needs 4 bytes"}));
  CHECK(mentions(parse_error(bytes.substr(0, 6)), {"version at offset 4"}));
  CHECK(mentions(parse_error(bytes.substr(0, 12)), {"tensor count at offset 8"}));
  CHECK(mentions(parse_error(bytes.substr(0, 20)), {"tensor count 2 at offset 8 cannot fit"}));
  CHECK(mentions(parse_error(bytes.substr(0, 24 + first_kv + 8 + 8 + 4 + 4 + 8 + 4 + 2)),
                 {"metadata 1 of 2 (at offset 69, key 'test.ids')", "array count 2 at offset 93",
                  "of int32 runs past the end of the file (6 bytes left)"}));
  CHECK(mentions(parse_error(bytes.substr(0, infos_end - 4)),
                 {"tensor info 1 of 2", "tensor 'q'", "tensor data offset at offset"}));
  CHECK(mentions(parse_error(bytes.substr(0, bytes.size() - 1)),
                 {"tensor 'q'", "runs past the end of the data section"}));
}
