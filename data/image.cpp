// stb_image / stb_image_write are compiled here, once for the whole library.
#include "data/image.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>

#include "tensor/check.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace neat {

std::vector<uint8_t> read_file_bytes(const std::string& path, const char* who) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  NEAT_CHECK(in.good(), who, ": cannot open ", path);
  std::streamsize size = in.tellg();
  NEAT_CHECK(size >= 0, who, ": cannot read the size of ", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  NEAT_CHECK(in.good() || size == 0, who, ": read error in ", path);
  return bytes;
}

Image decode_image(const std::vector<uint8_t>& encoded, int64_t channels, const std::string& name) {
  NEAT_CHECK(channels >= 0 && channels <= 4, "image: channels must be 0..4, got ", channels);
  NEAT_CHECK(!encoded.empty(), "image: cannot decode ", name, ": the file is empty");
  int w = 0, h = 0, stored = 0;
  // stb's failure reason is thread-local (STBI_THREAD_LOCAL), so workers may decode in parallel.
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(encoded.data(), int(encoded.size()), &w, &h, &stored, int(channels)),
      stbi_image_free);
  NEAT_CHECK(pixels != nullptr, "image: cannot decode ", name, ": ", stbi_failure_reason());
  Image image(h, w, channels == 0 ? stored : channels);
  std::copy(pixels.get(), pixels.get() + image.pixels.size(), image.pixels.begin());
  return image;
}

Image read_image(const std::string& path, int64_t channels) {
  return decode_image(read_file_bytes(path, "image"), channels, path);
}

void write_image(const std::string& path, const Image& image) {
  NEAT_CHECK(image.channels >= 1 && image.channels <= 4 && image.height > 0 && image.width > 0,
             "write_image: cannot write a ", image.height, "x", image.width, "x", image.channels,
             " image to ", path);
  size_t dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  int w = int(image.width), h = int(image.height), c = int(image.channels);
  int ok = 0;
  if (ext == "png") ok = stbi_write_png(path.c_str(), w, h, c, image.data(), w * c);
  else if (ext == "bmp") ok = stbi_write_bmp(path.c_str(), w, h, c, image.data());
  else if (ext == "tga") ok = stbi_write_tga(path.c_str(), w, h, c, image.data());
  else NEAT_CHECK(false, "write_image: unknown extension '.", ext, "' in ", path, " (png, bmp, tga)");
  NEAT_CHECK(ok != 0, "write_image: cannot write ", path);
}

}  // namespace neat
