// Mean squared error, as torch.nn.functional.mse_loss(input, target) (reduction "mean"),
// composed of elementwise ops and a mean, so its backward is theirs:
//   loss = (1/n) sum_i (x_i - t_i)^2          dx_i = dloss * 2 (x_i - t_i) / n
// The target is data (no gradient), as the labels of cross_entropy.
#include "autograd/elementwise.h"
#include "autograd/nn_functional.h"
#include "autograd/reduce.h"

namespace neat {

Variable mse_loss(const Variable& input, const Tensor& target) {
  NEAT_CHECK(input.defined() && target.defined(), "mse_loss: an input is undefined");
  NEAT_CHECK(input.shape() == target.shape(), "mse_loss: input ", shape_str(input.shape()),
             " and target ", shape_str(target.shape()), " differ (torch would broadcast; ",
             "squeeze the logits of one output first)");
  NEAT_CHECK(input.numel() > 0, "mse_loss: the input ", shape_str(input.shape()), " is empty");
  NEAT_CHECK(target.dtype() == input.dtype(), "mse_loss: target ", dtype_name(target.dtype()),
             " is not the input's ", dtype_name(input.dtype()));
  const Variable diff = sub(input, Variable(target));
  return mean(mul(diff, diff));
}

}  // namespace neat
