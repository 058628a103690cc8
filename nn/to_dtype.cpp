#include "nn/to_dtype.h"

namespace neat {

void to_dtype(Module& module, DType dtype) {
  NEAT_CHECK(is_floating(dtype), "to_dtype: parameters must stay floating, got ",
             dtype_name(dtype));
  for (auto& [name, p] : module.named_parameters()) {
    NEAT_CHECK(p.is_leaf(), "to_dtype: parameter '", name, "' is not a leaf");
    p.set_data(p.data().to(dtype));
    p.zero_grad();  // a gradient of the old dtype would not match any more
  }
}

}  // namespace neat
