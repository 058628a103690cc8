#include "tensor/gguf.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>

#include "tensor/check.h"
#include "tensor/json.h"

namespace neat {

// The format is little-endian and we read its integers byte by byte, so the host's order does
// not matter; float values are copied as they are (x86-64 and AArch64 Linux are little-endian).

namespace {

// GGUF value types (gguf.md: enum gguf_metadata_value_type).
enum : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* const kValueTypeNames[] = {"uint8", "int8",  "uint16", "int16", "uint32",
                                       "int32", "float32", "bool", "string", "array",
                                       "uint64", "int64", "float64"};

constexpr uint32_t kMaxDims = 4;        // GGML_MAX_DIMS: ggml refuses more
constexpr int kMaxArrayDepth = 8;       // arrays of arrays nest at most this deep
// An array holds at most this many elements: each becomes a ~100-byte GgufValue, so a file of
// N bytes must not become 100 N bytes of memory (the largest real vocabularies are ~2^18).
constexpr uint64_t kMaxArrayCount = uint64_t(1) << 24;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;   // empty name, n_dims, type, offset
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;         // empty key, type, a 1-byte value

// The fewest bytes a value of this type takes (a string: its length; an array: type + count).
uint64_t min_value_bytes(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: case kString: return 8;
    default: return 12;  // kArray
  }
}

// Reads `n` bytes at `offset` of the file into dst (bounds are checked before any call).
using ReadAt = std::function<void(uint64_t offset, uint64_t n, char* dst)>;

// Reads the file front to back through a window, checking each read against the file's size
// before it is made; an error names the field and its offset.
class Cursor {
 public:
  Cursor(uint64_t size, ReadAt read_at) : size_(size), read_at_(std::move(read_at)) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  void read(char* dst, uint64_t n, const char* field) {
    NEAT_CHECK(n <= left(), field, " at offset ", pos_, " needs ", n, " bytes but the file ends",
               " after ", left(), " (truncated at ", size_, " bytes)");
    if (pos_ < window_begin_ || pos_ + n > window_begin_ + window_.size()) {
      if (n > kWindow) {
        read_at_(pos_, n, dst);
        pos_ += n;
        return;
      }
      window_.resize(size_t(std::min<uint64_t>(kWindow, size_ - pos_)));
      read_at_(pos_, window_.size(), window_.data());
      window_begin_ = pos_;
    }
    std::memcpy(dst, window_.data() + (pos_ - window_begin_), size_t(n));
    pos_ += n;
  }

  uint64_t uint(int bytes, const char* field) {
    unsigned char b[8];
    read(reinterpret_cast<char*>(b), uint64_t(bytes), field);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  uint32_t u32(const char* field) { return uint32_t(uint(4, field)); }
  uint64_t u64(const char* field) { return uint(8, field); }

  std::string string(const char* field) {
    const uint64_t at = pos_;
    const uint64_t n = u64(field);
    NEAT_CHECK(n <= left(), field, " at offset ", at, ": string length ", n, " runs past the end",
               " of the file (", left(), " bytes left)");
    std::string s(size_t(n), '\0');
    read(s.data(), n, field);
    return s;
  }

 private:
  static constexpr uint64_t kWindow = 1 << 16;
  uint64_t size_, pos_ = 0;
  ReadAt read_at_;
  std::string window_;
  uint64_t window_begin_ = 0;
};

// An error from inside a field, rethrown with the entry it belongs to in front (the inner
// message already ends with the source location of the check that failed).
[[noreturn]] void rethrow_within(const std::string& entry, const std::runtime_error& e) {
  throw std::runtime_error(entry + ": " + e.what());
}

GgufValue read_value(Cursor& in, uint32_t type, int depth);

GgufValue read_array(Cursor& in, int depth) {
  GgufValue v;
  v.kind = GgufValue::Kind::Array;
  const uint64_t at = in.pos();
  v.array_type = in.u32("array element type");
  NEAT_CHECK(v.array_type <= kF64, "array element type ", v.array_type, " at offset ", at,
             " is not a GGUF value type (0-12)");
  NEAT_CHECK(v.array_type != kArray || depth + 1 < kMaxArrayDepth, "arrays nest deeper than ",
             kMaxArrayDepth, " levels at offset ", at);
  const uint64_t count_at = in.pos();
  const uint64_t count = in.u64("array count");
  NEAT_CHECK(count <= in.left() / min_value_bytes(v.array_type), "array count ", count,
             " at offset ", count_at, " of ", gguf_value_type_name(v.array_type),
             " runs past the end of the file (", in.left(), " bytes left)");
  NEAT_CHECK(count <= kMaxArrayCount, "array count ", count, " at offset ", count_at,
             " is more than the reader's limit of ", kMaxArrayCount, " elements");
  v.array.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    try {
      v.array.push_back(read_value(in, v.array_type, depth + 1));
    } catch (const std::runtime_error& e) {
      rethrow_within("element " + std::to_string(i) + " of " + std::to_string(count), e);
    }
  }
  return v;
}

template <typename T>
T read_scalar(Cursor& in, const char* field) {
  const uint64_t bits = in.uint(int(sizeof(T)), field);
  T value;
  std::memcpy(&value, &bits, sizeof(T));  // little-endian host: the low bytes
  return value;
}

GgufValue read_value(Cursor& in, uint32_t type, int depth) {
  GgufValue v;
  v.gguf_type = type;
  switch (type) {
    case kU8: case kU16: case kU32: case kU64:
      v.kind = GgufValue::Kind::UInt;
      v.u = in.uint(int(min_value_bytes(type)), "value");
      return v;
    case kI8: v.kind = GgufValue::Kind::Int; v.i = read_scalar<int8_t>(in, "value"); return v;
    case kI16: v.kind = GgufValue::Kind::Int; v.i = read_scalar<int16_t>(in, "value"); return v;
    case kI32: v.kind = GgufValue::Kind::Int; v.i = read_scalar<int32_t>(in, "value"); return v;
    case kI64: v.kind = GgufValue::Kind::Int; v.i = read_scalar<int64_t>(in, "value"); return v;
    case kF32: v.kind = GgufValue::Kind::Float; v.f = read_scalar<float>(in, "value"); return v;
    case kF64: v.kind = GgufValue::Kind::Float; v.f = read_scalar<double>(in, "value"); return v;
    case kBool: {
      const uint64_t at = in.pos();
      const uint64_t b = in.uint(1, "value");
      NEAT_CHECK(b <= 1, "bool value ", b, " at offset ", at, " is neither 0 nor 1");
      v.kind = GgufValue::Kind::Bool;
      v.b = b == 1;
      return v;
    }
    case kString: v.kind = GgufValue::Kind::String; v.s = in.string("string"); return v;
    case kArray: {
      GgufValue a = read_array(in, depth);
      a.gguf_type = kArray;
      return a;
    }
  }
  NEAT_CHECK(false, "value type ", type, " before offset ", in.pos(),
             " is not a GGUF value type (0-12)");
}

// The header: magic, version, the two counts (each checked against the bytes left).
void read_header(Cursor& in, GgufFile& file, uint64_t& tensor_count, uint64_t& kv_count) {
  char magic[4];
  in.read(magic, 4, "magic");
  NEAT_CHECK(std::memcmp(magic, "GGUF", 4) == 0, "magic is '", std::string(magic, 4),
             "', not 'GGUF' (not a GGUF file)");
  file.version = in.u32("version");
  NEAT_CHECK(file.version != 1, "version 1 (the 2023 draft with 32-bit counts) is not supported;",
             " convert the file with a current llama.cpp (versions 2 and 3 are read)");
  NEAT_CHECK(file.version != 0x02000000 && file.version != 0x03000000,
             "the file is big-endian GGUF (version bytes ", file.version, "), which is not",
             " supported (little-endian versions 2 and 3 are)");
  NEAT_CHECK(file.version == 2 || file.version == 3, "version ", file.version,
             " is not supported (2 and 3 are)");
  tensor_count = in.u64("tensor count");
  NEAT_CHECK(tensor_count <= in.left() / kMinTensorInfoBytes, "tensor count ", tensor_count,
             " at offset 8 cannot fit in the ", in.left(), " bytes left of the file");
  kv_count = in.u64("metadata count");
  NEAT_CHECK(kv_count <= in.left() / kMinKeyValueBytes, "metadata count ", kv_count,
             " at offset 16 cannot fit in the ", in.left(), " bytes left of the file");
}

void read_metadata(Cursor& in, GgufFile& file, uint64_t kv_count) {
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t at = in.pos();
    std::string key;
    try {
      key = in.string("metadata key");
      const uint64_t type_at = in.pos();
      const uint32_t type = in.u32("metadata value type");
      NEAT_CHECK(type <= kF64, "value type ", type, " at offset ", type_at,
                 " is not a GGUF value type (0-12)");
      NEAT_CHECK(file.metadata.count(key) == 0, "the key appears twice");
      file.metadata[key] = read_value(in, type, 0);
    } catch (const std::runtime_error& e) {
      rethrow_within("metadata " + std::to_string(i) + " of " + std::to_string(kv_count) +
                         " (at offset " + std::to_string(at) +
                         (key.empty() ? "" : ", key '" + key + "'") + ")",
                     e);
    }
  }
  if (file.has("general.alignment")) {
    const GgufValue& a = file.at("general.alignment");
    NEAT_CHECK(a.kind == GgufValue::Kind::UInt && a.u > 0 && (a.u & (a.u - 1)) == 0 &&
                   a.u <= (uint64_t(1) << 30),
               "general.alignment must be a power of two up to 2^30 of an unsigned type, got ",
               gguf_value_type_name(a.gguf_type), " ", a.kind == GgufValue::Kind::UInt ? a.u : 0);
    file.alignment = a.u;
  }
}

GgufTensorInfo read_tensor_info(Cursor& in) {
  GgufTensorInfo t;
  t.name = in.string("tensor name");
  try {
    const uint64_t dims_at = in.pos();
    const uint32_t n_dims = in.u32("n_dims");
    NEAT_CHECK(n_dims <= kMaxDims, "n_dims ", n_dims, " at offset ", dims_at, " is more than ",
               kMaxDims);
    // The product of the nonzero sizes stays below 2^62, so no product of the sizes in any
    // order overflows (an empty tensor's other sizes too: shape_numel multiplies them).
    uint64_t numel = 1, nonzero = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t size = in.u64("dimension");
      const uint64_t factor = std::max<uint64_t>(size, 1);
      NEAT_CHECK(nonzero <= (uint64_t(1) << 62) / factor, "dimension ", d, " (", size,
                 ") makes the tensor too large");
      nonzero *= factor;
      numel *= size;
      t.shape.insert(t.shape.begin(), int64_t(size));  // innermost first on disk: reversed
    }
    const uint64_t type_at = in.pos();
    const uint32_t type = in.u32("tensor type");
    NEAT_CHECK(ggml_type_supported(type), "ggml type ", type, " (",
               ggml_type_name(GgmlType(type)), ") at offset ", type_at, " is not supported (F32,",
               " F16, BF16, Q4_0, Q4_1, Q8_0, Q4_K, Q6_K are)");
    t.type = GgmlType(type);
    const GgmlTypeSize& ts = ggml_type_size(t.type);
    const int64_t row = n_dims == 0 ? 1 : t.shape.back();
    NEAT_CHECK(row % ts.block == 0, "its rows of ", row, " elements are not a whole number of ",
               ggml_type_name(t.type), " blocks of ", ts.block);
    t.nbytes = numel / uint64_t(ts.block) * uint64_t(ts.bytes);
    t.offset = in.u64("tensor data offset");
  } catch (const std::runtime_error& e) {
    rethrow_within("tensor '" + t.name + "'", e);
  }
  return t;
}

// Each tensor's data lies inside the data section, at a multiple of the alignment, and no two
// overlap.
void check_tensor_data(const GgufFile& file) {
  std::vector<const GgufTensorInfo*> order;
  for (const GgufTensorInfo& t : file.tensors) {
    NEAT_CHECK(t.offset % file.alignment == 0, "tensor '", t.name, "': data offset ", t.offset,
               " is not a multiple of the alignment ", file.alignment);
    NEAT_CHECK(t.offset <= file.data_bytes && t.nbytes <= file.data_bytes - t.offset,
               "tensor '", t.name, "': data [", t.offset, ", +", t.nbytes, " bytes) runs past",
               " the end of the data section (", file.data_bytes, " bytes from offset ",
               file.data_offset, ")");
    order.push_back(&t);
  }
  // Stable: of two tensors at one offset, the later in the file is named as the overlapping one.
  std::stable_sort(order.begin(), order.end(),
                   [](const GgufTensorInfo* a, const GgufTensorInfo* b) {
                     return a->offset < b->offset;
                   });
  for (size_t i = 1; i < order.size(); ++i)
    NEAT_CHECK(order[i - 1]->offset + order[i - 1]->nbytes <= order[i]->offset, "tensor '",
               order[i]->name, "' at data offset ", order[i]->offset, " overlaps tensor '",
               order[i - 1]->name, "' (", order[i - 1]->nbytes, " bytes from ",
               order[i - 1]->offset, ")");
}

GgufFile parse(uint64_t file_bytes, const ReadAt& read_at, const std::string& path) {
  GgufFile file;
  file.path = path;
  Cursor in(file_bytes, read_at);
  uint64_t tensor_count = 0, kv_count = 0;
  read_header(in, file, tensor_count, kv_count);
  read_metadata(in, file, kv_count);
  std::set<std::string> names;
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const uint64_t at = in.pos();
    try {
      file.tensors.push_back(read_tensor_info(in));
    } catch (const std::runtime_error& e) {
      rethrow_within("tensor info " + std::to_string(i) + " of " + std::to_string(tensor_count) +
                         " (at offset " + std::to_string(at) + ")",
                     e);
    }
    NEAT_CHECK(names.insert(file.tensors.back().name).second, "tensor info ", i, ": the name '",
               file.tensors.back().name, "' appears twice");
  }
  // The data section starts at the next multiple of the alignment (the padding may be absent
  // when no tensor has data).
  const uint64_t end = in.pos();
  file.data_offset = end + (file.alignment - end % file.alignment) % file.alignment;
  file.data_bytes = file_bytes > file.data_offset ? file_bytes - file.data_offset : 0;
  check_tensor_data(file);
  return file;
}

// parse, with every error prefixed by the file and made safe for the terminal (names and
// strings are bytes from the file).
GgufFile parse_naming_file(uint64_t file_bytes, const ReadAt& read_at, const std::string& path) {
  try {
    return parse(file_bytes, read_at, path);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(printable("gguf: " + path + ": " + e.what()));
  }
}

}  // namespace

std::string gguf_value_type_name(uint32_t gguf_type) {
  if (gguf_type <= kF64) return kValueTypeNames[gguf_type];
  return "type " + std::to_string(gguf_type);
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---- metadata -------------------------------------------------------------------------------

namespace {

// "uint32", "array of string", "array of array".
std::string stored_type(const GgufValue& v) {
  if (v.kind != GgufValue::Kind::Array) return gguf_value_type_name(v.gguf_type);
  return "array of " + gguf_value_type_name(v.array_type);
}

bool is_integer(const GgufValue& v) {
  return v.kind == GgufValue::Kind::UInt || v.kind == GgufValue::Kind::Int;
}

// An integer value as int64 (a uint64 above int64's range is an error).
int64_t as_int(const GgufValue& v, const GgufFile& f, const std::string& key) {
  if (v.kind == GgufValue::Kind::Int) return v.i;
  NEAT_CHECK(v.u <= uint64_t(std::numeric_limits<int64_t>::max()), "gguf: ", f.path,
             ": metadata '", key, "' = ", v.u, " does not fit an int64");
  return int64_t(v.u);
}

double as_float(const GgufValue& v) {
  switch (v.kind) {
    case GgufValue::Kind::UInt: return double(v.u);
    case GgufValue::Kind::Int: return double(v.i);
    default: return v.f;
  }
}

[[noreturn]] void wrong_type(const GgufFile& f, const std::string& key, const char* expected) {
  NEAT_CHECK(false, "gguf: ", f.path, ": metadata '", key, "' is ", stored_type(f.at(key)),
             ", expected ", expected);
}

// The elements of an array value, each checked by `ok` (else a type error).
const std::vector<GgufValue>& elements(const GgufFile& f, const std::string& key,
                                       bool (*ok)(const GgufValue&), const char* expected) {
  const GgufValue& v = f.at(key);
  if (v.kind != GgufValue::Kind::Array) wrong_type(f, key, expected);
  for (const GgufValue& e : v.array)
    if (!ok(e)) wrong_type(f, key, expected);
  return v.array;
}

}  // namespace

bool GgufFile::has(const std::string& key) const { return metadata.count(key) != 0; }

const GgufValue& GgufFile::at(const std::string& key) const {
  auto it = metadata.find(key);
  NEAT_CHECK(it != metadata.end(), "gguf: ", path, ": no metadata key '", key, "'");
  return it->second;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = at(key);
  if (v.kind != GgufValue::Kind::String) wrong_type(*this, key, "a string");
  return v.s;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = at(key);
  if (!is_integer(v)) wrong_type(*this, key, "an integer");
  return as_int(v, *this, key);
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = at(key);
  if (v.kind != GgufValue::Kind::Float && !is_integer(v)) wrong_type(*this, key, "a number");
  return as_float(v);
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = at(key);
  if (v.kind != GgufValue::Kind::Bool) wrong_type(*this, key, "a bool");
  return v.b;
}

std::vector<std::string> GgufFile::get_strings(const std::string& key) const {
  std::vector<std::string> out;
  const auto is_string = [](const GgufValue& e) { return e.kind == GgufValue::Kind::String; };
  for (const GgufValue& e : elements(*this, key, is_string, "an array of strings"))
    out.push_back(e.s);
  return out;
}

std::vector<int64_t> GgufFile::get_ints(const std::string& key) const {
  std::vector<int64_t> out;
  for (const GgufValue& e : elements(*this, key, is_integer, "an array of integers"))
    out.push_back(as_int(e, *this, key));
  return out;
}

std::vector<double> GgufFile::get_floats(const std::string& key) const {
  std::vector<double> out;
  const auto is_number = [](const GgufValue& e) {
    return e.kind == GgufValue::Kind::Float || is_integer(e);
  };
  for (const GgufValue& e : elements(*this, key, is_number, "an array of numbers"))
    out.push_back(as_float(e));
  return out;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

int64_t GgufFile::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double GgufFile::get_float(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

// ---- tensors --------------------------------------------------------------------------------

bool GgufFile::has_tensor(const std::string& name) const {
  for (const GgufTensorInfo& t : tensors)
    if (t.name == name) return true;
  return false;
}

const GgufTensorInfo& GgufFile::info(const std::string& name) const {
  for (const GgufTensorInfo& t : tensors)
    if (t.name == name) return t;
  NEAT_CHECK(false, "gguf: ", path, ": no tensor named '", name, "'");
}

void GgufFile::read_data(uint64_t offset, uint64_t n, char* dst) const {
  if (bytes_ != nullptr) {
    std::memcpy(dst, bytes_->data() + data_offset + offset, size_t(n));
    return;
  }
  // The sizes were checked against the file at open; a file changed since then fails here.
  std::ifstream in(path, std::ios::binary);
  NEAT_CHECK(in.is_open(), "gguf: cannot reopen '", path, "'");
  in.seekg(std::streamoff(data_offset + offset));
  in.read(dst, std::streamsize(n));
  NEAT_CHECK(in.good(), "gguf: ", path, ": read of ", n, " bytes at offset ",
             data_offset + offset, " failed (the file changed since it was opened?)");
}

std::string GgufFile::raw_bytes(const std::string& name) const {
  const GgufTensorInfo& t = info(name);
  std::string bytes(size_t(t.nbytes), '\0');
  if (t.nbytes > 0) read_data(t.offset, t.nbytes, bytes.data());
  return bytes;
}

Tensor GgufFile::tensor(const std::string& name, DType dtype) const {
  NEAT_CHECK(dtype == DType::Float32 || dtype == DType::Float64, "gguf: ", path, ": tensor '",
             name, "' can be read as float32 or float64, not ", dtype_name(dtype));
  const GgufTensorInfo& t = info(name);
  const std::string bytes = raw_bytes(name);
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
  Tensor out(t.shape, DType::Float32);
  dequantize(t.type, src, t.numel(), out.data<float>());
  return dtype == DType::Float32 ? out : out.to(DType::Float64);
}

GgufFile read_gguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  NEAT_CHECK(in.is_open(), "gguf: cannot open '", path, "'");
  const std::streamoff end = in.tellg();
  NEAT_CHECK(end >= 0, "gguf: cannot determine the size of '", path, "'");
  ReadAt read_at = [&](uint64_t offset, uint64_t n, char* dst) {
    in.seekg(std::streamoff(offset));
    in.read(dst, std::streamsize(n));
    NEAT_CHECK(in.good(), "read of ", n, " bytes at offset ", offset, " failed");
  };
  return parse_naming_file(uint64_t(end), read_at, path);
}

GgufFile parse_gguf(std::string bytes, const std::string& path) {
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  ReadAt read_at = [&](uint64_t offset, uint64_t n, char* dst) {
    std::memcpy(dst, shared->data() + offset, size_t(n));
  };
  GgufFile file = parse_naming_file(shared->size(), read_at, path);
  file.bytes_ = shared;
  return file;
}

}  // namespace neat
