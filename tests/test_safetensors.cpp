// Tests for tensor/safetensors.h: round trips of every dtype we write, files crafted byte by
// byte (F16 / BF16 / I32, and the exact layout Python's safetensors writes), and malformed
// files: each gives its own clear error, and no truncation or corruption crashes the reader.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "tensor/safetensors.h"

using namespace neat;

namespace {

// A fresh path under /tmp for this process.
std::string temp_path(const std::string& stem) {
  return "/tmp/neat_test_" + std::to_string(::getpid()) + "_" + stem + ".safetensors";
}

// A file image: 8-byte little-endian header length, the header text, the data bytes.
std::string file_image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(uint64_t(header.size()) >> (8 * i));
  return out + header + data;
}

template <typename T>
std::string raw_bytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

const std::string kOneTensorHeader =
    R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

}  // namespace

TEST_CASE("safetensors: the header example") {
  Generator gen(1);
  Tensor w = randn({2, 3}, gen), y = from_vector(std::vector<int64_t>{4, 2});
  std::string path = temp_path("example");
  write_safetensors(path, {{"weight", w}, {"labels", y}}, {{"method", "neat"}});
  SafetensorsFile f = read_safetensors(path);
  CHECK(f.get("weight").to_vector<float>() == w.to_vector<float>());
  CHECK(f.metadata.at("method") == "neat");
  std::remove(path.c_str());
}

TEST_CASE("safetensors: round trip of F32, F64, I64 with metadata, in order") {
  Generator gen(3);
  Tensor f = randn({3, 5}, gen);
  Tensor d = randn({2, 1, 4}, gen, DType::Float64);
  Tensor i = from_vector(std::vector<int64_t>{-7, 0, int64_t(1) << 60});
  Tensor s = scalar_tensor(2.5, DType::Float64);      // 0-d
  Tensor e = zeros({0, 3});                           // no elements
  std::string path = temp_path("roundtrip");
  write_safetensors(path, {{"z.float", f}, {"a.double", d}, {"labels", i}, {"scalar", s}, {"empty", e}},
                    {{"method", "neat"}, {"note", "quote \" and \\ survive"}});
  CHECK_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());

  SafetensorsFile file = read_safetensors(path);
  REQUIRE(file.tensors.size() == 5);
  CHECK(file.tensors[0].first == "z.float");  // data order = the order written
  CHECK(file.tensors[2].first == "labels");
  CHECK(file.metadata.at("method") == "neat");
  CHECK(file.metadata.at("note") == "quote \" and \\ survive");
  CHECK(file.get("z.float").dtype() == DType::Float32);
  CHECK(file.get("z.float").to_vector<float>() == f.to_vector<float>());
  CHECK(file.get("a.double").shape() == Shape{2, 1, 4});
  CHECK(file.get("a.double").to_vector<double>() == d.to_vector<double>());
  CHECK(file.get("labels").dtype() == DType::Int64);
  CHECK(file.get("labels").to_vector<int64_t>() == i.to_vector<int64_t>());
  CHECK(file.get("scalar").shape() == Shape{});
  CHECK(file.get("scalar").item() == 2.5);
  CHECK(file.get("empty").shape() == Shape{0, 3});
  CHECK(file.to_map().size() == 5);
  CHECK_THROWS_WITH_AS(file.get("nope"), doctest::Contains("no tensor named 'nope'"), std::runtime_error);

  // Overwriting an existing file goes through the same temporary + rename.
  write_safetensors(path, {{"only", f}});
  CHECK(read_safetensors(path).tensors.size() == 1);
  CHECK(read_safetensors(path).metadata.empty());
  std::remove(path.c_str());
}

TEST_CASE("safetensors: F16, BF16 and I32 written by hand are widened") {
  // F16: 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), 3 * 2^-24, -0, inf.
  std::string f16 = raw_bytes<uint16_t>({0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0003, 0x8000, 0x7C00});
  // BF16: 1, -3.5, 3.140625, 2^-133 (subnormal in float32 too).
  std::string bf16 = raw_bytes<uint16_t>({0x3F80, 0xC060, 0x4049, 0x0001});
  std::string i32 = raw_bytes<int32_t>({-5, 2147483647, 0});
  std::string header = R"({"h":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]},)"
                       R"("i":{"dtype":"I32","shape":[3],"data_offsets":[24,36]}})";
  SafetensorsFile file = parse_safetensors(file_image(header, f16 + bf16 + i32), "hand.safetensors");
  Tensor h = file.get("h");
  CHECK(h.dtype() == DType::Float32);
  CHECK(h.shape() == Shape{2, 4});
  std::vector<float> hv = h.to_vector<float>();
  CHECK(hv[0] == 1.0f);
  CHECK(hv[1] == -2.0f);
  CHECK(hv[2] == 0.5f);
  CHECK(hv[3] == 65504.0f);
  CHECK(hv[4] == std::ldexp(1.0f, -24));
  CHECK(hv[5] == 3 * std::ldexp(1.0f, -24));
  CHECK(hv[6] == 0.0f);
  CHECK(std::signbit(hv[6]));
  CHECK(std::isinf(hv[7]));
  std::vector<float> bv = file.get("b").to_vector<float>();
  CHECK(bv == std::vector<float>{1.0f, -3.5f, 3.140625f, std::ldexp(1.0f, -133)});
  Tensor i = file.get("i");
  CHECK(i.dtype() == DType::Int64);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{-5, 2147483647, 0});
}

TEST_CASE("safetensors: F16 and BF16 kept as stored on request; bfloat16 / float16 written as such") {
  std::string f16 = raw_bytes<uint16_t>({0x3C00, 0xFC00, 0x0001, 0x7E01});
  std::string bf16 = raw_bytes<uint16_t>({0x3F80, 0xC060, 0x0001, 0xFFC1});
  std::string header = R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]}})";
  const std::string image = file_image(header, f16 + bf16);
  SafetensorsFile kept = parse_safetensors(image, "hand.safetensors", HalfFloats::AsStored);
  const Tensor h = kept.get("h"), b = kept.get("b");
  REQUIRE(h.dtype() == DType::Float16);
  REQUIRE(b.dtype() == DType::BFloat16);
  CHECK(b.shape() == Shape{2, 2});
  CHECK(std::memcmp(h.raw_data(), f16.data(), 8) == 0);  // the bytes as they are, NaNs too
  CHECK(std::memcmp(b.raw_data(), bf16.data(), 8) == 0);
  // The default still widens, to the same values.
  SafetensorsFile widened = parse_safetensors(image, "hand.safetensors");
  CHECK(widened.get("b").dtype() == DType::Float32);
  CHECK(widened.get("b").to_vector<float>()[1] == b.to_vector<float>()[1]);

  // Written back as F16 / BF16, read as stored: the same bytes; read by default: float32.
  const std::string path = temp_path("halves");
  write_safetensors(path, {{"b", b}, {"h", h}});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes.find(R"("dtype":"BF16")") != std::string::npos);
  CHECK(bytes.find(R"("dtype":"F16")") != std::string::npos);
  SafetensorsFile back = read_safetensors(path, HalfFloats::AsStored);
  CHECK(back.get("b").dtype() == DType::BFloat16);
  CHECK(back.get("b").shape() == Shape{2, 2});
  CHECK(back.get("h").dtype() == DType::Float16);
  CHECK(std::memcmp(back.get("b").raw_data(), bf16.data(), 8) == 0);
  CHECK(std::memcmp(back.get("h").raw_data(), f16.data(), 8) == 0);
  CHECK(read_safetensors(path).get("h").to_vector<float>()[1] == -INFINITY);
  std::remove(path.c_str());
}

TEST_CASE("safetensors: a file laid out as Python's safetensors writes it") {
  // save_file({"weight": torch.tensor([[1., 2.], [3., 4.]]), "bias": torch.tensor([.5, -.5])},
  // metadata={"format": "pt"}): the header as serde writes it (dtype, shape, data_offsets),
  // padded with spaces to a multiple of 8, tensors ordered by dtype then name.
  std::string header = R"({"__metadata__":{"format":"pt"},)"
                       R"("bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  CHECK(header.size() % 8 == 0);
  std::string path = temp_path("python_layout");
  {
    std::ofstream out(path, std::ios::binary);
    out << file_image(header, raw_bytes<float>({0.5f, -0.5f, 1, 2, 3, 4}));
  }
  SafetensorsFile file = read_safetensors(path);
  CHECK(file.metadata.at("format") == "pt");
  CHECK(file.tensors[0].first == "bias");
  CHECK(file.get("weight").at({1, 0}) == 3.0);
  CHECK(file.get("bias").to_vector<float>() == std::vector<float>{0.5f, -0.5f});

  // Our writer produces the same layout rules: 8-aligned header, offsets tiling the data.
  write_safetensors(path, {{"bias", file.get("bias")}, {"weight", file.get("weight")}}, {{"format", "pt"}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | uint8_t(bytes[size_t(k)]);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 24);
  CHECK(bytes.substr(8 + n) == raw_bytes<float>({0.5f, -0.5f, 1, 2, 3, 4}));
  std::remove(path.c_str());
}

TEST_CASE("safetensors: malformed files give clear errors") {
  std::string data = raw_bytes<float>({1, 2});
  std::string good = file_image(kOneTensorHeader, data);
  CHECK(parse_error(good) == "(no error)");

  CHECK(parse_error("abc").find("bad.safetensors: the file has 3 bytes, too short for the 8-byte "
                                "header length") != std::string::npos);
  std::string past = good;
  past[0] = char(200);  // header length 200 > file
  CHECK(parse_error(past).find("header length 200 runs past the end of the file (" +
                               std::to_string(good.size()) + " bytes)") != std::string::npos);
  std::string huge = good;
  huge[7] = char(0x7F);
  CHECK(parse_error(huge).find("-byte limit (not a safetensors file?)") != std::string::npos);

  CHECK(parse_error(good.substr(0, good.size() - 1))
            .find("tensor 'w': data_offsets [0,8] run past the end of the data section (7 bytes)") !=
        std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", data))
            .find("data_offsets [0,80] run past the end of the data section (8 bytes)") !=
        std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", data))
            .find("bad.safetensors: bad header: json: expected ',' or '}' at byte 53") !=
        std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", data))
            .find("bad.safetensors: tensor 'w': dtype 'F33' is not supported (F32, F64, F16, BF16, "
                  "I64, I32 are)") != std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data))
            .find("tensor 'w': data_offsets [0,8] span 8 bytes but F32 [3] needs 12") !=
        std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data))
            .find("tensor 'w': shape must hold non-negative integers, got -2") != std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data))
            .find("data_offsets [8,0] end before they begin") != std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[2]}})", data))
            .find("tensor 'w': missing \"data_offsets\"") != std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", data))
            .find("must hold non-negative integers") != std::string::npos);
  CHECK(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[1000000000,1000000000,100000],"data_offsets":[0,8]}})", data))
            .find("is too large") != std::string::npos);
  CHECK(parse_error(file_image(R"([1, 2])", data)).find("the header must be a JSON object") !=
        std::string::npos);
  CHECK(parse_error(file_image(R"({"__metadata__":{"k":1}})", ""))
            .find("__metadata__ value of 'k' must be a string, got 1") != std::string::npos);
  // Two tensors sharing bytes, a hole, and bytes nobody owns.
  CHECK(parse_error(file_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data))
            .find("tensor 'b' at bytes [4, 8) overlaps tensor 'a' (ends at 8)") != std::string::npos);
  CHECK(parse_error(file_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data))
            .find("gap of 4 unused bytes before tensor 'a'") != std::string::npos);
  CHECK(parse_error(file_image(kOneTensorHeader, data + "xxxx"))
            .find("the data section has 12 bytes but the tensors cover 8") != std::string::npos);
  CHECK_THROWS_WITH_AS(read_safetensors("/tmp"), doctest::Contains("safetensors: /tmp"), std::runtime_error);
  CHECK_THROWS_WITH_AS(read_safetensors("/nonexistent/x.safetensors"),
                       doctest::Contains("cannot open '/nonexistent/x.safetensors'"), std::runtime_error);
}

TEST_CASE("safetensors: every truncation and header corruption is an error, never a crash") {
  Generator gen(11);
  std::string path = temp_path("fuzz");
  write_safetensors(path, {{"a", randn({3, 2}, gen)}, {"b", from_vector(std::vector<int64_t>{1, 2})}},
                    {{"k", "v"}});
  std::ifstream in(path, std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  REQUIRE(parse_error(good) == "(no error)");
  for (size_t n = 0; n < good.size(); ++n)
    CHECK_THROWS_AS(parse_safetensors(good.substr(0, n), "cut"), std::runtime_error);
  int errors = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = good;
    size_t at = size_t(gen.below(bad.size() - 24));  // somewhere in the length or the header
    bad[at] = char(gen.below(256));
    try {
      parse_safetensors(bad, "flipped");
    } catch (const std::runtime_error&) {
      ++errors;
    }
  }
  CHECK(errors > 1000);  // most flips break something; none may crash
}

TEST_CASE("safetensors: the writer rejects bad names") {
  Tensor t = zeros({1});
  std::string path = temp_path("names");
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"x", t}, {"x", t}}),
                       doctest::Contains("tensor 'x' given twice"), std::runtime_error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"__metadata__", t}}),
                       doctest::Contains("invalid tensor name '__metadata__'"), std::runtime_error);
  CHECK_FALSE(std::ifstream(path).good());
}

TEST_CASE("safetensors: bytes from the file reach an error message escaped, never raw") {
  // A header of 0xff bytes: its first character is reported as '\xff'.
  const std::string ff = file_image(std::string(4, char(0xff)), "");
  const std::string error = parse_error(ff);
  CHECK(error.find("unexpected character '\\xff' at byte 0") != std::string::npos);
  // A tensor name with a control character and a broken UTF-8 byte, and a valid 'é'.
  // (the escape character is written \u001b in the JSON text and decodes to the raw byte)
  const std::string name = "w\\u001b[31m\xc3\xc3\xa9";
  const std::string header = "{\"" + name + "\":{\"dtype\":\"F33\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  const std::string named = parse_error(file_image(header, ""));
  INFO(named);
  CHECK(named.find("tensor 'w\\x1b[31m\\xc3\xc3\xa9': dtype 'F33'") != std::string::npos);
  for (const char c : named) CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
}
