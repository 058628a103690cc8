// to_dtype: the node and its backward. It saves nothing: the backward needs only x's dtype.
#include "autograd/cast.h"

namespace neat {

namespace {
struct CastNode : Node {
  DType input_dtype = DType::Float32;
  const char* name() const override { return "to_dtype"; }
  std::vector<Tensor> backward(const Tensor& dy) override;
};
}  // namespace

Variable to_dtype(const Variable& x, DType dtype) {
  NEAT_CHECK(x.defined(), "to_dtype: the input is undefined");
  NEAT_CHECK(is_floating(x.dtype()) && is_floating(dtype), "to_dtype: ", dtype_name(x.dtype()),
             " ", shape_str(x.shape()), " to ", dtype_name(dtype),
             ": only floating dtypes carry gradients");
  if (x.dtype() == dtype) return x;
  auto node = std::make_shared<CastNode>();
  node->input_dtype = x.dtype();
  return record(x.data().to(dtype), std::move(node), {x});
}

// y = x as dtype (elementwise, y_i = round(x_i)):  dx = dy as x's dtype. The rounding's
// derivative is taken as 1, as PyTorch's .to() does: a straight-through cast, so a float32
// master receives the bf16 forward's gradient, widened exactly.
std::vector<Tensor> CastNode::backward(const Tensor& dy) { return {dy.to(input_dtype)}; }

Variable in_dtype_of(const Variable& param, const Variable& x) {
  if (!param.defined() || param.dtype() == x.dtype()) return param;
  return to_dtype(param, x.dtype());
}

}  // namespace neat
