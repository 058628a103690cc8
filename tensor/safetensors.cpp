#include "tensor/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>

#include "tensor/half.h"
#include "tensor/json.h"

namespace neat {

// The format stores little-endian bytes and we copy them as they are: x86-64 and AArch64
// Linux, the platforms neat.cpp builds for, are little-endian.

bool SafetensorsFile::contains(const std::string& name) const {
  for (const auto& [n, _] : tensors)
    if (n == name) return true;
  return false;
}

const Tensor& SafetensorsFile::get(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  NEAT_CHECK(false, "safetensors: ", path, ": no tensor named '", name, "'");
}

std::map<std::string, Tensor> SafetensorsFile::to_map() const {
  return std::map<std::string, Tensor>(tensors.begin(), tensors.end());
}

// ---- element formats on disk -----------------------------------------------------------------

namespace {

enum class FileDType { F32, F64, F16, BF16, I64, I32 };

struct FileDTypeInfo {
  const char* name;
  FileDType type;
  uint64_t size;   // bytes per element on disk
  DType dtype;     // what it becomes in memory (F16, BF16: unless kept, HalfFloats::AsStored)
};

const FileDTypeInfo kFileDTypes[] = {
    {"F32", FileDType::F32, 4, DType::Float32},  {"F64", FileDType::F64, 8, DType::Float64},
    {"F16", FileDType::F16, 2, DType::Float32},  {"BF16", FileDType::BF16, 2, DType::Float32},
    {"I64", FileDType::I64, 8, DType::Int64},    {"I32", FileDType::I32, 4, DType::Int64},
};

const FileDTypeInfo* find_file_dtype(const std::string& name) {
  for (const auto& info : kFileDTypes)
    if (name == info.name) return &info;
  return nullptr;
}

const char* file_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::BFloat16: return "BF16";
    case DType::Float16: return "F16";
  }
  return "?";
}

// Decodes n elements of `type` from raw disk bytes into dst (the in-memory dtype's storage).
void decode(FileDType type, const char* src, int64_t n, void* dst) {
  switch (type) {
    case FileDType::F32:
    case FileDType::F64:
    case FileDType::I64:
      std::memcpy(dst, src, size_t(n) * (type == FileDType::F32 ? 4 : 8));
      return;
    case FileDType::F16:
    case FileDType::BF16: {
      float* out = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = type == FileDType::F16 ? half_to_float(v) : bf16_to_float(v);
      }
      return;
    }
    case FileDType::I32: {
      int64_t* out = static_cast<int64_t*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        out[i] = v;
      }
      return;
    }
  }
}

// One header entry, validated.
struct Entry {
  std::string name;
  const FileDTypeInfo* info;
  Shape shape;
  uint64_t begin, end;  // relative to the data section
};

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the limit Python's safetensors uses too

// Reads `n` bytes at `offset` of the file into dst (bounds are checked before any call).
using ReadAt = std::function<void(uint64_t offset, uint64_t n, char* dst)>;

int64_t json_int(const Json& j, const std::string& path, const std::string& name,
                 const char* field) {
  NEAT_CHECK(j.is_number() && std::floor(j.as_number()) == j.as_number() &&
                 j.as_number() >= 0 && j.as_number() < 9.0e15,
             "safetensors: ", path, ": tensor '", name, "': ", field,
             " must hold non-negative integers, got ", j.dump());
  return j.as_int();
}

Entry parse_entry(const std::string& name, const Json& j, uint64_t data_bytes,
                  const std::string& path) {
  auto where = "safetensors: " + path + ": tensor '" + name + "': ";
  NEAT_CHECK(j.is_object(), where, "expected an object, got ", j.dump());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    NEAT_CHECK(j.contains(key), where, "missing \"", key, "\"");
  NEAT_CHECK(j["dtype"].is_string(), where, "dtype must be a string, got ", j["dtype"].dump());
  Entry e;
  e.name = name;
  e.info = find_file_dtype(j["dtype"].as_string());
  NEAT_CHECK(e.info != nullptr, where, "dtype '", j["dtype"].as_string(),
             "' is not supported (F32, F64, F16, BF16, I64, I32 are)");

  NEAT_CHECK(j["shape"].is_array(), where, "shape must be an array, got ", j["shape"].dump());
  uint64_t numel = 1;
  for (const Json& d : j["shape"].as_array()) {
    int64_t size = json_int(d, path, name, "shape");
    e.shape.push_back(size);
    // Sizes are < 2^53 each; stop before the product can overflow.
    NEAT_CHECK(size == 0 || numel <= (uint64_t(1) << 62) / uint64_t(size), where, "shape ",
               j["shape"].dump(), " is too large");
    numel *= uint64_t(size);
  }

  const Json& offsets = j["data_offsets"];
  NEAT_CHECK(offsets.is_array() && offsets.size() == 2, where,
             "data_offsets must be [begin, end], got ", offsets.dump());
  e.begin = uint64_t(json_int(offsets[0], path, name, "data_offsets"));
  e.end = uint64_t(json_int(offsets[1], path, name, "data_offsets"));
  NEAT_CHECK(e.begin <= e.end, where, "data_offsets ", offsets.dump(), " end before they begin");
  NEAT_CHECK(e.end <= data_bytes, where, "data_offsets ", offsets.dump(),
             " run past the end of the data section (", data_bytes, " bytes)");
  NEAT_CHECK(numel <= (uint64_t(1) << 62) / e.info->size && e.end - e.begin == numel * e.info->size,
             where, "data_offsets ", offsets.dump(), " span ", e.end - e.begin, " bytes but ",
             e.info->name, " ", shape_str(e.shape), " needs ", numel * e.info->size);
  return e;
}

// The dtype an entry is read as: its FileDTypeInfo's, or the 16-bit float itself when kept.
DType memory_dtype(const FileDTypeInfo& info, HalfFloats halves) {
  if (halves == HalfFloats::AsStored && info.type == FileDType::BF16) return DType::BFloat16;
  if (halves == HalfFloats::AsStored && info.type == FileDType::F16) return DType::Float16;
  return info.dtype;
}

SafetensorsFile parse(uint64_t file_bytes, const ReadAt& read_at, const std::string& path,
                      HalfFloats halves) {
  auto where = "safetensors: " + path + ": ";
  NEAT_CHECK(file_bytes >= 8, where, "the file has ", file_bytes,
             " bytes, too short for the 8-byte header length");
  unsigned char length_bytes[8];
  read_at(0, 8, reinterpret_cast<char*>(length_bytes));
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | length_bytes[i];
  NEAT_CHECK(header_bytes <= kMaxHeaderBytes, where, "header length ", header_bytes,
             " is larger than the ", kMaxHeaderBytes, "-byte limit (not a safetensors file?)");
  NEAT_CHECK(header_bytes <= file_bytes - 8, where, "header length ", header_bytes,
             " runs past the end of the file (", file_bytes, " bytes)");

  std::string text(header_bytes, '\0');
  read_at(8, header_bytes, text.data());
  Json header;
  try {
    header = Json::parse(text);
  } catch (const std::runtime_error& e) {
    NEAT_CHECK(false, where, "bad header: ", e.what());
  }
  NEAT_CHECK(header.is_object(), where, "the header must be a JSON object");

  SafetensorsFile file;
  file.path = path;
  uint64_t data_start = 8 + header_bytes, data_bytes = file_bytes - data_start;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.as_object()) {
    if (name == "__metadata__") {
      NEAT_CHECK(value.is_object(), where, "__metadata__ must be an object of strings");
      for (const auto& [key, v] : value.as_object()) {
        NEAT_CHECK(v.is_string(), where, "__metadata__ value of '", key,
                   "' must be a string, got ", v.dump());
        file.metadata[key] = v.as_string();
      }
      continue;
    }
    entries.push_back(parse_entry(name, value, data_bytes, path));
  }

  // The tensors must tile the data section: in offset order, each begins where the last ended.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    NEAT_CHECK(e.begin >= covered, where, "tensor '", e.name, "' at bytes [", e.begin, ", ",
               e.end, ") overlaps tensor '", entries[i - 1].name, "' (ends at ", covered, ")");
    NEAT_CHECK(e.begin == covered, where, "gap of ", e.begin - covered,
               " unused bytes before tensor '", e.name, "' in the data section");
    covered = e.end;
  }
  NEAT_CHECK(covered == data_bytes, where, "the data section has ", data_bytes,
             " bytes but the tensors cover ", covered);

  std::vector<char> buffer;
  for (const Entry& e : entries) {
    Tensor t(e.shape, memory_dtype(*e.info, halves));
    uint64_t n = e.end - e.begin;
    if (dtype_size(t.dtype()) == e.info->size) {
      read_at(data_start + e.begin, n, static_cast<char*>(t.raw_data()));  // no conversion
    } else {
      buffer.resize(n);
      read_at(data_start + e.begin, n, buffer.data());
      decode(e.info->type, buffer.data(), t.numel(), t.raw_data());
    }
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

// parse, with the bytes of the file that an error quotes (a tensor name, a dtype, a header
// character) escaped for the terminal.
SafetensorsFile parse_printing_errors(uint64_t file_bytes, const ReadAt& read_at,
                                      const std::string& path, HalfFloats halves) {
  try {
    return parse(file_bytes, read_at, path, halves);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(printable(e.what()));
  }
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path, HalfFloats halves) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  NEAT_CHECK(in.is_open(), "safetensors: cannot open '", path, "'");
  std::streamoff end = in.tellg();
  NEAT_CHECK(end >= 0, "safetensors: cannot determine the size of '", path, "'");
  uint64_t file_bytes = uint64_t(end);
  ReadAt read_at = [&](uint64_t offset, uint64_t n, char* dst) {
    in.seekg(std::streamoff(offset));
    in.read(dst, std::streamsize(n));
    NEAT_CHECK(in.good(), "safetensors: ", path, ": read of ", n, " bytes at offset ", offset,
               " failed");
  };
  return parse_printing_errors(file_bytes, read_at, path, halves);
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& path,
                                  HalfFloats halves) {
  ReadAt read_at = [&](uint64_t offset, uint64_t n, char* dst) {
    std::memcpy(dst, bytes.data() + offset, n);
  };
  return parse_printing_errors(bytes.size(), read_at, path, halves);
}

// ---- writer -------------------------------------------------------------------------------

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta.set(key, value);
    header.set("__metadata__", meta);
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    NEAT_CHECK(!name.empty() && name != "__metadata__", "write_safetensors: ", path,
               ": invalid tensor name '", name, "'");
    NEAT_CHECK(!header.contains(name), "write_safetensors: ", path, ": tensor '", name,
               "' given twice");
    NEAT_CHECK(t.defined(), "write_safetensors: ", path, ": tensor '", name, "' is undefined");
    Json shape = Json::array();
    for (int64_t d : t.shape()) shape.push_back(Json(d));
    Json entry = Json::object();
    entry.set("dtype", file_dtype_name(t.dtype()));
    entry.set("shape", shape);
    entry.set("data_offsets", Json::array({Json(int64_t(offset)), Json(int64_t(offset + t.nbytes()))}));
    header.set(name, entry);
    offset += t.nbytes();
  }
  // Python's safetensors pads the header with spaces so the data section starts 8-aligned.
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    NEAT_CHECK(out.is_open(), "write_safetensors: cannot create '", tmp, "'");
    unsigned char length_bytes[8];
    for (int i = 0; i < 8; ++i) length_bytes[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(length_bytes), 8);
    out.write(text.data(), std::streamsize(text.size()));
    for (const auto& [name, t] : tensors) {
      Tensor cpu = t.to(Device::CPU);
      out.write(static_cast<const char*>(cpu.raw_data()), std::streamsize(cpu.nbytes()));
    }
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      NEAT_CHECK(false, "write_safetensors: writing '", tmp, "' failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    NEAT_CHECK(false, "write_safetensors: cannot rename '", tmp, "' to '", path, "'");
  }
}

}  // namespace neat
