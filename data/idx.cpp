#include "data/idx.h"

#include <algorithm>
#include <cstdint>
#include <memory>

#include <zlib.h>

#include "tensor/check.h"

namespace neat {

namespace {

// The decompressed content of a gzip file, or the file itself when it is not gzip
// (zlib's gzread passes plain files through unchanged).
std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  NEAT_CHECK(file != nullptr, "idx: cannot open ", path);
  std::vector<uint8_t> bytes;
  size_t chunk = size_t(1) << 16;   // doubles up to 16 MiB: small files stay cheap, large ones fast
  for (;;) {
    size_t used = bytes.size();
    bytes.resize(used + chunk);
    int got = gzread(file.get(), bytes.data() + used, unsigned(chunk));
    chunk = std::min(chunk * 2, size_t(1) << 24);
    int errnum = Z_OK;
    const char* message = gzerror(file.get(), &errnum);
    NEAT_CHECK(got >= 0 && (errnum == Z_OK || errnum == Z_STREAM_END), "idx: ", path,
               " is a corrupt or truncated gzip file: ", message);
    bytes.resize(used + size_t(got));
    if (got == 0) break;
  }
  return bytes;
}

// "60000 x 28 x 28"
std::string shape_text(const std::vector<int64_t>& dims) {
  std::string text;
  for (int64_t d : dims) text += (text.empty() ? "" : " x ") + std::to_string(d);
  return text;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

}  // namespace

IdxArray read_idx(const std::string& path, int64_t ndims) {
  std::vector<uint8_t> bytes = read_maybe_gzip(path);
  const int64_t header = 4 + 4 * ndims;
  NEAT_CHECK(int64_t(bytes.size()) >= header, "idx: ", path, " is truncated: ", bytes.size(),
             " bytes, the header alone needs ", header);
  uint32_t magic = big_endian_u32(bytes.data());
  NEAT_CHECK(magic == (0x800u | uint32_t(ndims)), "idx: ", path, " has magic number 0x", std::hex,
             magic, ", expected 0x", (0x800u | uint32_t(ndims)), std::dec, " (a uint8 IDX file with ",
             ndims, " dimensions)");
  IdxArray array;
  for (int64_t d = 0; d < ndims; ++d) array.dims.push_back(big_endian_u32(bytes.data() + 4 + 4 * d));
  // The product of the dimensions; three 32-bit sizes can overflow int64, and no file holds that.
  const int64_t present = int64_t(bytes.size()) - header;
  int64_t count = 1;
  for (int64_t dim : array.dims) {
    NEAT_CHECK(dim == 0 || count <= INT64_MAX / dim, "idx: ", path, " is truncated: its header ",
               "promises dimensions ", shape_text(array.dims), ", more than the ", present,
               " data bytes present");
    count *= dim;
  }
  NEAT_CHECK(present >= count, "idx: ", path, " is truncated: ", count,
             " data bytes expected, ", present, " present");
  NEAT_CHECK(int64_t(bytes.size()) - header == count, "idx: ", path, " has ",
             int64_t(bytes.size()) - header - count, " bytes after the data (corrupt header?)");
  array.data.assign(bytes.begin() + header, bytes.end());
  return array;
}

std::shared_ptr<ArrayDataset> read_idx_dataset(const std::string& images_path,
                                               const std::string& labels_path,
                                               std::vector<std::string> class_names) {
  IdxArray images = read_idx(images_path, 3);
  IdxArray labels = read_idx(labels_path, 1);
  NEAT_CHECK(images.dims[0] == labels.dims[0], "idx: ", images_path, " holds ", images.dims[0],
             " images but ", labels_path, " holds ", labels.dims[0], " labels");
  std::vector<int64_t> label_values(labels.data.begin(), labels.data.end());
  for (size_t i = 0; i < label_values.size(); ++i)
    NEAT_CHECK(label_values[i] < int64_t(class_names.size()), "idx: ", labels_path, ": label ",
               label_values[i], " of sample ", i, " is outside [0, ", class_names.size(), ")");
  return std::make_shared<ArrayDataset>(ImageShape{1, images.dims[1], images.dims[2]},
                                        std::move(images.data), std::move(label_values),
                                        std::move(class_names));
}

}  // namespace neat
