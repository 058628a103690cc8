// global_norm and clip_to_norm_: checks, then per run of tensors of one dtype one kernel call
// (tensor/cpu/grad_norm.h: tensor after tensor; tensor/cuda/grad_norm.cu: one multi-tensor
// launch). A model's gradients are one run.
#include "tensor/grad_norm.h"

#include "tensor/cpu/grad_norm.h"
#include "tensor/cuda/grad_norm.h"
#include "tensor/dispatch.h"
#include "tensor/elementwise.h"

namespace neat {

namespace {

// fn(begin, end) for each run [begin, end) of consecutive tensors that share a dtype.
template <typename Fn>
void for_each_dtype_run(const std::vector<Tensor>& tensors, Fn&& fn) {
  size_t begin = 0;
  while (begin < tensors.size()) {
    size_t end = begin + 1;
    while (end < tensors.size() && tensors[end].dtype() == tensors[begin].dtype()) ++end;
    fn(begin, end);
    begin = end;
  }
}

// Every tensor defined and on the first one's device.
void check_tensors(const std::vector<Tensor>& tensors, const char* op) {
  NEAT_CHECK(!tensors.empty(), op, ": no tensors");
  for (size_t k = 0; k < tensors.size(); ++k) {
    NEAT_CHECK(tensors[k].defined(), op, ": tensor ", k, " is undefined");
    check_same_device({tensors.front(), tensors[k]}, op);
  }
}

// The run's data pointers and sizes, as the kernels take them.
template <typename T>
struct RunPointers {
  std::vector<T*> data;
  std::vector<int64_t> sizes;
  RunPointers(const std::vector<Tensor>& tensors, size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) {
      data.push_back(tensors[k].data<T>());
      sizes.push_back(tensors[k].numel());
    }
  }
};

}  // namespace

Tensor global_norm(const std::vector<Tensor>& tensors) {
  check_tensors(tensors, "global_norm");
  Tensor total = zeros({}, DType::Float64, tensors.front().device());
  for_each_dtype_run(tensors, [&](size_t begin, size_t end) {
    dispatch_with_bf16({tensors[begin], total}, "global_norm", [&](auto dev, auto zero) {
      using T = decltype(zero);
      const RunPointers<T> run(tensors, begin, end);
      add_squared_norms(dev, run.data.data(), run.sizes.data(), int64_t(end - begin),
                        total.data<double>());
    });
  });
  return sqrt(total);
}

void clip_to_norm_(const std::vector<Tensor>& tensors, const Tensor& norm, double max_norm) {
  check_tensors(tensors, "clip_to_norm_");
  NEAT_CHECK(norm.defined() && norm.dtype() == DType::Float64 && norm.numel() == 1,
             "clip_to_norm_: the norm must be one float64 value, got ",
             norm.defined() ? shape_str(norm.shape()) + " " + dtype_name(norm.dtype()) : "undefined");
  for_each_dtype_run(tensors, [&](size_t begin, size_t end) {
    dispatch_with_bf16({tensors[begin], norm}, "clip_to_norm_", [&](auto dev, auto zero) {
      using T = decltype(zero);
      const RunPointers<T> run(tensors, begin, end);
      scale_to_norm(dev, run.data.data(), run.sizes.data(), int64_t(end - begin),
                    norm.data<double>(), max_norm);
    });
  });
}

}  // namespace neat
