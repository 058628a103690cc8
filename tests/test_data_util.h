// Helpers for the data tests: a private temporary folder, and writers for the real on-disk
// formats (CIFAR binary records, IDX plain and gzip) so the readers are tested on the bytes
// they will meet, not on our own intermediate form.
#pragma once
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "data/image.h"
#include "tests/op_test_util.h"
#include "tensor/random.h"

namespace neat_test {

// mkdtemp under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/neat_data_test_XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(out.good());
}

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path);
  out << text;
  REQUIRE(out.good());
}

inline void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

// write_image, creating the parent folders first.
inline void save_image(const std::string& path, const neat::Image& image) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  neat::write_image(path, image);
}

inline neat::Image random_image(int64_t h, int64_t w, int64_t c, neat::Generator& gen) {
  neat::Image img(h, w, c);
  for (uint8_t& v : img.pixels) v = uint8_t(gen.below(256));
  return img;
}

// One CIFAR record: label bytes, then the R, G and B planes of a 32x32x3 (H, W, C) image.
inline void append_cifar_record(std::vector<uint8_t>& out, const std::vector<uint8_t>& label_bytes,
                                const neat::Image& img) {
  out.insert(out.end(), label_bytes.begin(), label_bytes.end());
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 32; ++y)
      for (int64_t x = 0; x < 32; ++x) out.push_back(img.at(y, x, c));
}

// An IDX file: magic (0x00000800 | rank), big-endian uint32 dims, then the data.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0, 0, 0x08, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(d >> shift));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

using neat::test::thrown_message;

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace neat_test
