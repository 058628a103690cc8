// safetensors: the weight file format of Hugging Face, read and written by our own small,
// bounds-checked code. Layout of a file:
//
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  JSON: {"__metadata__": {"k": "v", ...},              (optional, strings only)
//                     "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                     ...}
//   [rest]     the data section: raw little-endian tensors; offsets are relative to its start
//
//   write_safetensors("w.safetensors", {{"weight", w}, {"labels", y}}, {{"method", "neat"}});
//   SafetensorsFile f = read_safetensors("w.safetensors");
//   f.get("weight");  f.metadata.at("method") == "neat";
//
// Read: F32, F64, F16, BF16 (both widened to float32 by default; kept as float16 / bfloat16, the
// bytes as they are, with HalfFloats::AsStored), I64, I32 (widened to int64).
// Write: our dtypes (float32 -> F32, float64 -> F64, int64 -> I64, bfloat16 -> BF16,
// float16 -> F16).
// A truncated or malformed file is an error naming the file, the tensor and the problem.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace neat {

struct SafetensorsFile {
  std::string path;                                    // for error messages
  std::vector<std::pair<std::string, Tensor>> tensors; // in data-section order
  std::map<std::string, std::string> metadata;         // "__metadata__", empty when absent

  bool contains(const std::string& name) const;
  // The tensor of that name; error naming the file and the tensor when absent.
  const Tensor& get(const std::string& name) const;
  // Name -> tensor (shares storage with `tensors`).
  std::map<std::string, Tensor> to_map() const;
};

// What reading does with F16 and BF16 tensors: widen them to float32 (the default: what a float32
// model loads), or keep the file's dtype (DType::Float16 / BFloat16, no conversion, half the
// memory), as a bf16 model wants:  read_safetensors(path, HalfFloats::AsStored).
enum class HalfFloats { ToFloat32, AsStored };

SafetensorsFile read_safetensors(const std::string& path,
                                 HalfFloats halves = HalfFloats::ToFloat32);
// Parses a whole file already in memory; `path` only names it in errors.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& path,
                                  HalfFloats halves = HalfFloats::ToFloat32);

// Writes the tensors in the given order (CPU tensors; names unique and not "__metadata__").
// Atomic: writes "<path>.tmp.<pid>" and renames it over `path`.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace neat
