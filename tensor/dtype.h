// Element types and devices a Tensor can have.
#pragma once
#include <cstddef>
#include <cstdint>

namespace neat {

// Float32 everywhere; Float64 on CPU for gradient checks; Int64 for labels and indices;
// BFloat16 and Float16 (tensor/half.h) for storage: converted with to(), read and written by
// safetensors, multiplied by the bf16 GEMM (tensor/cpu/gemm.h). An op without a kernel for them
// says so by name (tensor/dispatch.h).
enum class DType { Float32, Float64, Int64, BFloat16, Float16 };
enum class Device { CPU, CUDA };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64:
    case DType::Int64: return 8;
    case DType::BFloat16:
    case DType::Float16: return 2;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
  }
  return "?";
}
inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }
inline bool is_floating(DType t) { return t != DType::Int64; }
// The dtype a kernel computes in, and keeps its statistics in (layer norm's mean and rstd, a
// loss): Float32 for the 16-bit floats, the dtype itself otherwise (math_t<T>, tensor/half.h).
inline DType math_dtype(DType t) {
  return t == DType::BFloat16 || t == DType::Float16 ? DType::Float32 : t;
}

// The C++ element type of a DType, checked at compile time: dtype_of<float>() == Float32.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
struct bfloat16;  // tensor/half.h
struct float16;
template <> constexpr DType dtype_of<bfloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<float16>() { return DType::Float16; }

}  // namespace neat
