// Image: 8-bit pixels in (H, W, C) order, the form every dataset hands out before transforms,
// and reading / writing image files with stb_image (png, jpg, bmp, gif, tga, pnm, ...).
//
//   Image img(2, 3, 1);                       // 2 rows, 3 columns, 1 channel, zero-filled
//   img.at(1, 2, 0) = 255;
//   write_image("/tmp/x.png", img);           // format from the extension: png, bmp, tga
//   Image back = read_image("/tmp/x.png", 3); // 3 = convert to RGB (0 = keep as stored)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace neat {

struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // (H, W, C) row-major

  Image() = default;
  Image(int64_t h, int64_t w, int64_t c) : height(h), width(w), channels(c), pixels(size_t(h * w * c)) {}

  uint8_t* data() { return pixels.data(); }
  const uint8_t* data() const { return pixels.data(); }
  uint8_t& at(int64_t y, int64_t x, int64_t c) { return pixels[size_t((y * width + x) * channels + c)]; }
  uint8_t at(int64_t y, int64_t x, int64_t c) const { return pixels[size_t((y * width + x) * channels + c)]; }
};

// Decodes an encoded image held in memory; `name` is only used in error messages.
// channels: 0 keeps the stored channel count, 1..4 converts (gray -> RGB replicates, like PIL's
// convert("RGB")). Throws "image: cannot decode <name>: <reason>".
// The container is checked first (check_image_header), so a header that claims more than
// kMaxImagePixels is an error before any pixel memory is taken, and a truncated file names its
// format ("a truncated or corrupt JPEG file") instead of stb's last guess ("Not a PNG").
Image decode_image(const std::vector<uint8_t>& encoded, int64_t channels, const std::string& name);

// Images larger than this (in pixels) are refused: 2^27, e.g. 16384 x 8192.
constexpr int64_t kMaxImagePixels = int64_t(1) << 27;
struct ImageHeader {
  int64_t height = 0, width = 0, channels = 0;   // as stored
};
// Reads only the header (no pixel decode): the size and channels, or an error naming the file
// and what is wrong (not an image, a truncated header, too large). ImageFolder runs it on every
// file before training so a bad file is found in seconds, not after an epoch.
ImageHeader check_image_header(const std::vector<uint8_t>& encoded, const std::string& name);
ImageHeader read_image_header(const std::string& path);
Image read_image(const std::string& path, int64_t channels = 0);
// Writes png, bmp or tga, chosen by the file extension. Not jpg: stb's JPEG encoder shifts
// negative ints, undefined behaviour in C++17 that the sanitizer build (make debug-test) stops on.
void write_image(const std::string& path, const Image& image);

// The whole file as bytes; throws "<who>: cannot open <path>" / "... read error".
std::vector<uint8_t> read_file_bytes(const std::string& path, const char* who);

}  // namespace neat
