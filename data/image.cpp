// stb_image / stb_image_write are compiled here, once for the whole library.
#include "data/image.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>

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

namespace {

// The format named by the file's first bytes ("" when none matches; TGA has no magic number).
std::string format_from_magic(const uint8_t* p, size_t n) {
  auto starts = [&](const char* magic, size_t len) { return n >= len && std::equal(p, p + len, reinterpret_cast<const uint8_t*>(magic)); };
  if (starts("\x89PNG", 4)) return "PNG";
  if (n >= 1 && p[0] == 0xFF) {   // stb_image, as the JPEG standard, skips 0xFF fill bytes before SOI
    size_t at = 1;
    while (at < n && p[at] == 0xFF) ++at;
    if (at == n || p[at] == 0xD8) return "JPEG";
  }
  if (starts("GIF8", 4)) return "GIF";
  if (starts("BM", 2)) return "BMP";
  if (n >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6') return "PNM";
  return "";
}

// Why stb could not read the data: stb tries each format in turn and reports the last one's
// complaint ("Not a PNG"), which misleads when the magic number named another format.
std::string failure(const uint8_t* p, size_t n) {
  const std::string format = format_from_magic(p, n);
  const std::string reason = stbi_failure_reason() ? stbi_failure_reason() : "unknown error";
  if (format.empty()) return "not an image stb_image can read (" + reason + ")";
  if (reason.rfind("Not a", 0) == 0 || reason == "Image not of any known type, or corrupt")
    return "a truncated or corrupt " + format + " file";
  return "a truncated or corrupt " + format + " file (" + reason + ")";
}

// The PNG as stb_image may read it, or an error naming `name`. Checked here, chunk by chunk up
// to IEND (length (4), type (4), data (length), CRC (4)), for two finds of fuzz/image.cpp:
//  - a chunk claiming more bytes than the file has left is an error: stb_image grows its buffer
//    to a chunk's claimed length before reading it (a 90-byte file asked for 2 GiB);
//  - zero-length IDAT chunks are dropped (they hold no data): for an empty first IDAT stb_image
//    passes a null buffer to memcpy, undefined behaviour the sanitizers stop on.
std::vector<uint8_t> png_for_stb(const std::vector<uint8_t>& png, const std::string& name) {
  std::vector<uint8_t> out(png.begin(), png.begin() + std::min<size_t>(8, png.size()));
  size_t at = 8;
  while (at + 8 <= png.size()) {
    const uint32_t length = uint32_t(png[at]) << 24 | uint32_t(png[at + 1]) << 16 |
                            uint32_t(png[at + 2]) << 8 | uint32_t(png[at + 3]);
    const std::string type(png.begin() + std::ptrdiff_t(at + 4), png.begin() + std::ptrdiff_t(at + 8));
    const uint64_t chunk = uint64_t(length) + 12;
    NEAT_CHECK(chunk <= png.size() - at, "image: cannot decode ", name,
               ": a truncated or corrupt PNG file (its chunk at byte ", at, " claims ", length,
               " bytes, ", png.size() - at - std::min<size_t>(png.size() - at, 12), " are left)");
    if (!(length == 0 && type == "IDAT"))
      out.insert(out.end(), png.begin() + std::ptrdiff_t(at), png.begin() + std::ptrdiff_t(at + chunk));
    at += size_t(chunk);
    if (type == "IEND") break;
  }
  out.insert(out.end(), png.begin() + std::ptrdiff_t(std::min(at, png.size())), png.end());
  return out;
}

// Refuses a PGM/PPM header number (width, height, maxval) of more than 9 digits: stb_image
// reads them into an int with no bound, a signed overflow (found by fuzz/image.cpp). Other
// faults of the header are stb's to report.
struct PnmHeader {
  size_t data_start = 0;   // the first pixel byte
  uint64_t maxval = 0;
};
// Read as stb_image reads it: each number ends at the first byte that is not a digit, which is
// consumed; a number with no digits is 0; the pixels start after the byte that ended maxval.
PnmHeader check_pnm_numbers(const uint8_t* p, size_t n, const std::string& name) {
  size_t at = 2;   // after "P5"
  uint64_t value = 0;
  for (int number = 0; number < 3; ++number) {
    while (at < n && (std::isspace(p[at]) || p[at] == '#')) {   // whitespace and # comments
      if (p[at] != '#') ++at;
      else while (at < n && p[at] != '\n' && p[at] != '\r') ++at;
    }
    size_t digits = 0;
    for (value = 0; at < n && std::isdigit(p[at]); ++at, ++digits) value = value * 10 + uint64_t(p[at] - '0');
    NEAT_CHECK(digits <= 9, "image: cannot decode ", name, ": a corrupt PNM header (a number of ",
               digits, " digits)");
  }
  return {std::min(at + 1, n), value};
}

// Refuses a binary PGM/PPM whose pixels run past the end of the file: stb_image reads zeros
// there, so a truncated file decoded as partly zero pixels (found by fuzz/image.cpp: 13 bytes
// decoded as 2 x 511513 pixels). Pixels are channels x (1 byte, or 2 when maxval > 255).
void check_pnm_length(const PnmHeader& pnm, uint64_t file_size, const ImageHeader& header,
                      const std::string& name) {
  const uint64_t end = pnm.data_start + uint64_t(header.height) * uint64_t(header.width) *
                                            uint64_t(header.channels) * (pnm.maxval > 255 ? 2 : 1);
  NEAT_CHECK(end <= file_size, "image: cannot decode ", name, ": a truncated PGM/PPM file (its ",
             header.width, "x", header.height, " pixels end at byte ", end, ", the file has ",
             file_size, ")");
}

// Byte `at` of a file's first n bytes, 0 past them: what stb_image reads past the end of its
// input, so the checks below read a header cut short as stb does.
uint64_t byte_or_zero(const uint8_t* p, size_t n, uint64_t at) { return at < n ? p[at] : 0; }

// Refuses a JPEG Huffman table (in a DHT segment) of more than 256 codes: stb_image fills a
// 257-entry size list from the 16 code counts without a bound, a write past the array (found by
// fuzz/image.cpp). The walk visits every marker as stb_image does: segments are skipped by their
// length, and between them (entropy-coded data, fill bytes) a marker is 0xFF followed by a byte
// other than 0x00 (a stuffed 0xFF) and the restart markers 0xD0-0xD7. Other faults are stb's to
// report.
void check_jpeg_huffman_tables(const uint8_t* p, size_t n, const std::string& name) {
  auto byte = [&](uint64_t at) { return byte_or_zero(p, n, at); };
  size_t at = 0;   // SOI (0xFFD8, after any fill bytes) is a marker like the others
  while (at < n) {
    if (p[at++] != 0xFF) continue;
    while (at < n && p[at] == 0xFF) ++at;   // fill bytes
    if (at >= n) return;
    const uint8_t marker = p[at++];
    if (marker == 0x00 || marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9) return;   // EOI
    const size_t end = at + (byte(at) << 8 | byte(at + 1));
    if (marker == 0xC4) {
      for (size_t table = at + 2; table < end && table < n; ) {
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += byte(table + i);
        NEAT_CHECK(codes <= 256, "image: cannot decode ", name, ": a corrupt JPEG file (its Huffman "
                   "table at byte ", table, " has ", codes, " codes, at most 256 are allowed)");
        table += 17 + codes;
      }
    }
    at = end;
  }
}

// BMP and TGA files that end before their pixels do are refused: stb_image reads zeros past the
// end of these two formats, so a truncated file decoded as an image of partly zero pixels (found
// by fuzz/image.cpp: 18 bytes of TGA header decoded as 48 x 17632 pixels, and a 17-byte one as
// 65317 x 1). The layouts are stb_image's. Other faults, and the other formats, are stb's.
//
// BMP: rows of ceil(width * bits / 32) * 4 bytes from the header's data offset. p holds the
// first `available` bytes of the file (a header cut short reads as zeros, as stb reads it);
// file_size is the whole file's.
void check_bmp_length(const uint8_t* p, size_t available, uint64_t file_size,
                      const ImageHeader& header, const std::string& name) {
  auto field = [&](uint64_t at, int bytes) {   // little-endian
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | byte_or_zero(p, available, at + uint64_t(i));
    return v;
  };
  const uint64_t w = uint64_t(header.width), h = uint64_t(header.height);
  const uint64_t offset = field(10, 4), info_size = field(14, 4);
  const uint64_t bits = info_size == 12 ? field(24, 2) : field(28, 2);
  const uint64_t end = std::max<uint64_t>(offset, 14 + info_size) + (w * bits + 31) / 32 * 4 * h;
  NEAT_CHECK(end <= file_size, "image: cannot decode ", name, ": a truncated BMP file (its ", w, "x",
             h, " pixels end at byte ", end, ", the file has ", file_size, ")");
}

// TGA (no magic number: what stb_image tries last): pixels of ceil(bits / 8) bytes after the id
// field and the palette, either as they are or in RLE packets (a byte 128 + count - 1 then one
// pixel, or count - 1 then count pixels). p holds the whole file (n bytes).
void check_tga_length(const uint8_t* p, size_t n, const ImageHeader& header, const std::string& name) {
  auto byte = [&](uint64_t at) { return byte_or_zero(p, n, at); };
  const uint64_t type = byte(2);
  if (!(type == 1 || type == 2 || type == 3 || type == 9 || type == 10 || type == 11)) return;
  const uint64_t w = uint64_t(header.width), h = uint64_t(header.height);
  const uint64_t pixel_bytes = (byte(16) + 7) / 8;
  uint64_t at = 18 + byte(0);   // after the header (even one cut short) and the image id
  if (byte(1) != 0)   // a palette: stb skips "first entry" bytes, then reads the entries
    at += (byte(3) | byte(4) << 8) + (byte(5) | byte(6) << 8) * ((byte(7) + 7) / 8);
  uint64_t pixels = 0;
  if (type < 8) {
    at += w * h * pixel_bytes;
    pixels = w * h;
  } else {
    while (pixels < w * h && at < n) {
      const uint64_t packet = p[at++];
      const uint64_t count = (packet & 0x7f) + 1;
      at += (packet & 0x80) ? pixel_bytes : count * pixel_bytes;
      pixels += count;
    }
  }
  NEAT_CHECK(pixels >= w * h && at <= n, "image: cannot decode ", name, ": a truncated TGA file (its ",
             w, "x", h, " pixels need more than the ", n, " bytes it has)");
}

ImageHeader checked_header(int ok, int w, int h, int c, const uint8_t* p, size_t n,
                           const std::string& name) {
  NEAT_CHECK(ok != 0, "image: cannot decode ", name, ": ", failure(p, n));
  NEAT_CHECK(w > 0 && h > 0 && int64_t(w) * h <= kMaxImagePixels, "image: cannot decode ", name,
             ": its header says ", w, "x", h, " pixels, more than the ", kMaxImagePixels,
             " this program reads (corrupt header?)");
  return {h, w, c};
}

// Every header check on the first `available` bytes of a file of file_size bytes (the whole
// file, or its first bytes). On a part of a file it gives up, returning nothing, where only the
// whole can decide: a TGA (its RLE pixels are walked to the end) or a header stb_image does not
// find in those bytes (a JPEG whose APP segments push SOF further, or a damaged file).
std::optional<ImageHeader> header_of(const uint8_t* p, size_t available, uint64_t file_size,
                                     const std::string& name) {
  const bool part = available < file_size;
  const std::string format = format_from_magic(p, available);
  if (part && format.empty()) return std::nullopt;
  // The checks that come before stb_image's (its header reader stops at a JPEG's SOF).
  const PnmHeader pnm = format == "PNM" ? check_pnm_numbers(p, available, name) : PnmHeader{};
  if (format == "JPEG") check_jpeg_huffman_tables(p, available, name);
  int w = 0, h = 0, c = 0;
  const int ok = stbi_info_from_memory(p, int(available), &w, &h, &c);
  if (part && !ok) return std::nullopt;
  const ImageHeader header = checked_header(ok, w, h, c, p, available, name);
  if (format == "BMP") check_bmp_length(p, available, file_size, header, name);
  if (format == "PNM") check_pnm_length(pnm, file_size, header, name);
  if (format.empty()) check_tga_length(p, available, header, name);
  return header;
}

}  // namespace

ImageHeader check_image_header(const std::vector<uint8_t>& encoded, const std::string& name) {
  NEAT_CHECK(!encoded.empty(), "image: cannot decode ", name, ": the file is empty");
  NEAT_CHECK(encoded.size() <= size_t(INT32_MAX), "image: ", name, " is larger than 2 GiB");
  return *header_of(encoded.data(), encoded.size(), encoded.size(), name);
}

// The first bytes of a file, enough for the header stb_image reads before the pixels of every
// format; a JPEG whose APP segments (EXIF thumbnails, ICC profiles) push SOF further is read whole.
constexpr size_t kHeaderBytes = size_t(256) << 10;

ImageHeader read_image_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  NEAT_CHECK(in.good(), "image: cannot open ", path);
  const std::streamsize size = in.tellg();
  NEAT_CHECK(size > 0, "image: cannot decode ", path, ": the file is empty");
  if (size_t(size) > kHeaderBytes) {
    std::vector<uint8_t> head(kHeaderBytes);
    in.seekg(0);
    in.read(reinterpret_cast<char*>(head.data()), std::streamsize(head.size()));
    NEAT_CHECK(in.good(), "image: read error in ", path);
    if (const std::optional<ImageHeader> header = header_of(head.data(), head.size(), uint64_t(size), path))
      return *header;
  }
  return check_image_header(read_file_bytes(path, "image"), path);
}

Image decode_image(const std::vector<uint8_t>& encoded, int64_t channels, const std::string& name) {
  NEAT_CHECK(channels >= 0 && channels <= 4, "image: channels must be 0..4, got ", channels);
  const ImageHeader header = check_image_header(encoded, name);
  const std::string format = format_from_magic(encoded.data(), encoded.size());
  // stb_image converts the channels of a 16-bit PGM/PPM with its 8-bit converter and so reads
  // past its buffer (a heap overflow found by fuzz/image.cpp): such a file is decoded only at its
  // own channel count.
  NEAT_CHECK(format != "PNM" || channels == 0 || channels == header.channels ||
                 !stbi_is_16_bit_from_memory(encoded.data(), int(encoded.size())),
             "image: cannot decode ", name, ": a 16-bit PGM/PPM file with ", header.channels,
             " channel(s), but ", channels, " are asked for (stb_image converts those wrongly; "
             "convert the file to PNG)");
  const std::vector<uint8_t> cleaned = format == "PNG" ? png_for_stb(encoded, name) : encoded;
  int w = 0, h = 0, stored = 0;
  // stb's failure reason is thread-local (STBI_THREAD_LOCAL), so workers may decode in parallel.
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(cleaned.data(), int(cleaned.size()), &w, &h, &stored, int(channels)),
      stbi_image_free);
  NEAT_CHECK(pixels != nullptr, "image: cannot decode ", name, ": ",
             failure(encoded.data(), encoded.size()));
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
