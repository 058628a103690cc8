// Activation recomputation (PyTorch's torch.utils.checkpoint, its reentrant form): y = f(x)
// without keeping f's intermediate tensors for the backward pass.
//
//   Variable y = checkpoint([=](const Variable& in) { return block.forward(in); }, x,
//                           block_trainable_parameters, &dropout_generator);
//   loss(y).backward();   // runs block.forward(x) again, then its backward
//
// The forward runs f under a NoGradGuard: nothing is recorded, nothing saved but x. The
// backward runs f again on x with grad mode on and backpropagates dL/dy through that graph, so
// a block's activations live during its own backward only (a second forward buys the memory).
// The gradients equal those of y = f(x) recorded as usual (tests/test_checkpoint.cpp).
//   params: the leaves f reads that need gradients (its trainable parameters). They are inputs
//     of the node, so the engine receives their gradients like any other and the node is
//     recorded even when x needs no gradient (the first block after a frozen embedding).
//   rng: a generator f draws from (dropout), put back at the forward's state for the
//     recomputation and then restored, so both passes draw the same masks (null: none).
// f is kept until the backward: it must capture by value what it reads (tensors are handles).
#pragma once
#include <functional>
#include <vector>

#include "autograd/variable.h"
#include "tensor/random.h"

namespace neat {

Variable checkpoint(const std::function<Variable(const Variable&)>& f, const Variable& x,
                    const std::vector<Variable>& params, Generator* rng = nullptr);

}  // namespace neat
