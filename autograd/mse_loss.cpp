// Mean squared error, as torch.nn.functional.mse_loss(input, target) (reduction "mean"), one
// node over raw ops:
//   loss = (1/n) sum_i (x_i - t_i)^2          dx_i = dloss * 2 (x_i - t_i) / n
// The target is data (no gradient), as the labels of cross_entropy. A bfloat16 input (and
// target) is widened first: the difference, the squares, the mean and the loss are float32
// (math_dtype), as PyTorch's autocast runs mse_loss in float32, and dx is rounded to bf16 once.
#include "autograd/nn_functional.h"
#include "tensor/elementwise.h"
#include "tensor/reduce.h"

namespace neat {

namespace {
struct MseLossNode : Node {
  Tensor diff;   // x - t in math_dtype(x)
  DType input_dtype = DType::Float32;
  const char* name() const override { return "mse_loss"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
  void release_saved() override { diff = Tensor(); }
};
}  // namespace

Variable mse_loss(const Variable& input, const Tensor& target) {
  NEAT_CHECK(input.defined() && target.defined(), "mse_loss: an input is undefined");
  NEAT_CHECK(input.shape() == target.shape(), "mse_loss: input ", shape_str(input.shape()),
             " and target ", shape_str(target.shape()), " differ (torch would broadcast; ",
             "squeeze the logits of one output first)");
  NEAT_CHECK(input.numel() > 0, "mse_loss: the input ", shape_str(input.shape()), " is empty");
  NEAT_CHECK(target.dtype() == input.dtype(), "mse_loss: target ", dtype_name(target.dtype()),
             " is not the input's ", dtype_name(input.dtype()));
  const DType math = math_dtype(input.dtype());
  auto node = std::make_shared<MseLossNode>();
  node->input_dtype = input.dtype();
  node->diff = sub(input.data().to(math), target.to(math));
  Tensor loss = mean(mul(node->diff, node->diff));
  return record(std::move(loss), std::move(node), {input});
}

// forward: loss = mean((x - t)^2) over n elements
//   dx = dloss * 2 (x - t) / n          (dloss 0-d, broadcast)
std::vector<Tensor> MseLossNode::backward(const Tensor& grad) {
  Tensor dx = mul(diff, grad);
  scale_(dx, 2.0 / double(diff.numel()));
  return {dx.to(input_dtype)};
}

}  // namespace neat
